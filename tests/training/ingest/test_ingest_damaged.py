"""Damaged input: every odd line is quarantined with a reason and counted; the run goes on.

Out-of-range instants, corrections stamped before their request, truncated or corrupt `.gz`
files and truncated or partly unreadable Parquet files (issue 11, items 7 and 8).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from classifier.errors import InputError
from training.ingest.load import iter_valid_records, load_training_set

OUT_OF_RANGE = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
ATTEMPT = {
    "tier": "nano", "model": "m-nano", "schema_ok": True, "compliance_ok": True,
    "latency_ms": 80.0, "input_tokens": 30, "output_tokens": 12, "cost_usd": 0.00001,
    "error": None,
}  # fmt: skip


def rec(request_id: str, ts: str = "2026-11-02T10:00:00Z", **overrides: Any) -> dict[str, Any]:
    """A valid record, nano served and ok; `overrides` replace top-level fields."""
    return {
        "request_id": request_id,
        "ts": ts,
        "feature": "doc_summary",
        "text": f"Summarize the attached meeting notes ({request_id}).",
        "route": {"policy": "rules", "tier": "nano", "propensity": 0.9},
        "attempts": [ATTEMPT],
        "labels": {"intent": "summarize", "risk": "low"},
        **overrides,
    }


def corr(request_id: str, ts: str, kind: str = "edit") -> dict[str, Any]:
    return {"request_id": request_id, "ts": ts, "kind": kind}


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def read_quarantine(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _lines(n: int) -> list[bytes]:
    return [orjson.dumps(rec(f"g{i}", f"2026-11-02T10:{i % 60:02d}:00Z")) + b"\n" for i in range(n)]


@pytest.mark.parametrize("ts", OUT_OF_RANGE)
def test_an_instant_outside_years_1_to_9999_in_utc_is_quarantined(tmp_path, ts):
    logs = write_lines(tmp_path / "l.jsonl", [rec("a"), rec("odd", ts), rec("c")])
    data, report = load_training_set([logs], quarantine_path=tmp_path / "q.jsonl")

    assert report.balanced and report.lines_read == 3 and report.valid == 2
    assert report.quarantine_by_reason == {"timestamp_out_of_range": 1}
    assert report.time_range == ("2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z")
    (entry,) = read_quarantine(tmp_path / "q.jsonl")
    assert entry["line"] == 2 and entry["request_id"] == "odd" and "1-9999" in entry["detail"]
    assert sorted(data.request_id) == ["a", "c"]


@pytest.mark.parametrize("ts", OUT_OF_RANGE)
def test_an_out_of_range_correction_is_quarantined_and_flips_nothing(tmp_path, ts):
    logs = write_lines(tmp_path / "l.jsonl", [rec("a"), rec("b", corrections=[corr("b", ts)])])
    corrections = write_lines(tmp_path / "c.jsonl", [corr("a", ts)])
    data, report = load_training_set([logs], [corrections], quarantine_path=tmp_path / "q.jsonl")

    assert report.balanced and report.valid == 1 and report.corrections_quarantined == 1
    assert report.quarantine_by_reason == {
        "correction_timestamp_out_of_range": 1,
        "timestamp_out_of_range": 1,  # record b: its inline correction is part of the record
    }
    assert data.request_id == ["a"] and data.tier_ok.tolist() == [[1, 1, 1]]


def test_a_correction_stamped_before_its_request_is_quarantined_not_a_failure(tmp_path):
    early_inline = corr("b", "2026-11-02T09:59:59Z")
    logs = write_lines(
        tmp_path / "l.jsonl",
        [rec("a"), rec("b", corrections=[early_inline, corr("b", "2026-11-02T10:30:00Z")])],
    )
    corrections = write_lines(
        tmp_path / "c.jsonl",
        [corr("a", "2026-11-02T09:58:00Z"), corr("a", "2026-11-02T10:00:00Z", "regenerate")],
    )
    quarantine = tmp_path / "q.jsonl"
    data, report = load_training_set([logs], [corrections], quarantine_path=quarantine)

    assert report.balanced and report.valid == 2
    assert report.corrections_joined == 1 and report.corrections_quarantined == 1
    assert report.corrections_inline == 2 and report.corrections_inline_quarantined == 1
    assert report.corrections_before_request == 2
    assert report.quarantine_by_reason == {"correction_before_request": 2}
    # a: only the correction at 0 s counts (nano failed); b: its 30-min correction is too late
    assert data.request_id == ["a", "b"]
    assert data.tier_ok.tolist() == [[0, -1, -1], [1, 1, 1]]
    assert report.corrections_in_window == 1 and report.corrections_outside_window == 1

    entries = {e["request_id"]: e for e in read_quarantine(quarantine)}
    assert entries["a"]["stream"] == "corrections" and entries["a"]["line"] == 1
    assert "120 s before its request" in entries["a"]["detail"]
    assert entries["b"]["inline"] and entries["b"]["line"] == 2
    assert orjson.loads(entries["b"]["raw"]) == {**early_inline, "ts": "2026-11-02T09:59:59Z"}
    (record_b,) = [r for r in iter_valid_records([logs]) if r.request_id == "b"]
    assert [c.ts.minute for c in record_b.corrections] == [30]


def test_a_truncated_gzip_keeps_what_decompressed_and_the_run_goes_on(tmp_path):
    whole = gzip.compress(b"".join(_lines(300)), mtime=0)
    cut = whole[: len(whole) * 3 // 5]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    complete, partial = readable.rsplit(b"\n", 1)
    assert partial, "the cut should fall inside a line for this test"
    damaged = tmp_path / "day1.jsonl.gz"
    damaged.write_bytes(cut)
    after = write_lines(tmp_path / "day2.jsonl", [rec("later", "2026-11-03T10:00:00Z")])

    quarantine = tmp_path / "q.jsonl"
    data, report = load_training_set([damaged, after], quarantine_path=quarantine)

    kept = complete.count(b"\n") + 1
    assert report.balanced and report.valid == kept + 1 and report.quarantined == 1
    assert report.lines_read == kept + 2
    assert report.quarantine_by_reason == {"truncated_gzip": 1}
    assert report.damaged_sources == {str(damaged): "truncated_gzip"}
    assert "later" in data.request_id and f"g{kept - 1}" in data.request_id
    (entry,) = read_quarantine(quarantine)
    assert entry["line"] == kept + 1 and entry["raw"] == partial.decode()
    assert "end marker" in entry["detail"]


def test_a_gzip_cut_at_a_line_boundary_still_reports_the_cut(tmp_path):
    packer = zlib.compressobj(wbits=31)
    body = b"".join(_lines(5))
    cut = packer.compress(body) + packer.flush(zlib.Z_SYNC_FLUSH)  # no final block, no trailer
    path = tmp_path / "l.jsonl.gz"
    path.write_bytes(cut)
    data, report = load_training_set([path], quarantine_path=tmp_path / "q.jsonl")
    assert report.balanced and report.valid == 5
    assert report.quarantine_by_reason == {"truncated_gzip": 1}
    (entry,) = read_quarantine(tmp_path / "q.jsonl")
    assert entry["line"] == 6 and entry["raw"] == ""


def test_a_gzip_with_a_bad_checksum_keeps_its_lines_and_says_so(tmp_path):
    whole = bytearray(gzip.compress(b"".join(_lines(4)), mtime=0))
    whole[-8] ^= 0xFF  # the CRC-32 of the trailer
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(bytes(whole))
    corrections = tmp_path / "corr.jsonl.gz"
    corrections.write_bytes(bytes(whole[: len(whole) // 2]))
    data, report = load_training_set([path], [corrections], quarantine_path=tmp_path / "q.jsonl")
    assert report.balanced and report.valid == 4
    assert report.quarantine_by_reason["corrupt_gzip"] == 1
    assert report.quarantine_by_reason["correction_truncated_gzip"] == 1
    assert report.damaged_sources == {
        str(path): "corrupt_gzip",
        str(corrections): "correction_truncated_gzip",
    }


def test_a_file_named_gz_that_is_not_gzip_is_a_clear_error_before_anything_is_read(tmp_path):
    path = write_lines(tmp_path / "logs.jsonl.gz", [rec("a")])
    with pytest.raises(InputError, match="rename it"):
        load_training_set([path], quarantine_path=tmp_path / "q.jsonl")
    assert not (tmp_path / "q.jsonl").exists()


def _parquet(path: Path, rows: int, group: int) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    records = [rec(f"p{i}", text=f"Summarize the notes of meeting {i}. " * 10) for i in range(rows)]
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=group, compression="zstd")
    return path


def test_a_truncated_parquet_file_is_quarantined_and_the_next_source_read(tmp_path):
    whole = _parquet(tmp_path / "whole.parquet", 30, 10).read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole[: len(whole) // 2])
    after = write_lines(tmp_path / "after.jsonl", [rec("later")])
    data, report = load_training_set([cut, after], quarantine_path=tmp_path / "q.jsonl")
    assert report.balanced and data.request_id == ["later"]
    assert report.quarantine_by_reason == {"truncated_parquet": 1}
    assert report.damaged_sources == {str(cut): "truncated_parquet"}
    (entry,) = read_quarantine(tmp_path / "q.jsonl")
    assert entry["row"] == 0 and "footer" in entry["detail"]


def test_an_unreadable_parquet_row_group_loses_only_its_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = _parquet(tmp_path / "l.parquet", 30, 10)
    column = next(
        chunk
        for chunk in (pq.ParquetFile(path).metadata.row_group(1).column(j) for j in range(18))
        if chunk.path_in_schema == "text"
    )
    start = column.dictionary_page_offset or column.data_page_offset
    raw = bytearray(path.read_bytes())
    for k in range(start + column.total_compressed_size // 3, start + column.total_compressed_size):
        raw[k] = (raw[k] * 7 + 13) % 256
    path.write_bytes(bytes(raw))

    data, report = load_training_set([path], quarantine_path=tmp_path / "q.jsonl")
    assert report.balanced and report.valid == 20 and report.quarantined == 1
    assert report.quarantine_by_reason == {"unreadable_row_group": 1}
    assert sorted(data.request_id) == sorted(f"p{i}" for i in [*range(10), *range(20, 30)])
    (entry,) = read_quarantine(tmp_path / "q.jsonl")
    assert entry["row"] == 10 and "rows 10-19 (10 rows) are lost" in entry["detail"]


def test_a_parquet_timestamp_python_cannot_hold_spoils_only_its_row(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_pylist([rec("a"), rec("far"), rec("c")])
    micros = [1_793_613_600_000_000, 300_000_000_000_000_000, 1_793_613_600_000_000]
    index = table.schema.get_field_index("ts")
    table = table.set_column(index, "ts", pa.array(micros, type=pa.timestamp("us", tz="UTC")))
    path = tmp_path / "l.parquet"
    pq.write_table(table, path)
    data, report = load_training_set([path], quarantine_path=tmp_path / "q.jsonl")
    assert report.balanced and sorted(data.request_id) == ["a", "c"]
    assert report.quarantine_by_reason == {"row_not_readable": 1}
    (entry,) = read_quarantine(tmp_path / "q.jsonl")
    assert entry["row"] == 1


def test_a_token_count_training_cannot_store_is_quarantined(tmp_path):
    attempt = {**ATTEMPT, "input_tokens": 2**31}
    logs = write_lines(tmp_path / "l.jsonl", [rec("big", attempts=[attempt]), rec("ok")])
    data, report = load_training_set([logs], quarantine_path=tmp_path / "q.jsonl")
    assert report.balanced and data.request_id == ["ok"]
    assert report.quarantine_by_reason == {"invalid_field": 1}
