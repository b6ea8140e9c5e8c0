"""The decision log in schema v1, and the in-memory window that feedback joins against.

A request builds a small dict and hands it to a `serving.jsonl.JsonlWriter` (serialise and queue,
no I/O); the writer's own thread writes it. A full queue drops the record and counts it
(`tierwise_log_records_dropped_total`): a slow disk must never slow classification. `close()`
drains and flushes (the app calls it on shutdown).

Every record of `decisions.jsonl` is a `classifier.logschema.LogRecord` (schema v1) with
`attempts: []`; serving/feedback.py writes the same record with its attempts to
`outcomes.jsonl` when the caller reports them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from classifier.logschema import MAX_TEXT_CHARS, SCHEMA_VERSION
from classifier.routing import RouteDecision
from serving.jsonl import JsonlWriter

__all__ = ["DecisionLog", "JsonlWriter", "RecentDecisions", "decision_record", "rfc3339"]


class RecentDecisions:
    """The last N decision records by request_id, so feedback can be joined without a disk read.

    Bounded by count and by total text characters (one text may be 200,000 characters). Each
    record is kept as its serialised JSON line, one bytes object: the garbage collector does
    not track bytes, whereas a record kept as dicts and lists added ~9 tracked objects, and the
    50,000 of a full window made every full collection traverse ~450,000 more objects
    (docs/serving.md, "Garbage collection"). A lookup (feedback only) parses the line again.
    """

    def __init__(self, max_entries: int, max_chars: int = 64_000_000) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._data: OrderedDict[str, tuple[bytes, int]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._data

    def put(self, record: dict[str, Any]) -> None:
        self.put_line(record["request_id"], orjson.dumps(record), len(record["text"]))

    def put_line(self, request_id: str, line: bytes, chars: int) -> None:
        """Keep an already serialised record; `chars` is its text's length (the bound)."""
        with self._lock:
            old = self._data.pop(request_id, None)
            if old is not None:
                self._chars -= old[1]
            self._data[request_id] = (line, chars)
            self._chars += chars
            while self._data and (
                len(self._data) > self.max_entries or self._chars > self.max_chars
            ):
                _, (_, evicted) = self._data.popitem(last=False)
                self._chars -= evicted

    def get(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._data.get(request_id)
        if found is None:
            return None
        record: dict[str, Any] = orjson.loads(found[0])
        return record


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def decision_record(
    *,
    request_id: str,
    feature: str | None,
    text: str,
    served: RouteDecision,
    variant: str | None,
    propensity: float,
    model_version: str | None,
    meta: dict[str, Any],
    ts: float | None = None,
    prompt_id: str | None = None,
) -> dict[str, Any]:
    """A schema-v1 LogRecord as a plain dict (no validation on the hot path; tests ingest it).

    A request without a feature is logged under `default`, the contract it was decided with.
    """
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        meta = {**meta, "text_truncated": True}
    return {
        "schema_version": SCHEMA_VERSION,
        "request_id": request_id,
        "ts": rfc3339(time.time() if ts is None else ts),
        "feature": feature or "default",
        "text": text,
        "prompt_id": prompt_id,
        "route": {
            "policy": served.policy,
            "variant": variant,
            "tier": served.tier,
            "reason": served.reason,
            "model_version": model_version,
            "propensity": propensity,
        },
        "attempts": [],
        "escalations": [],
        "safety_flags": list(served.safety_flags),
        "labels": None,
        "corrections": [],
        "meta": meta,
    }


def shadow_meta(decision: RouteDecision, served_tier: str) -> dict[str, Any]:
    return {
        "policy": decision.policy,
        "tier": decision.tier,
        "model": decision.model,
        "reason": decision.reason,
        "reason_code": decision.reason_code,
        "agrees": decision.tier == served_tier,
    }


class DecisionLog:
    """`decisions.jsonl` plus the in-memory window used to join feedback."""

    FILE = "decisions.jsonl"

    def __init__(
        self,
        log_dir: Path,
        *,
        max_queue_bytes: int = 64 << 20,
        rotate_bytes: int = 0,
        window: int = 50_000,
    ) -> None:
        self.dir = Path(log_dir)
        self.writer = JsonlWriter(
            self.dir / self.FILE, max_queue_bytes=max_queue_bytes, rotate_bytes=rotate_bytes
        )
        self.writer.start()
        self.recent = RecentDecisions(window)

    def append(self, record: dict[str, Any]) -> None:
        """Serialise once: the same line goes to the window and to the file."""
        try:
            line = orjson.dumps(record) + b"\n"
        except TypeError:
            self.writer.write(record)  # counts and logs the record it cannot serialise
            return
        self.recent.put_line(record["request_id"], line, len(record["text"]))
        self.writer.write_line(line)

    def close(self) -> None:
        self.writer.close()
