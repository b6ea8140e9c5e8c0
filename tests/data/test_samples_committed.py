"""data/samples/ is exactly what `python -m data.samples` writes; its broken lines are annotated."""

from __future__ import annotations

import json

import orjson

from classifier.logschema import LogRecord
from data.samples import SAMPLE_N, SAMPLES_DIR, write_samples

FILES = (
    "logs.jsonl",
    "corrections.jsonl",
    "truth.jsonl",
    "logs-broken.jsonl",
    "corrections-broken.jsonl",
    "broken-manifest.json",
)


def test_samples_regenerate_byte_identical(tmp_path) -> None:
    write_samples(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLES_DIR / name).read_bytes(), (
            f"data/samples/{name} is stale; run `python -m data.samples`"
        )
    assert sum((SAMPLES_DIR / n).stat().st_size for n in FILES) < 1_000_000


def test_broken_manifest_matches_the_lines() -> None:
    manifest = json.loads((SAMPLES_DIR / "broken-manifest.json").read_text())
    lines = (SAMPLES_DIR / "logs-broken.jsonl").read_bytes().split(b"\n")[:-1]
    entry = manifest["logs-broken.jsonl"]
    assert entry["lines"] == len(lines)
    broken = {b["line"] for b in entry["broken"]}
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if number in broken:
            continue
        record = LogRecord.model_validate(orjson.loads(line))
        assert record.request_id not in seen
        seen.add(record.request_id)
    reasons = {b["reason"].split(":")[0] for b in entry["broken"]}
    assert {
        "bad_json",
        "missing_field",
        "mistyped_field",
        "unknown_tier",
        "empty_text",
        "oversized_text",
        "duplicate_request_id",
    } <= reasons
    good = (SAMPLES_DIR / "logs.jsonl").read_bytes().splitlines()
    assert len(good) == SAMPLE_N
