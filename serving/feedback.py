"""POST /feedback's work: attempt outcomes and corrections into files `tierwise train` ingests.

Three append-only streams next to `decisions.jsonl` (TIERWISE_LOG_DIR):

- `outcomes.jsonl`: for each reported outcome, the request's decision record (schema v1) with
  its `attempts`, `escalations`, `safety_flags` (the guards' and the caller's) and `labels` filled
  in. It is validated as a `LogRecord` before it is queued, so it is always valid training input.
- `corrections.jsonl`: `CorrectionEvent`s as sent, the stream `--corrections` joins on request_id.
- `unmatched-outcomes.jsonl`: outcomes whose decision is no longer in memory (older than the
  last TIERWISE_FEEDBACK_WINDOW decisions, or from before a restart), kept with their request_id
  so they can be joined with `decisions.jsonl` later; nothing reported is thrown away.

Train on `outcomes.jsonl` + `corrections.jsonl`. `decisions.jsonl` holds every decision (the
audit trail, and the denominator for shadow/A-B analysis); it is valid schema v1 too, but do not
pass it together with `outcomes.jsonl`: the same request_id would appear twice and ingestion keeps
only the first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import orjson
from pydantic import ValidationError

from classifier.logschema import LogRecord
from serving.decision_log import DecisionLog, JsonlWriter, rfc3339
from serving.errors import ApiError
from serving.metrics import Metrics
from serving.schemas import FeedbackRequest, OutcomeIn


class FeedbackRecorder:
    """Joins outcomes to recent decisions and queues the three feedback streams."""

    OUTCOMES = "outcomes.jsonl"
    CORRECTIONS = "corrections.jsonl"
    UNMATCHED = "unmatched-outcomes.jsonl"

    def __init__(
        self,
        decisions: DecisionLog,
        metrics: Metrics,
        *,
        max_queue: int = 100_000,
        rotate_bytes: int = 0,
    ) -> None:
        self.decisions = decisions
        self.metrics = metrics
        folder = decisions.dir

        def writer(name: str) -> JsonlWriter:
            return JsonlWriter(folder / name, max_queue=max_queue, rotate_bytes=rotate_bytes)

        self.outcomes = writer(self.OUTCOMES)
        self.corrections = writer(self.CORRECTIONS)
        self.unmatched = writer(self.UNMATCHED)
        self._reported: OrderedDict[str, None] = OrderedDict()
        self._window = decisions.recent.max_entries
        self._lock = threading.Lock()

    def writers(self) -> dict[str, JsonlWriter]:
        return {"outcomes": self.outcomes, "corrections": self.corrections,
                "unmatched": self.unmatched}  # fmt: skip

    def close(self) -> None:
        for w in self.writers().values():
            w.close()

    def record(self, request: FeedbackRequest) -> dict[str, Any]:
        """Validate and join everything first, then queue: a 4xx writes nothing."""
        now = rfc3339(time.time())
        with self._lock:
            self._refuse_duplicates(request.outcomes)
            joined = [(o, self._joined(o, now)) for o in request.outcomes]
            for outcome, _ in joined:
                self._reported[outcome.request_id] = None
            while len(self._reported) > self._window:
                self._reported.popitem(last=False)
        results = []
        for outcome, record in joined:
            if record is None:
                payload = outcome.model_dump(mode="json", by_alias=True)
                self.unmatched.write({"received_at": now, "outcome": payload})
                status = "unmatched"
            else:
                self.outcomes.write(record)
                status = "recorded"
            self.metrics.feedback_outcomes.labels(status).inc()
            for escalation in outcome.escalations:
                self.metrics.escalations.labels(escalation.from_tier, escalation.to).inc()
            results.append({"request_id": outcome.request_id, "status": status})
        corrections = []
        for event in request.corrections:
            self.corrections.write(event.model_dump(mode="json"))
            self.metrics.corrections.labels(event.kind).inc()
            known = self.decisions.recent.get(event.request_id) is not None
            corrections.append(
                {"request_id": event.request_id, "status": "recorded", "known": known}
            )
        return {"outcomes": results, "corrections": corrections}

    def _refuse_duplicates(self, outcomes: list[OutcomeIn]) -> None:
        seen: set[str] = set()
        again = []
        for outcome in outcomes:
            rid = outcome.request_id
            if rid in seen or rid in self._reported:
                again.append(rid)
            seen.add(rid)
        if again:
            raise ApiError(
                409,
                "duplicate_feedback",
                f"outcomes for request_id {sorted(set(again))} were already reported; send all "
                "attempts of a request in one outcome (nothing in this call was recorded)",
            )

    def _joined(self, outcome: OutcomeIn, now: str) -> dict[str, Any] | None:
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
            "meta": {**base["meta"], "feedback_received_at": now},
        }
        try:
            LogRecord.model_validate_json(orjson.dumps(record), strict=True)
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
