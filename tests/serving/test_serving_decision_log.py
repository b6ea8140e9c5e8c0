"""The background JSONL writer: everything queued is on disk after close, a stalled disk drops
(and counts) instead of blocking, rotation keeps every record, the feedback window is bounded."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from classifier.logschema import LogRecord
from classifier.routing import RouteDecision
from serving.decision_log import JsonlWriter, RecentDecisions, decision_record


def _lines(folder: Path, pattern: str = "*.jsonl") -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob(pattern)):
        out += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return out


def test_everything_written_is_on_disk_after_close(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "sub" / "log.jsonl")
    assert not (tmp_path / "sub").exists()  # nothing happens until the first record
    for i in range(500):
        assert writer.write({"i": i})
    writer.close()
    assert [r["i"] for r in _lines(tmp_path / "sub")] == list(range(500))
    assert (writer.written, writer.dropped, writer.failed) == (500, 0, 0)
    assert writer.write({"i": -1}) is False and writer.dropped == 1  # closed: refused, counted


def test_a_stalled_writer_never_blocks_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    entered = threading.Event()
    original = orjson.dumps

    def stalled(obj: Any) -> bytes:
        entered.set()
        release.wait(30)
        return original(obj)

    monkeypatch.setattr("serving.decision_log.orjson.dumps", stalled)
    writer = JsonlWriter(tmp_path / "log.jsonl", max_queue=10)
    writer.write({"i": 0})
    assert entered.wait(30)  # the writer thread holds record 0 and is stuck on the "disk"
    accepted = [writer.write({"i": i}) for i in range(1, 50)]
    assert accepted.count(True) == 10 and writer.dropped == 39
    release.set()
    writer.close()
    assert len(_lines(tmp_path)) == 11 and writer.written == 11


def test_rotation_keeps_every_record_in_jsonl_files(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "decisions.jsonl", rotate_bytes=300)
    for i in range(40):
        writer.write({"i": i, "pad": "x" * 20})
        if i % 5 == 4:  # let the writer cut batches, so that rotation happens mid-stream
            while writer.depth():
                threading.Event().wait(0.001)
    writer.close()
    files = sorted(tmp_path.glob("decisions*.jsonl"))
    assert len(files) > 2 and writer.rotations == len(files) - 1
    assert sorted(r["i"] for r in _lines(tmp_path)) == list(range(40))


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
