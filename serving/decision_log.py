"""Append-only JSONL logs written off the hot path, and the decision log in schema v1.

A request only builds a small dict and puts it on a queue (no I/O, no JSON); one background
thread per file serialises with orjson, writes whole batches and flushes after each, so under load
records are written in large batches and at rest within one pass of the writer. A full queue drops
the record and counts it (`tierwise_log_records_dropped_total`): a slow disk must never slow
classification. `close()` drains and flushes (the app calls it on shutdown).

Every record of `decisions.jsonl` is a `classifier.logschema.LogRecord` (schema v1) with
`attempts: []`; serving/feedback.py writes the same record with its attempts to
`outcomes.jsonl` when the caller reports them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from classifier.logschema import MAX_TEXT_CHARS, SCHEMA_VERSION
from classifier.routing import RouteDecision

log = logging.getLogger(__name__)

_STOP = object()
_BATCH = 2048


class JsonlWriter:
    """One file, one daemon thread, a bounded queue; `write` never blocks and never raises."""

    def __init__(self, path: Path, *, max_queue: int = 100_000, rotate_bytes: int = 0) -> None:
        self.path = Path(path)
        self.max_queue = max_queue
        self.rotate_bytes = rotate_bytes
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.rotations = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def depth(self) -> int:
        return self._queue.qsize()

    def write(self, record: dict[str, Any]) -> bool:
        """Queue one record; False (and counted) when the queue is full or the log is closed."""
        if self._closed or self._queue.qsize() >= self.max_queue:
            self.dropped += 1
            return False
        if self._thread is None:
            self._start()
        self._queue.put(record)
        return True

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                thread = threading.Thread(
                    target=self._run, name=f"tierwise-log:{self.path.name}", daemon=True
                )
                thread.start()
                self._thread = thread

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued so far, flush, stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("log writer for %s did not finish within %.0f s", self.path, timeout)

    def _run(self) -> None:
        handle = self.path.open("ab")
        size = handle.tell()
        stop = False
        try:
            while not stop:
                batch = [self._queue.get()]
                while len(batch) < _BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if any(item is _STOP for item in batch):
                    stop = True
                    batch = [item for item in batch if item is not _STOP]
                lines = []
                for record in batch:
                    try:
                        lines.append(orjson.dumps(record) + b"\n")
                    except TypeError:
                        self.failed += 1
                        log.exception("log record for %s is not serialisable; skipped", self.path)
                data = b"".join(lines)
                try:
                    handle.write(data)
                    handle.flush()
                except OSError:
                    self.failed += len(lines)
                    log.exception("could not write %d records to %s", len(lines), self.path)
                    continue
                self.written += len(lines)
                size += len(data)
                if self.rotate_bytes and size >= self.rotate_bytes:
                    handle = self._rotate(handle)
                    size = 0
        finally:
            handle.close()

    def _rotate(self, handle: Any) -> Any:
        """`decisions.jsonl` -> `decisions-<UTC time>.jsonl`: the suffix stays for the readers."""
        handle.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        try:
            self.path.rename(target)
            self.rotations += 1
        except OSError:
            log.exception("could not rotate %s; continuing in the same file", self.path)
        return self.path.open("ab")


class RecentDecisions:
    """The last N decision records by request_id, so feedback can be joined without a disk read.

    Bounded by count and by total text characters (one text may be 200,000 characters).
    """

    def __init__(self, max_entries: int, max_chars: int = 64_000_000) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def put(self, record: dict[str, Any]) -> None:
        with self._lock:
            old = self._data.pop(record["request_id"], None)
            if old is not None:
                self._chars -= len(old["text"])
            self._data[record["request_id"]] = record
            self._chars += len(record["text"])
            while self._data and (
                len(self._data) > self.max_entries or self._chars > self.max_chars
            ):
                _, evicted = self._data.popitem(last=False)
                self._chars -= len(evicted["text"])

    def get(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._data.get(request_id)


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
        "prompt_id": None,
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
        max_queue: int = 100_000,
        rotate_bytes: int = 0,
        window: int = 50_000,
    ) -> None:
        self.dir = Path(log_dir)
        self.writer = JsonlWriter(
            self.dir / self.FILE, max_queue=max_queue, rotate_bytes=rotate_bytes
        )
        self.recent = RecentDecisions(window)

    def append(self, record: dict[str, Any]) -> None:
        self.recent.put(record)
        self.writer.write(record)

    def close(self) -> None:
        self.writer.close()
