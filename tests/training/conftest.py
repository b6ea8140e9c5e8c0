"""Fixtures for the train / track / promote tests: generated logs and one migrated MLflow db.

Creating MLflow's sqlite schema costs seconds, so it is done once per session and the file is
copied for each test that needs a fresh store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def generated_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 simulated records (logs.jsonl, corrections.jsonl, truth.jsonl) in one dir."""
    from data.generator import generate

    out = tmp_path_factory.mktemp("generated")
    generate(1500, seed=3, out_dir=out)
    return out


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def sqlite_tracking(
    tmp_path: Path, migrated_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh sqlite store in tmp_path as the working directory's default, as a user gets it."""
    shutil.copyfile(migrated_mlflow_db, tmp_path / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TIERWISE_CACHE_DIR", str(tmp_path / "cache"))  # embedding cache
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


SMALL = {
    "realtext.enabled": False,  # the real-text stage has its own test (test_pipeline_realtext)
    "heads.max_iter": 15,
    "teacher.train_sample": 150,
    "teacher.eval_sample": 60,
    "teacher.latency_sample": 3,
    "promote.max_rows": 400,
}


@pytest.fixture
def small_config():
    """Build a config that keeps a test run to seconds (few trees, a tiny teacher sample)."""
    from training.config import load_config

    def build(**extra: object):
        values = {**SMALL, **{k.replace("__", "."): v for k, v in extra.items()}}
        return load_config(overrides=[f"{k}={v}" for k, v in values.items()])

    return build
