"""Append-only JSONL files written off the hot path, by a writer that reports its own failures.

A caller serialises one record (orjson, a few microseconds) and appends the bytes to a queue
bounded in *bytes*, so one 200 KB text weighs what it weighs; nothing else happens on the request
path. One thread per file writes whole batches with unbuffered writes and retries what failed
(a full disk, a directory it cannot create) with exponential backoff, from the exact byte where it
stopped, so a batch is never half-lost and never duplicated. While it fails, `error` says why:
readiness and `/metrics` show it, and `/feedback` refuses rather than answer "recorded".

Only what never reached the queue is lost, and it is counted: `dropped` (queue full or writer
closed), `failed` (not serialisable, or still unwritten when `close()` gave up).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)

_BATCH_BYTES = 1 << 20  # one write call carries at most about this much


class Sink(Protocol):
    """What the writer needs of a file: a raw `write` that says how much it wrote, `close`."""

    def write(self, data: memoryview, /) -> int | None: ...

    def close(self) -> None: ...


def open_append(path: Path) -> Sink:
    """Unbuffered append: `write` returns how much reached the file, so a retry resumes exactly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab", buffering=0)


class JsonlWriter:
    """One file, one daemon thread, a queue bounded in bytes; `write` never blocks and never raises.

    Example:
        writer = JsonlWriter(Path("logs/decisions.jsonl"), max_queue_bytes=64 << 20)
        writer.start()            # opens the file now, so a bad path shows before any record
        writer.write({"a": 1})    # False (and counted) when the record could not be queued
        writer.close()            # drains, flushes, stops the thread
    """

    def __init__(
        self,
        path: Path,
        *,
        max_queue_bytes: int = 64 << 20,
        rotate_bytes: int = 0,
        opener: Callable[[Path], Sink] | None = None,
        retry_base_s: float = 0.05,
        retry_max_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.max_queue_bytes = max_queue_bytes
        self.rotate_bytes = rotate_bytes
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.rotations = 0
        self.errors = 0  # open/write/rotate errors seen (each retry that fails counts)
        self.error: str | None = None  # the last error while the writer cannot write; else None
        self.error_since: float | None = None
        self._opener = opener if opener is not None else open_append
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._items: deque[bytes] = deque()
        self._held = 0  # bytes queued or taken by the thread but not yet written
        self._cond = threading.Condition(threading.Lock())
        self._handle: Sink | None = None
        self._size = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._give_up_at: float | None = None

    # caller side ----------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return self.error is None

    def depth(self) -> int:
        return len(self._items)

    def queued_bytes(self) -> int:
        return self._held

    def has_room(self, nbytes: int) -> bool:
        """True when `nbytes` more would be queued now (the writer is open and has room)."""
        return not self._closed and self._held + nbytes <= self.max_queue_bytes

    def write(self, record: dict[str, Any]) -> bool:
        """Serialise and queue one record; False (and counted) when it could not be queued."""
        try:
            line = orjson.dumps(record) + b"\n"
        except TypeError:
            self.failed += 1
            log.exception("log record for %s is not serialisable; skipped", self.path)
            return False
        return self.write_line(line)

    def write_line(self, line: bytes) -> bool:
        """Queue one serialised line (ending in a newline)."""
        with self._cond:
            if self._closed or self._held + len(line) > self.max_queue_bytes:
                self.dropped += 1
                return False
            self._items.append(line)
            self._held += len(line)
            if len(self._items) == 1:  # the thread drains all it finds: wake it only when idle
                self._cond.notify()
        if self._thread is None:
            self.start()
        return True

    def status(self) -> dict[str, Any]:
        """What readiness shows: whether the writer can write, and if not since when and why."""
        since = self.error_since
        return {
            "ok": self.ok,
            "error": self.error,
            "failing_since": None if since is None else _iso(since),
            "queued_bytes": self._held,
            "dropped": self.dropped,
            "failed": self.failed,
        }

    def start(self) -> None:
        """Open the file now (so a bad path is reported at once) and start the writer thread."""
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._open()  # failure is recorded in `error`; the thread keeps retrying
            thread = threading.Thread(
                target=self._run, name=f"tierwise-log:{self.path.name}", daemon=True
            )
            self._thread = thread
        thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued so far and stop; what cannot be written by then is `failed`."""
        with self._cond:
            self._closed = True
            self._give_up_at = time.monotonic() + timeout * 0.8
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("log writer for %s did not finish within %.0f s", self.path, timeout)
        elif self._handle is not None:
            self._handle.close()

    # writer thread --------------------------------------------------------------------------

    def _open(self) -> bool:
        if self._handle is not None:
            return True
        try:
            self._handle = self._opener(self.path)
        except OSError as exc:
            self._failed(exc, "open")
            return False
        try:
            self._size = self.path.stat().st_size
        except OSError:
            self._size = 0
        return True

    def _failed(self, exc: OSError, action: str) -> None:
        self.errors += 1
        reason = f"cannot {action} {self.path}: {type(exc).__name__}: {exc}"
        if reason != self.error:  # log each distinct failure once, not every retry
            log.error("%s; records stay queued and the write is retried", reason)
        if self.error is None:
            self.error_since = time.time()
        self.error = reason

    def _recovered(self) -> None:
        if self.error is not None:
            log.warning("log writer for %s recovered after: %s", self.path, self.error)
        self.error = None
        self.error_since = None

    def _run(self) -> None:
        pending = b""
        count = 0
        offset = 0
        delay = self._retry_base_s
        while True:
            with self._cond:
                if offset >= len(pending):
                    while not self._items and not self._closed:
                        self._cond.wait()
                    if not self._items:
                        break
                    batch: list[bytes] = []
                    size = 0
                    while self._items and size < _BATCH_BYTES:
                        line = self._items.popleft()
                        batch.append(line)
                        size += len(line)
                    pending, count, offset = b"".join(batch), len(batch), 0
            try:
                if offset == 0 and self._handle is not None and self._moved():
                    self._drop_handle()  # a whole batch goes to the file the path names now
                if not self._open():
                    raise _Retry
                handle = self._handle
                assert handle is not None
                view = memoryview(pending)
                while offset < len(pending):
                    n = handle.write(view[offset:])
                    offset += len(pending) - offset if n is None else n
                flush = getattr(handle, "flush", None)
                if flush is not None:
                    flush()
            except (OSError, _Retry) as exc:
                if isinstance(exc, OSError):
                    self._failed(exc, "write to")
                    self._drop_handle()
                if self._wait_to_retry(delay):
                    lost = count + self._abandon()
                    self.failed += lost
                    log.error("gave up writing %d records to %s: %s", lost, self.path, self.error)
                    break
                delay = min(delay * 2, self._retry_max_s)
                continue
            self._recovered()
            delay = self._retry_base_s
            with self._cond:
                self._held -= len(pending)
            self.written += count
            self._size = self._file_size(self._size + len(pending))
            pending, count, offset = b"", 0, 0
            if self.rotate_bytes and self._size >= self.rotate_bytes:
                self._rotate()
        self._drop_handle()

    def _wait_to_retry(self, delay: float) -> bool:
        """Sleep the whole backoff (new records do not cut it short); True: `close()` gave up."""
        deadline = time.monotonic() + delay
        with self._cond:
            while True:
                now = time.monotonic()
                give_up = self._give_up_at
                if give_up is not None and now >= give_up:
                    return True
                end = deadline if give_up is None else min(deadline, give_up)
                if now >= end:
                    return False
                self._cond.wait(end - now)

    def _abandon(self) -> int:
        with self._cond:
            lost = len(self._items)
            self._items.clear()
            self._held = 0
        return lost

    def _drop_handle(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()

    def _moved(self) -> bool:
        """True when the path no longer names the open file: another worker process rotated
        it, or logrotate moved it. Several workers append to one file (O_APPEND, whole lines)."""
        fileno = getattr(self._handle, "fileno", None)
        if fileno is None:
            return False
        try:
            return os.stat(self.path).st_ino != os.fstat(fileno()).st_ino
        except FileNotFoundError:
            return True
        except OSError:
            return False

    def _file_size(self, counted: int) -> int:
        """The file's real size (other workers write to it too), else what this one counted."""
        fileno = getattr(self._handle, "fileno", None)
        try:
            return os.fstat(fileno()).st_size if fileno is not None else counted
        except OSError:
            return counted

    def _rotate(self) -> None:
        """`decisions.jsonl` -> `decisions-<UTC time>.jsonl`: the suffix stays for the readers.

        When another worker rotated it first, this one only follows to the new file."""
        if self._moved():
            self._drop_handle()
            self._open()
            return
        self._drop_handle()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        try:
            self.path.rename(target)
            self.rotations += 1
        except OSError:
            self.errors += 1
            log.exception("could not rotate %s; continuing in the same file", self.path)
        self._open()  # the live file exists again at once (a failure is retried on next write)


class _Retry(Exception):
    """The file could not be opened; the failure is already recorded."""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
