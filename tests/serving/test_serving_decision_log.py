"""The background JSONL writer: everything queued is on disk after close, the queue is bounded in
bytes, a full disk or a bad path is reported and retried (nothing lost, no broken line), rotation
keeps every record, the feedback window is bounded."""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from classifier.logschema import LogRecord
from classifier.routing import RouteDecision
from serving.decision_log import RecentDecisions, decision_record
from serving.jsonl import JsonlWriter


def _lines(folder: Path, pattern: str = "*.jsonl") -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob(pattern)):
        out += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return out


def test_everything_written_is_on_disk_after_close(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "sub" / "log.jsonl")
    assert not (tmp_path / "sub").exists()  # nothing happens before start or the first record
    for i in range(500):
        assert writer.write({"i": i})
    writer.close()
    assert [r["i"] for r in _lines(tmp_path / "sub")] == list(range(500))
    assert (writer.written, writer.dropped, writer.failed) == (500, 0, 0)
    assert writer.write({"i": -1}) is False and writer.dropped == 1  # closed: refused, counted


class Disk:
    """Opens real files, but can be stalled, or made 'full': the next write is short (half the
    bytes land) and every one after raises ENOSPC, as a real full disk does."""

    def __init__(self) -> None:
        self.full = False
        self.stall = threading.Event()
        self.stall.set()
        self.short_done = False
        self.opened = 0

    def __call__(self, path: Path) -> Any:
        self.opened += 1
        return _Sink(self, path.open("ab", buffering=0))


class _Sink:
    def __init__(self, disk: Disk, handle: Any) -> None:
        self.disk, self.handle = disk, handle

    def write(self, data: memoryview) -> int:
        self.disk.stall.wait(30)
        if self.disk.full:
            if not self.disk.short_done and len(data) > 1:
                self.disk.short_done = True
                return int(self.handle.write(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return int(self.handle.write(data))

    def close(self) -> None:
        self.handle.close()


def _until(predicate: Any, what: str) -> None:
    """Wait for the writer thread (synchronisation, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def test_the_queue_is_bounded_in_bytes_not_records(tmp_path: Path) -> None:
    disk = Disk()
    disk.stall.clear()  # the writer thread takes the first record and hangs in write()
    writer = JsonlWriter(tmp_path / "log.jsonl", max_queue_bytes=1_000, opener=disk)
    assert writer.write({"i": 0})
    _until(lambda: writer.depth() == 0, "the writer took record 0")
    small = [writer.write({"i": i}) for i in range(1, 6)]  # ~10 bytes each
    assert all(small)
    big = {"i": 99, "pad": "x" * 2_000}  # one record, but over the byte bound on its own
    assert writer.write(big) is False and writer.dropped == 1
    accepted = sum(writer.write({"i": i, "pad": "y" * 100}) for i in range(6, 30))
    assert 0 < accepted < 24 and writer.queued_bytes() <= 1_000
    assert writer.dropped == 1 + (24 - accepted)
    disk.stall.set()
    writer.close()
    assert len(_lines(tmp_path)) == 6 + accepted == writer.written


def test_a_full_disk_is_reported_and_nothing_is_lost(tmp_path: Path) -> None:
    disk = Disk()
    writer = JsonlWriter(tmp_path / "log.jsonl", opener=disk, retry_base_s=0.001, retry_max_s=0.01)
    writer.start()
    assert writer.ok and writer.status()["error"] is None
    disk.full = True
    for i in range(50):
        assert writer.write({"i": i, "pad": "z" * 50})
    _until(lambda: not writer.ok and writer.errors >= 2, "the writer reports the full disk")
    status = writer.status()
    assert "No space left" in status["error"] and str(tmp_path) in status["error"]
    assert status["failing_since"] and status["queued_bytes"] > 0 and writer.written == 0
    disk.full = False  # space freed: the writer resumes at the byte where it stopped
    _until(lambda: writer.written == 50, "the backlog is written")
    assert writer.ok and writer.status()["failing_since"] is None
    writer.close()
    assert disk.short_done  # a write was cut in the middle of a line, and resumed
    assert [r["i"] for r in _lines(tmp_path)] == list(range(50))
    assert (writer.dropped, writer.failed) == (0, 0)


def test_close_gives_up_on_a_disk_that_stays_full_and_counts_the_loss(tmp_path: Path) -> None:
    disk = Disk()
    disk.full = True
    disk.short_done = True
    writer = JsonlWriter(tmp_path / "log.jsonl", opener=disk, retry_base_s=0.001)
    for i in range(3):
        writer.write({"i": i})
    writer.close(timeout=0.3)
    assert (writer.written, writer.failed) == (0, 3) and not writer.ok


def test_a_path_that_cannot_be_opened_is_reported_at_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    writer = JsonlWriter(tmp_path / "file" / "logs" / "log.jsonl", retry_base_s=0.001)
    writer.start()
    assert not writer.ok and writer.errors == 1
    assert "cannot open" in (writer.error or "") and "file/logs/log.jsonl" in (writer.error or "")
    assert writer.write({"i": 1})  # still queued (bounded): the path may be fixed meanwhile
    writer.close(timeout=0.2)
    assert writer.failed == 1


def test_recent_decisions_are_bounded_by_count_and_text(tmp_path: Path) -> None:
    recent = RecentDecisions(max_entries=3, max_chars=100)
    for i in range(5):
        recent.put({"request_id": f"r{i}", "text": "x"})
    assert len(recent) == 3 and recent.get("r1") is None and recent.get("r4") is not None
    recent.put({"request_id": "big", "text": "y" * 99})
    assert recent.get("big") is not None and len(recent) == 2  # r4 + big = 100 chars


def test_decision_record_is_schema_v1_even_for_odd_inputs() -> None:
    decision = RouteDecision(
        tier="full", model="m", reason="r", policy="learned", guards=("pii.email", "pii.card")
    )
    record = decision_record(
        request_id="a",
        feature=None,
        text="z" * 250_000,
        served=decision,
        variant=None,
        propensity=1.0,
        model_version="1",
        meta={},
    )
    parsed = LogRecord.model_validate_json(orjson.dumps(record), strict=True)
    assert parsed.feature == "default" and parsed.safety_flags == ["pii"]
    assert len(parsed.text) == 200_000 and parsed.meta["text_truncated"] is True
