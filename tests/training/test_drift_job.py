"""The drift job end to end: a trained bundle carries its training reference; newer logs like the
training data retrain nothing; drifted ones train a candidate that only the promotion gate can
make champion."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SHIFT = dt.timedelta(days=120)  # after the champion's training window: the gate may use them
SMALL = ["realtext.enabled=false", "heads.max_iter=15", "teacher.enabled=false",
         "promote.max_rows=400", "heads.n_threads=1"]  # fmt: skip


def shifted(src: Path, dst: Path, keep: Any = None) -> Path:
    """A copy of a JSONL log with every `ts` moved by SHIFT (and rows filtered by `keep`)."""
    out = []
    for line in src.read_text().splitlines():
        row = json.loads(line)
        if keep is not None and not keep(row):
            continue
        ts = dt.datetime.fromisoformat(row["ts"].replace("Z", "+00:00")) + SHIFT
        row["ts"] = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out.append(json.dumps(row))
    dst.write_text("\n".join(out) + "\n")
    return dst


def test_drift_retrains_through_the_gate(
    generated_logs: Path, sqlite_tracking: str, student_dir: Path, tmp_path: Path, capsys: Any
) -> None:
    from mlflow import MlflowClient

    from classifier.cli import main as tierwise
    from classifier.runtime import Classifier
    from classifier.taxonomy import INTENTS, TIERS
    from data.generator import generate
    from training.drift.cli import main as drift_cli

    sets = [arg for kv in SMALL for arg in ("--set", kv)]
    bundle = tmp_path / "champion"
    assert tierwise(["train", "--logs", str(generated_logs / "logs.jsonl"), "--corrections",
                     str(generated_logs / "corrections.jsonl"), "--bundle-dir", str(bundle),
                     "--work-dir", str(tmp_path / "w"), "--student-dir", str(student_dir),
                     "--no-progress", *sets]) == 0  # fmt: skip
    assert tierwise(["promote", "--version", "1", "--allow-first-champion"]) == 0
    reference = Classifier.load(bundle).manifest.reference_stats  # type: ignore[attr-defined]
    assert set(reference["shares"]["intent"]) == set(INTENTS)
    assert 0 < reference["n"] <= 1500 and set(reference["rates"]["failure"]) == set(TIERS)

    newer = tmp_path / "newer"
    generate(1500, seed=11, out_dir=newer)
    logs = shifted(newer / "logs.jsonl", tmp_path / "logs.jsonl")
    corrections = shifted(newer / "corrections.jsonl", tmp_path / "corrections.jsonl")
    drifted = shifted(newer / "logs.jsonl", tmp_path / "drifted.jsonl",
                      keep=lambda row: row["feature"] == "code_assist")  # fmt: skip
    job = ["retrain-on-drift", "--bundle", str(bundle), "--logs", str(logs), "--corrections",
           str(corrections), "--student-dir", str(student_dir), "--min-requests", "100",
           "--work-dir", str(tmp_path / "jobs"), *sets]  # fmt: skip
    client = MlflowClient(tracking_uri=sqlite_tracking, registry_uri=sqlite_tracking)

    # traffic like the training data: nothing is retrained
    assert drift_cli(job) == 0
    calm = capsys.readouterr().out
    assert "drift: none crossed" in calm and "nothing retrained" in calm
    assert len(client.search_model_versions("name='tierwise'")) == 1

    # one feature's traffic only: the mix drifts, a candidate is trained and gated
    code = drift_cli([*job, "--drift-logs", str(drifted)])
    out = capsys.readouterr().out
    assert "psi:intent" in out and "candidate:" in out, out
    versions = client.search_model_versions("name='tierwise'")
    assert len(versions) == 2
    champion = str(client.get_model_version_by_alias("tierwise", "champion").version)
    challenger = str(client.get_model_version_by_alias("tierwise", "challenger").version)
    assert challenger == "2"
    # the gate decided, and the champion moved only if it passed
    assert code in (0, 1)
    assert champion == ("2" if code == 0 else "1")
    gate = (tmp_path / "jobs").glob("retrain-*/gate.jsonl")
    assert sum(len(p.read_text().splitlines()) for p in gate) == 300  # the newest 20 %
