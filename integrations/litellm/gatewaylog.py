"""The gateway's traffic as tierwise training logs: one schema-v1 record per routed request.

`TierwiseLogger` feeds each LiteLLM call (success or failure) in; the application reports its own
checks and its users' corrections against the same request id:

    log = GatewayLog("logs/gateway", groups={"nano": "fast", "mini": "mid", "full": "best"})
    ...                                   # routed calls arrive through the callback
    log.report_checks("req-42", schema_ok=False, response=response)  # it failed the schema
    log.report_correction("req-42", "edit")             # the user edited it (corrections.jsonl)

A request's record is written `hold_s` seconds after its last event (a background thread), at
`finish(request_id)`, or at `close()`, so that retries, fallbacks, the application's checks and
its own escalations (another call with the same request id) all land in one record. Records are
validated against `classifier.logschema.LogRecord` before writing; one that does not validate,
or a call for a request whose record is already written, goes to `rejected.jsonl` with the
reason: nothing is dropped silently. Files: `logs.jsonl`, `corrections.jsonl`, `rejected.jsonl`,
which `tierwise ingest logs.jsonl --corrections corrections.jsonl` reads.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from classifier.logschema import CorrectionEvent, LogRecord
from classifier.messages import DEFAULT_CONTEXT_CHARS
from classifier.taxonomy import TIERS, Tier
from integrations.litellm.records import (
    NOTE_KEY,
    OpenRequest,
    build_record,
    call_from_kwargs,
    meta_value,
    metadata_of,
    prompt_of,
    route_of,
)

log = logging.getLogger(__name__)
_FORGET_INFLIGHT_S = 600.0


class GatewayLog:
    """Open requests in memory, closed ones appended to JSONL files. Thread-safe."""

    def __init__(
        self,
        log_dir: Path | str,
        *,
        groups: Mapping[Tier, str],
        request_id_key: str = "request_id",
        feature_key: str = "feature",
        prompt_id_key: str = "prompt_id",
        hold_s: float = 30.0,
        max_context_chars: int = DEFAULT_CONTEXT_CHARS,
        remember_written: int = 100_000,
    ) -> None:
        missing = [tier for tier in TIERS if tier not in groups]
        if missing:
            raise ValueError(
                f"groups needs a LiteLLM model group for every tier; missing {missing}"
            )
        if hold_s < 0:
            raise ValueError("hold_s must be >= 0")
        self.dir = Path(log_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tier_of = {group: tier for tier, group in groups.items()}
        self.request_id_key = request_id_key
        self.feature_key = feature_key
        self.prompt_id_key = prompt_id_key
        self.hold_s = hold_s
        self.max_context_chars = max_context_chars
        self.stats = {"written": 0, "rejected": 0, "refused": 0, "corrections": 0,
                      "late_checks": 0, "unmapped_calls": 0, "no_text": 0}  # fmt: skip
        self._open: dict[str, tuple[OpenRequest, float]] = {}
        self._written: OrderedDict[str, None] = OrderedDict()
        self._pending: OrderedDict[str, tuple[bool, bool]] = OrderedDict()
        self._remember = remember_written
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._sweep, name="tierwise-gateway-log", daemon=True
        )
        self._thread.start()
        self._inflight: dict[str, float] = {}  # calls the callback saw start, not yet reported
        atexit.register(self.close)  # open records are written when the process ends

    # -- events from the callback ------------------------------------------------------------

    def observe(self, kwargs: Mapping[str, Any], ok: bool) -> None:
        """One finished LiteLLM call (the callback's kwargs); joins it to its request."""
        metadata = metadata_of(kwargs)
        call, group = call_from_kwargs(kwargs, ok, self.tier_of)
        call_id = kwargs.get("litellm_call_id")
        trace_id = kwargs.get("litellm_trace_id")
        request_id = str(
            meta_value(metadata, self.request_id_key) or trace_id or kwargs.get("litellm_call_id")
        )
        with self._lock:
            self._inflight.pop(str(call_id), None)
            if request_id in self._written:
                self._reject_locked(
                    {"request_id": request_id, "call": _call_summary(kwargs, ok, group)},
                    f"a call arrived after the record of {request_id!r} was written; raise "
                    "hold_s above the time between a request's first and last call",
                )
                return
            entry = self._open.get(request_id)
            if entry is None and call is None:
                self.stats["unmapped_calls"] += 1
                return
            if entry is None:
                assert call is not None
                note = metadata.get(NOTE_KEY)
                feature = meta_value(metadata, self.feature_key)
                req = OpenRequest(
                    request_id=request_id,
                    feature=feature or "default",
                    messages=kwargs.get("messages"),
                    route=route_of(metadata, call),
                    note=dict(note) if isinstance(note, Mapping) else None,
                    trace_id=trace_id,
                    prompt_id=prompt_of(metadata, kwargs, self.prompt_id_key),
                )
            else:
                req = entry[0]
            if call is None:
                self.stats["unmapped_calls"] += 1
                req.unmapped_groups.append(group)
            else:
                req.calls.append(call)
                checks = self._pending.pop(str(call.call_id), None) or self._pending.pop(
                    "request:" + request_id, None
                )
                if checks is not None:  # reported before LiteLLM delivered this call
                    call.schema_ok, call.compliance_ok = checks
                    req.checks_reported = True
            self._open[request_id] = (req, time.monotonic())

    def started(self, call_id: str | None) -> None:
        """A model call is about to run (the callback's pre-call hook); `aclose` waits for it."""
        if call_id:
            with self._lock:
                self._inflight[call_id] = time.monotonic()

    def refused(self) -> None:
        """A request the failure policy refused (fail closed): no model was called, no record."""
        with self._lock:
            self.stats["refused"] += 1

    # -- what the application reports --------------------------------------------------------

    def report_checks(
        self,
        request_id: str,
        *,
        schema_ok: bool = True,
        compliance_ok: bool = True,
        response: Any = None,
    ) -> bool:
        """The application's checks of an answer: the call that produced `response` (its
        `litellm_call_id`), else the request's latest call.

        LiteLLM delivers callbacks after the call returns, so a report may come first: it waits
        for its call (or, without `response`, for the request's first call). False when the
        request's record is already written (counted in `stats["late_checks"]`).
        """
        hidden = getattr(response, "_hidden_params", None) or {}
        call_id = hidden.get("litellm_call_id") if isinstance(hidden, dict) else None
        checks = (bool(schema_ok), bool(compliance_ok))
        with self._lock:
            if request_id in self._written:
                self.stats["late_checks"] += 1
                return False
            entry = self._open.get(request_id)
            if entry is not None and entry[0].calls:
                req = entry[0]
                calls = [c for c in req.calls if call_id is None or c.call_id == call_id]
                if calls:
                    target = max(calls, key=lambda c: c.start)
                    target.schema_ok, target.compliance_ok = checks
                    req.checks_reported = True
                    self._open[request_id] = (req, time.monotonic())
                    return True
            self._pending[call_id or "request:" + request_id] = checks
            while len(self._pending) > self._remember:
                self._pending.popitem(last=False)
            return True

    def report_correction(self, request_id: str, kind: str, ts: datetime | None = None) -> None:
        """A user's correction (`edit`, `regenerate`, `thumbs_down`, `manual_escalation`)."""
        event = CorrectionEvent.model_validate(
            {"request_id": request_id, "ts": ts or datetime.now(UTC), "kind": kind}
        )
        line = orjson.dumps(event.model_dump(mode="json"))
        with self._lock:
            self._append("corrections.jsonl", line)
            self.stats["corrections"] += 1

    def finish(self, request_id: str) -> bool:
        """Write the request's record now (the application knows it is done)."""
        with self._lock:
            entry = self._open.pop(request_id, None)
            if entry is None:
                return False
            self._write_locked(entry[0])
            return True

    def flush(self, *, force: bool = False) -> int:
        """Write every record idle for `hold_s` (every open record when `force`); the count."""
        now = time.monotonic()
        with self._lock:
            for call_id in [c for c, t in self._inflight.items() if now - t > _FORGET_INFLIGHT_S]:
                del self._inflight[call_id]  # a call that never reported (its process crashed)
            due = [rid for rid, (_, t) in self._open.items() if force or now - t >= self.hold_s]
            for request_id in due:
                self._write_locked(self._open.pop(request_id)[0])
            return len(due)

    def close(self) -> None:
        """Stop the background writer and write every open record (idempotent)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.flush(force=True)

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """`close()` after the calls already started have reported back: LiteLLM delivers a
        call's callback after the call returns, so closing at once could miss the last ones."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._inflight and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if self._inflight:
            log.warning("tierwise gateway log: %d calls never reported back", len(self._inflight))
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _sweep(self) -> None:
        interval = min(1.0, max(0.05, self.hold_s / 4))
        while not self._stop.wait(interval):
            try:
                self.flush()
            except Exception:  # keep the writer alive; the next sweep retries
                log.exception("tierwise gateway log: flush failed")

    def _append(self, name: str, line: bytes) -> None:
        with (self.dir / name).open("ab") as handle:
            handle.write(line + b"\n")

    def _reject_locked(self, payload: dict[str, Any], reason: str) -> None:
        log.warning("tierwise gateway log: %s", reason)
        self._append("rejected.jsonl", orjson.dumps({"reason": reason, **payload}, default=str))
        self.stats["rejected"] += 1

    def _write_locked(self, req: OpenRequest) -> None:
        record = build_record(req, self.max_context_chars)
        if record is None:
            self.stats["no_text"] += 1
            return
        try:
            LogRecord.model_validate(record)
        except ValidationError as exc:
            self._reject_locked({"record": record}, f"record does not fit schema v1: {exc}")
            return
        self._append("logs.jsonl", orjson.dumps(record))
        self.stats["written"] += 1
        self._written[req.request_id] = None
        while len(self._written) > self._remember:
            self._written.popitem(last=False)


def _call_summary(kwargs: Mapping[str, Any], ok: bool, group: str) -> dict[str, Any]:
    slo = kwargs.get("standard_logging_object") or {}
    return {
        "ok": ok,
        "model_group": group,
        "model": slo.get("model"),
        "litellm_call_id": kwargs.get("litellm_call_id"),
        "error": slo.get("error_str"),
    }
