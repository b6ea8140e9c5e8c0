"""Ingestion over hand-built files: every line accounted for, quarantine entries findable."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from classifier.errors import InputError
from classifier.logschema import MAX_TEXT_CHARS
from training.ingest import readers
from training.ingest.load import iter_valid_records, load_training_set


def rec(request_id: str, ts: str = "2026-11-02T10:00:00Z", **overrides: Any) -> dict[str, Any]:
    base = {
        "request_id": request_id,
        "ts": ts,
        "feature": "doc_summary",
        "text": f"Summarize the attached meeting notes ({request_id}).",
        "route": {"policy": "rules", "tier": "nano", "propensity": 0.9},
        "attempts": [
            {
                "tier": "nano", "model": "m-nano", "schema_ok": True, "compliance_ok": True,
                "latency_ms": 80.0, "input_tokens": 30, "output_tokens": 12, "cost_usd": 0.00001,
                "error": None,
            }
        ],
        "labels": {"intent": "summarize", "risk": "low"},
    }  # fmt: skip
    base.update(overrides)
    return base


def corr(request_id: str, ts: str, kind: str = "edit") -> dict[str, Any]:
    return {"request_id": request_id, "ts": ts, "kind": kind}


def write_lines(path: Path, lines: list[Any]) -> Path:
    """Dicts become JSON lines; bytes are written as they are (for broken lines)."""
    with path.open("wb") as handle:
        for line in lines:
            handle.write((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n")
    return path


def read_quarantine(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture()
def broken_files(tmp_path: Path) -> tuple[Path, Path]:
    bad_tier = rec("bad-tier", route={"policy": "rules", "tier": "huge"})
    no_text = rec("no-text")
    del no_text["text"]
    logs = write_lines(
        tmp_path / "logs.jsonl",
        [
            rec("a", "2026-11-02T10:00:00Z"),  # 1
            rec("b", "2026-11-02T10:05:00Z"),  # 2
            b"",  # 3 blank
            b'{"request_id": "c", "ts": ',  # 4 bad json
            b'{"request_id": "\xff\xfe"}',  # 5 bad utf-8
            no_text,  # 6 missing field
            rec("typed", attempts=[{**rec("x")["attempts"][0], "input_tokens": "30"}]),  # 7
            bad_tier,  # 8 unknown tier
            rec("empty", text=""),  # 9
            rec("blank", text="   \n\t"),  # 10
            rec("huge", text="x" * (MAX_TEXT_CHARS + 1)),  # 11
            rec("a", "2026-11-02T11:00:00Z", text="second copy of a"),  # 12 duplicate
            b"[1, 2, 3]",  # 13
            rec("extra", colour="blue"),  # 14 unknown field
            rec("early", "2026-11-02T09:00:00Z"),  # 15 out of order, valid
            b"   \t",  # 16 blank (whitespace only)
        ],
    )
    corrections = write_lines(
        tmp_path / "corrections.jsonl",
        [
            corr("a", "2026-11-02T10:04:59Z"),  # 299 s after a: joined, in window
            corr("b", "2026-11-02T10:10:01Z"),  # 301 s after b: joined, outside window
            corr("ghost", "2026-11-02T10:00:00Z"),  # unknown request
            corr("bad-tier", "2026-11-02T10:00:10Z"),  # its record is quarantined
            b"not json",
            corr("a", "2026-11-02T10:04:59Z"),  # identical event again
            corr("b", "2026-11-02T10:06:00Z", kind="shrug"),  # unknown kind
            b"",
        ],
    )
    return logs, corrections


def test_every_line_is_valid_quarantined_or_blank(broken_files, tmp_path):
    logs, corrections = broken_files
    quarantine = tmp_path / "q" / "quarantine.jsonl"
    data, report = load_training_set([logs], [corrections], quarantine_path=quarantine)

    assert report.balanced
    assert report.lines_read == 14 and report.blank_lines == 2
    assert report.valid == 3 and report.quarantined == 11
    assert report.corrections_read == 7 and report.corrections_blank_lines == 1
    assert report.corrections_joined == 2 and report.corrections_quarantined == 5
    assert report.quarantine_by_reason == {
        "bad_json": 1,
        "bad_utf8": 1,
        "correction_bad_json": 1,
        "correction_duplicate": 1,
        "correction_invalid_field": 1,
        "correction_request_quarantined": 1,
        "correction_unknown_request": 1,
        "duplicate_request_id": 1,
        "invalid_field": 1,
        "missing_field": 1,
        "not_an_object": 1,
        "text_blank": 1,
        "text_empty": 1,
        "text_too_long": 1,
        "unknown_field": 1,
        "unknown_tier": 1,
    }
    assert report.duplicates == 1 and report.out_of_order == 1
    assert report.quarantine_path == str(quarantine)

    entries = read_quarantine(quarantine)
    assert len(entries) == report.quarantined + report.corrections_quarantined
    by_line = {(e["stream"], e["line"]): e for e in entries}
    assert by_line[("logs", 4)]["reason"] == "bad_json"
    assert by_line[("logs", 4)]["raw"] == '{"request_id": "c", "ts": '
    assert by_line[("logs", 5)]["raw_b64"]  # the exact bytes survive, not only a lossy decode
    assert by_line[("logs", 8)]["request_id"] == "bad-tier"
    assert "route.tier" in by_line[("logs", 8)]["detail"]
    assert by_line[("logs", 12)]["reason"] == "duplicate_request_id"
    assert orjson.loads(by_line[("logs", 12)]["raw"])["text"] == "second copy of a"
    assert all(e["source"] in (str(logs), str(corrections)) for e in entries)

    # first occurrence wins; sorted by ts; labels follow the joined corrections
    assert data.request_id == ["early", "a", "b"]
    assert data.text[1] == "Summarize the attached meeting notes (a)."
    assert np.all(np.diff(data.ts) >= 0)
    assert data.tier_ok.tolist() == [[1, 1, 1], [0, -1, -1], [1, 1, 1]]
    assert report.corrections_in_window == 1 and report.corrections_outside_window == 1
    assert report.time_range == ("2026-11-02T09:00:00Z", "2026-11-02T10:05:00Z")
    assert report.fingerprint.startswith("sha256:")
    assert report.to_dict()["time_range"] == list(report.time_range)


def test_iter_valid_records_joins_corrections_inline_in_read_order(broken_files, tmp_path):
    logs, corrections = broken_files
    records = list(iter_valid_records([logs], [corrections], tmp_path / "q.jsonl"))
    assert [r.request_id for r in records] == ["a", "b", "early"]
    assert [c.kind for c in records[0].corrections] == ["edit"]
    entries = read_quarantine(tmp_path / "q.jsonl")
    assert {e["reason"] for e in entries} >= {"correction_unknown_request", "duplicate_request_id"}


def test_inline_and_joined_corrections_merge_once(tmp_path):
    same = corr("a", "2026-11-02T10:01:00Z")
    logs = write_lines(tmp_path / "l.jsonl", [rec("a", corrections=[same])])
    corrections = write_lines(tmp_path / "c.jsonl", [same, corr("a", "2026-11-02T10:02:00Z")])
    (record,) = iter_valid_records([logs], [corrections], tmp_path / "q.jsonl")
    assert [c.ts.minute for c in record.corrections] == [1, 2]


def test_fingerprint_names_the_records_not_their_order(tmp_path):
    rows = [rec(f"r{i}", f"2026-11-02T10:0{i}:00Z") for i in range(4)]
    one = write_lines(tmp_path / "one.jsonl", rows)
    half_a = write_lines(tmp_path / "a.jsonl", rows[2:])
    half_b = write_lines(tmp_path / "b.jsonl", rows[:2][::-1])
    changed = write_lines(tmp_path / "changed.jsonl", [*rows[:3], {**rows[3], "feature": "x"}])
    fp = lambda paths: load_training_set(paths, quarantine_path=tmp_path / "q.jsonl")[1].fingerprint  # noqa: E731
    assert fp([one]) == fp([half_a, half_b])
    assert fp([one]) != fp([changed])
    assert fp([one]) != fp([half_a])


def test_parquet_rows_stream_and_quarantine_with_row_index(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [rec(f"p{i}") for i in range(5)]
    rows[3]["route"] = {"policy": "rules", "tier": "giant", "propensity": 0.5}
    path = tmp_path / "logs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    quarantine = tmp_path / "q.jsonl"
    data, report = load_training_set([path], quarantine_path=quarantine)
    assert report.balanced and report.lines_read == 5 and report.valid == 4
    (entry,) = read_quarantine(quarantine)
    assert entry["row"] == 3 and entry["line"] is None and entry["reason"] == "unknown_tier"
    assert sorted(data.request_id) == ["p0", "p1", "p2", "p4"]


def test_gzip_jsonl_is_read(tmp_path):
    path = tmp_path / "logs.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(orjson.dumps(rec("g")) + b"\n")
    data, report = load_training_set([path], quarantine_path=tmp_path / "q.jsonl")
    assert data.request_id == ["g"] and report.balanced


def test_overlong_line_is_quarantined_without_being_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 2048)
    long_line = rec("long", text="y" * 5000)
    logs = write_lines(tmp_path / "l.jsonl", [rec("short"), long_line, rec("after")])
    data, report = load_training_set([logs], quarantine_path=tmp_path / "q.jsonl")
    assert data.request_id == ["short", "after"]
    assert report.quarantine_by_reason == {"line_too_long": 1} and report.balanced
    (entry,) = read_quarantine(tmp_path / "q.jsonl")
    assert entry["line"] == 2 and entry["raw_truncated"]


def test_without_quarantine_path_a_file_appears_only_when_needed(tmp_path):
    clean = write_lines(tmp_path / "clean.jsonl", [rec("a")])
    assert load_training_set([clean])[1].quarantine_path is None
    dirty = write_lines(tmp_path / "dirty.jsonl", [rec("a"), b"{oops"])
    report = load_training_set([dirty])[1]
    path = Path(report.quarantine_path)
    try:
        assert read_quarantine(path)[0]["reason"] == "bad_json"
    finally:
        path.unlink()


def test_missing_source_is_a_clear_error_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_training_set([tmp_path / "nope.jsonl"], quarantine_path=tmp_path / "q.jsonl")
    assert not (tmp_path / "q.jsonl").exists()


def test_empty_input_gives_an_empty_set_and_a_report(tmp_path):
    logs = write_lines(tmp_path / "l.jsonl", [b""])
    data, report = load_training_set([logs], quarantine_path=tmp_path / "q.jsonl")
    assert len(data) == 0 and report.time_range is None and report.balanced
    assert report.tier_labels["nano"] == {"ok": 0, "fail": 0, "unknown": 0}


def test_ingest_command_prints_a_balanced_report(broken_files, tmp_path, capsys):
    from training.ingest.cli import main

    logs, corrections = broken_files
    out = tmp_path / "report.json"
    code = main([str(logs), "--corrections", str(corrections), "--report", str(out)])
    printed = orjson.loads(capsys.readouterr().out)
    assert code == 0 and printed == orjson.loads(out.read_bytes())
    assert printed["valid"] + printed["quarantined"] == printed["lines_read"] == 14
    Path(printed["quarantine_path"]).unlink()
    assert main([str(tmp_path / "missing.jsonl")]) == 2
