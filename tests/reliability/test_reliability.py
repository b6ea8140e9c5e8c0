"""The reliability suite, short: a real `tierwise serve --workers 2` fuzzed from its OpenAPI,
fed raw malformed requests, soaked with unique texts, and given a truncated model, a wrong hash
and a missing tokenizer under load. The long run (`make reliability`, 10 minutes of soak) also
holds memory and p99 to their targets; this one holds everything that is not a timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import suite

pytestmark = pytest.mark.slow


def test_short_reliability_run(tiny_bundle: Path, tmp_path: Path) -> None:
    report = suite.run(
        tiny_bundle,
        tmp_path,
        workers=2,
        soak_s=6,
        window_s=2,
        rate=60,
        warmup_s=0,
        fuzz_examples=5,
        fuzz_time_s=6,
        fault_hold_s=1.5,
    )
    fuzz = report["fuzz"]
    assert fuzz["tests"] >= 10 and fuzz["failures"] + fuzz["errors"] == 0, fuzz
    bad = report["malformed"]
    assert bad["server_errors"] == 0 and bad["timeouts"] == 0, bad["by_case"]
    assert report["server_5xx"] == 0
    assert report["crashes"] == 0 and report["exit_code"] == 0
    soak = report["soak"]
    assert soak["requests"] >= 300 and soak["failed"] == 0, soak["statuses"]
    assert soak["rss_end_mib"] > 0 and soak["p99_end_ms"] > 0  # reported, judged by the long run
    faults = report["reload_faults"]
    assert faults["requests"] >= 500 and faults["failed"] == 0, faults
    assert faults["loads_refused"] >= 3  # every fault was seen and refused, not served
    assert len(faults["serving_versions_after"]) == 1
    assert faults["serving_versions_after"][0].startswith("reliability-")  # the good new one
    assert report["ready_at_end"]
