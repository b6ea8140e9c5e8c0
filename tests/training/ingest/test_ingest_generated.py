"""Ingestion of the simulator's own output: every line accounted for, labels match the truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from classifier.taxonomy import TIERS
from training.ingest.load import load_training_set


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    writer = pytest.importorskip("data.generator.writer", reason="the log generator has not landed")
    out = tmp_path_factory.mktemp("generated")
    writer.generate(300, seed=11, out_dir=out)
    return out


def test_generated_logs_ingest_balanced_and_labels_never_contradict_truth(generated, tmp_path):
    data, report = load_training_set(
        [generated / "logs.jsonl"],
        [generated / "corrections.jsonl"],
        quarantine_path=tmp_path / "q.jsonl",
    )
    assert report.balanced and report.valid > 0
    truth = {}
    for line in (generated / "truth.jsonl").read_bytes().splitlines():
        row = orjson.loads(line)
        truth[row["request_id"]] = row
    assert set(data.request_id) <= set(truth)
    assert data.tier_ok.shape == (len(data), len(TIERS))
    known = data.tier_ok != -1
    agree = [
        data.tier_ok[i, t] == int(truth[rid]["tier_ok"][tier])
        for i, rid in enumerate(data.request_id)
        for t, tier in enumerate(TIERS)
        if known[i, t]
    ]
    # Observed labels are not the truth (a user may correct a good answer), but where a label is
    # known it should mostly agree with the simulator's hidden truth.
    assert agree and np.mean(agree) > 0.8
