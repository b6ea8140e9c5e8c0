"""`tierwise train` with `heads.text_features: [tier]`: the counts flow through embedding, fit,
calibration, tuning, the teacher comparison and export into a bundle the runtime serves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_train_with_text_features_for_the_tier_head(
    generated_logs: Path, sqlite_tracking: str, student_dir: Path, small_config, tmp_path: Path
) -> None:
    from classifier.runtime import Classifier
    from training.model import text_features as tf
    from training.model.embed import StaticStudent
    from training.pipeline import train

    cfg = small_config(**{"heads.text_features": "[tier]"})
    result = train(
        [generated_logs / "logs.jsonl"],
        corrections=[generated_logs / "corrections.jsonl"],
        truth=generated_logs / "truth.jsonl",
        bundle_dir=tmp_path / "bundle",
        config=cfg,
        work_dir=tmp_path / "w",
        student_dir=student_dir,
        register=False,
        progress=False,
    )
    clf = Classifier.load(result.bundle_dir)
    embedding = clf.manifest.embedding
    assert embedding["features"][-1]["features"] == list(tf.NAMES)
    plain = StaticStudent.load(student_dir)
    assert embedding["feature_dim"] == plain.feature_dim + tf.N_FEATURES
    assert clf.manifest.heads["params"]["text_features"] == ["tier"]
    from mlflow import MlflowClient

    logged = MlflowClient(tracking_uri=sqlite_tracking).get_run(result.run_id).data.metrics
    assert any(key.startswith("time/cmp_teacher_sample/") for key in logged)  # teacher + counts
    assert "tier_tuning" in clf.manifest.model_dump()
    probs = np.array([list(p.tier_ok_probs.values()) for p in clf.classify_batch(
        ["Compute 12 * 7, then 3 + 4, exactly.", "Write a detailed 2000-word essay on tax law."]
    )])  # fmt: skip
    assert (np.diff(probs, axis=1) >= 0).all()
