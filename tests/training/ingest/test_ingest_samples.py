"""The committed broken sample: ingestion quarantines exactly the lines its manifest lists."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from training.ingest.load import load_training_set

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"


def test_broken_sample_quarantines_exactly_the_listed_lines(tmp_path):
    manifest_path = SAMPLES / "broken-manifest.json"
    if not manifest_path.exists():
        pytest.skip("data/samples has no broken sample yet")
    manifest = json.loads(manifest_path.read_text())
    logs, corrections = SAMPLES / "logs-broken.jsonl", SAMPLES / "corrections-broken.jsonl"
    quarantine = tmp_path / "q.jsonl"
    _, report = load_training_set([logs], [corrections], quarantine_path=quarantine)

    entries = [orjson.loads(line) for line in quarantine.read_bytes().splitlines()]
    got = {(e["stream"], e["line"]) for e in entries}
    expected = set()
    blank = 0
    for name, stream in ((logs.name, "logs"), (corrections.name, "corrections")):
        for broken in manifest[name]["broken"]:
            if broken["reason"] == "blank_line":
                blank += 1
            else:
                expected.add((stream, broken["line"]))
    assert got == expected
    assert report.balanced and report.blank_lines == blank
    assert report.lines_read + report.blank_lines == manifest[logs.name]["lines"]
    assert report.corrections_read == manifest[corrections.name]["lines"]
