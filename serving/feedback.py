"""POST /feedback's work: who may report what, once, at a bounded rate, and only if it is kept.

Streams next to `decisions.jsonl` (TIERWISE_LOG_DIR):

- `outcomes.jsonl`: a `client`'s outcome joined to its decision record (schema v1, validated
  as a `LogRecord` before it is queued), `meta.feedback_source` naming the caller.
- `reviewed-outcomes.jsonl`: the same from a `reviewer`, whose labels are a human review. Pass
  it first to `tierwise train --logs`, so that a reviewed record wins over a client's.
- `corrections.jsonl`: `CorrectionEvent`s as sent, the stream `--corrections` joins on request_id.
- `unmatched-outcomes.jsonl`: outcomes whose decision is no longer in memory, with their source.

Each caller is one identity (its token). An outcome is idempotent per (request_id, caller): the
same outcome again answers `duplicate` and writes nothing, a different one is 409. Another
caller's outcome for the same request is its own record. A call is accepted only when every log
it needs is writing and has room: otherwise 503 and nothing is queued, so "recorded" means queued
to a healthy writer (written within one pass of its thread; no fsync).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from limits import parse as parse_rate
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import ValidationError

from classifier.logschema import CORRECTION_WINDOW_S, LogRecord
from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy, Tier
from serving.decision_log import DecisionLog, rfc3339
from serving.errors import ApiError
from serving.jsonl import JsonlWriter
from serving.metrics import Metrics
from serving.schemas import FeedbackRequest, OutcomeIn
from serving.settings import FeedbackCaller

HUMAN_REVIEW = "human_review"


class FeedbackRecorder:
    """Checks, joins and queues feedback; a refusal raises ApiError before anything is queued."""

    OUTCOMES = "outcomes.jsonl"
    REVIEWED = "reviewed-outcomes.jsonl"
    CORRECTIONS = "corrections.jsonl"
    UNMATCHED = "unmatched-outcomes.jsonl"

    def __init__(
        self,
        decisions: DecisionLog,
        metrics: Metrics,
        *,
        callers: Mapping[str, FeedbackCaller],
        rate_limit: str = "6000/minute",
        max_queue_bytes: int = 64 << 20,
        rotate_bytes: int = 0,
        on_escalation: Callable[[str, Tier], None] | None = None,
        feature_label: Callable[[str | None], str] = lambda _: "unknown",
        taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    ) -> None:
        self.taxonomy = taxonomy  # the contracts': what tiers and labels feedback may name
        self.decisions = decisions
        self.metrics = metrics
        # Told (tier of the first attempt, whether it failed) per outcome: the drift monitor.
        self.on_outcome: Callable[[str, bool], None] | None = None
        self.callers = dict(callers)
        self.on_escalation = on_escalation  # conversation id, highest tier it escalated to
        self.feature_label = feature_label
        folder = decisions.dir

        def writer(name: str) -> JsonlWriter:
            w = JsonlWriter(
                folder / name, max_queue_bytes=max_queue_bytes, rotate_bytes=rotate_bytes
            )
            w.start()
            return w

        self.outcomes = writer(self.OUTCOMES)
        self.reviewed = writer(self.REVIEWED)
        self.corrections = writer(self.CORRECTIONS)
        self.unmatched = writer(self.UNMATCHED)
        self._rate = parse_rate(rate_limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._seen: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self._window = decisions.recent.max_entries
        self._lock = threading.Lock()

    def writers(self) -> dict[str, JsonlWriter]:
        return {"outcomes": self.outcomes, "reviewed": self.reviewed,
                "corrections": self.corrections, "unmatched": self.unmatched}  # fmt: skip

    def close(self) -> None:
        for w in self.writers().values():
            w.close()

    def check_rate(self, caller: str, entries: int) -> None:
        """429 when `caller` has sent more entries than the limit within its window."""
        cost = max(1, entries)
        if cost > self._rate.amount:
            raise ApiError(
                413,
                "batch_too_large",
                f"{entries} entries in one call exceed the feedback rate limit of {self._rate} "
                "(TIERWISE_FEEDBACK_RATE_LIMIT); split them over several calls",
            )
        if self._limiter.hit(self._rate, caller, cost=cost):
            return
        reset = self._limiter.get_window_stats(self._rate, caller).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise ApiError(
            429,
            "rate_limited",
            f"caller {caller!r} is over its feedback rate of {self._rate} entries "
            f"(TIERWISE_FEEDBACK_RATE_LIMIT); retry in {wait} s; nothing in this call was "
            "recorded",
            headers={"Retry-After": str(wait)},
        )

    def record(self, request: FeedbackRequest, caller: str) -> dict[str, Any]:
        """Check permissions, duplicates and log health, then queue; a refusal writes nothing."""
        role = self.callers[caller].role
        outcomes = [self._permitted(o, caller, role, i) for i, o in enumerate(request.outcomes)]
        now = rfc3339(time.time())
        with self._lock:
            planned = [self._plan_outcome(o, caller, role, now) for o in self._once(outcomes)]
            in_call: set[tuple[str, ...]] = set()
            for event in request.corrections:
                body = event.model_dump(mode="json")
                key = ("correction", event.request_id, caller, body["kind"], body["ts"])
                if key in self._seen or key in in_call:
                    planned.append(_Entry(event.request_id, "duplicate"))
                else:
                    in_call.add(key)
                    line = orjson.dumps(body) + b"\n"
                    planned.append(
                        _Entry(event.request_id, "recorded", key, "", self.corrections, line)
                    )
            self._check_writers(planned)
            results = [self._queue(entry) for entry in planned]
        outcome_results, correction_results = results[: len(outcomes)], results[len(outcomes) :]
        for outcome, result in zip(outcomes, outcome_results, strict=True):
            self.metrics.feedback_outcomes.labels(result["status"]).inc()
            if result["status"] in ("recorded", "unmatched"):
                if self.on_outcome is not None:
                    self.on_outcome(outcome.attempts[0].tier, not outcome.attempts[0].ok)
                self._observe(outcome, self.decisions.recent.get(outcome.request_id))
        for event, result in zip(request.corrections, correction_results, strict=True):
            base = self.decisions.recent.get(event.request_id)
            if result["status"] == "recorded":
                self.metrics.corrections.labels(event.kind, _within(event.ts, base)).inc()
            result["known"] = base is not None
        self._raise_if_lost(outcome_results, correction_results)
        return {"outcomes": outcome_results, "corrections": correction_results}

    def _observe(self, outcome: OutcomeIn, base: dict[str, Any] | None) -> None:
        """Metrics of one kept outcome, and its conversation's floor when it escalated."""
        metrics = self.metrics
        feature = self.feature_label(base["feature"] if base is not None else None)
        for attempt in outcome.attempts:
            metrics.attempt_latency.labels(attempt.tier, feature).observe(attempt.latency_ms / 1e3)
        if not outcome.escalations:
            return
        for escalation in outcome.escalations:
            cause = metrics.cause_label(escalation.cause)
            metrics.escalations.labels(escalation.from_tier, escalation.to, cause).inc()
        conversation = base["meta"].get("conversation_id") if base is not None else None
        if conversation is not None and self.on_escalation is not None:
            top = max((e.to for e in outcome.escalations), key=self.taxonomy.tier_rank.__getitem__)
            self.on_escalation(conversation, top)

    def _once(self, outcomes: list[OutcomeIn]) -> list[OutcomeIn]:
        ids = [o.request_id for o in outcomes]
        again = sorted({rid for rid in ids if ids.count(rid) > 1})
        if again:
            raise ApiError(
                409,
                "duplicate_feedback",
                f"request_id {again} appear more than once in this call; send all attempts of a "
                "request in one outcome (nothing in this call was recorded)",
            )
        return outcomes

    def _plan_outcome(self, outcome: OutcomeIn, caller: str, role: str, now: str) -> _Entry:
        rid = outcome.request_id
        payload = outcome.model_dump(mode="json", by_alias=True)
        digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
        key = ("outcome", rid, caller)
        known = self._seen.get(key)
        if known == digest:
            return _Entry(rid, "duplicate")
        if known is not None:
            raise ApiError(
                409,
                "conflicting_feedback",
                f"caller {caller!r} already reported a different outcome for request_id {rid!r}; "
                "an outcome is final (an exact repeat answers `duplicate`); nothing in this call "
                "was recorded",
            )
        record = self._joined(outcome, now, caller, role)
        if record is None:
            line = orjson.dumps({"received_at": now, "source": caller, "outcome": payload})
            return _Entry(rid, "unmatched", key, digest, self.unmatched, line + b"\n")
        target = self.reviewed if role == "reviewer" else self.outcomes
        return _Entry(rid, "recorded", key, digest, target, orjson.dumps(record) + b"\n")

    # steps ------------------------------------------------------------------------------------

    def _permitted(self, outcome: OutcomeIn, caller: str, role: str, index: int) -> OutcomeIn:
        labels = outcome.labels
        if labels is None:
            return outcome
        if role != "reviewer":
            raise ApiError(
                403,
                "labels_not_allowed",
                f"outcomes.{index}.labels: caller {caller!r} has role {role!r}, which may send "
                "outcomes and corrections but not labels; labels come from a caller with role "
                "`reviewer` (TIERWISE_FEEDBACK_CALLERS); nothing in this call was recorded",
            )
        if labels.source not in (None, HUMAN_REVIEW):
            raise ApiError(
                403,
                "labels_not_allowed",
                f"outcomes.{index}.labels.source is {labels.source!r}; a reviewer's labels are a "
                f"human review: send source {HUMAN_REVIEW!r} or leave it out",
            )
        if labels.source is None:
            return outcome.model_copy(
                update={"labels": labels.model_copy(update={"source": HUMAN_REVIEW})}
            )
        return outcome

    def _check_writers(self, planned: list[_Entry]) -> None:
        need: dict[str, int] = {}
        writers: dict[str, JsonlWriter] = {}
        for entry in planned:
            if entry.writer is not None:
                name = entry.writer.path.name
                need[name] = need.get(name, 0) + len(entry.line)
                writers[name] = entry.writer
        for name, nbytes in need.items():
            writer = writers[name]
            if not writer.ok:
                reason = f"the log {name} cannot be written: {writer.error}"
            elif not writer.has_room(nbytes):
                reason = f"the queue of {name} is full ({writer.queued_bytes()} bytes waiting)"
            else:
                continue
            raise ApiError(
                503,
                "log_unavailable",
                f"{reason}; nothing in this call was recorded, retry later",
                headers={"Retry-After": "5"},
            )

    def _queue(self, entry: _Entry) -> dict[str, Any]:
        status = entry.status
        if entry.writer is not None:
            if entry.writer.write_line(entry.line):
                self._remember(entry.key, entry.digest)
            else:
                status = "not_kept"
        return {"request_id": entry.request_id, "status": status}

    def _remember(self, key: tuple[str, ...], digest: str) -> None:
        self._seen[key] = digest
        while len(self._seen) > self._window:
            self._seen.popitem(last=False)

    def _raise_if_lost(self, outcomes: list[Any], corrections: list[Any]) -> None:
        lost = [
            {"loc": f"{kind}.{i}", "msg": f"{r['request_id']}: not kept", "type": "not_kept"}
            for kind, results in (("outcomes", outcomes), ("corrections", corrections))
            for i, r in enumerate(results)
            if r["status"] == "not_kept"
        ]
        if lost:
            raise ApiError(
                503,
                "not_kept",
                f"{len(lost)} entries could not be queued (a log filled up meanwhile); the others "
                "were recorded; resend the call: those answer `duplicate`",
                errors=lost,
                headers={"Retry-After": "5"},
            )

    def _joined(
        self, outcome: OutcomeIn, now: str, caller: str, role: str
    ) -> dict[str, Any] | None:
        base = self.decisions.recent.get(outcome.request_id)
        if base is None:
            return None
        flags = list(dict.fromkeys([*base["safety_flags"], *outcome.safety_flags]))
        record = {
            **base,
            "attempts": [a.model_dump(mode="json") for a in outcome.attempts],
            "escalations": [e.model_dump(mode="json", by_alias=True) for e in outcome.escalations],
            "safety_flags": flags,
            "labels": outcome.labels.model_dump(mode="json") if outcome.labels else None,
            "meta": {
                **base["meta"],
                "feedback_received_at": now,
                "feedback_source": caller,
                "feedback_role": role,
            },  # fmt: skip
        }
        try:
            LogRecord.model_validate_json(
                orjson.dumps(record), strict=True, context={"taxonomy": self.taxonomy}
            )
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ApiError(
                422,
                "invalid_outcome",
                f"outcome for {outcome.request_id!r} does not make a valid schema-v1 record "
                f"({where}: {first['msg']}); nothing in this call was recorded",
            ) from exc
        return record


def _within(ts: datetime, base: dict[str, Any] | None) -> str:
    """Whether a correction came within 300 s of its decision (it then counts as a failure
    of the served tier in training): `true`, `false`, or `unknown` (decision not in memory)."""
    if base is None:
        return "unknown"
    delay = (ts - datetime.fromisoformat(base["ts"])).total_seconds()
    return "true" if 0.0 <= delay <= CORRECTION_WINDOW_S else "false"


@dataclass(frozen=True, slots=True)
class _Entry:
    """One feedback entry, planned: what to answer and, unless a duplicate, what to queue where."""

    request_id: str
    status: str
    key: tuple[str, ...] = ()
    digest: str = ""
    writer: JsonlWriter | None = None
    line: bytes = b""
