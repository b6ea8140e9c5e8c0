"""Fixtures for the train / track / promote tests: generated logs and one migrated MLflow db.

Creating MLflow's sqlite schema costs seconds, so it is done once per session and the file is
copied for each test that needs a fresh store.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray cluster on this machine's two cores, for one test module (marked `ray`)."""
    pytest.importorskip("ray", reason="the Ray engine needs the `ray` extra")
    import ray

    from training.engines.ray_runtime import start_ray

    start_ray(num_cpus=2)
    yield
    ray.shutdown()


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


# --- promotion gate: tiny registered bundles with known training windows -------------------
#
# Heads are fitted on `generated_logs` (1,500 records, sorted by time) the way the pipeline fits
# them (snapped embeddings, calibration on a later slice), exported by training.model.export with
# `training_data.window`, and registered per test in its sqlite store. Each variant differs from
# `better` in one head, so a test knows which check must trip:
#
# | bundle | trained on rows | what differs |
# |---|---|---|
# | champion | 0-999 | A with the intent head of a 300-row fit, logits x3: worse, overconfident |
# | better | 0-999 | A: every head fitted on 900 rows, calibrated on 100 |
# | overconfident | 0-999 | A with intent logits x4: same argmax, much worse ECE |
# | inverted_tiers | 0-999 | A with P(ok) of each tier reversed: routes hard requests cheap |
# | worse | 0-899 | one tree at learning rate 0.01: about the class priors |
# | memoriser | 1300-1499 | deep trees on 200 rows: perfect on them, poor elsewhere |
# | no_window | 0-999 | `better` exported without any training data record |


LOGS, CORRECTIONS, TRUTH = "logs.jsonl", "corrections.jsonl", "truth.jsonl"


@dataclass(frozen=True)
class GateBundles:
    logs_dir: Path
    ts: np.ndarray  # the records' timestamps, sorted (the row order used above)
    dirs: dict[str, Path]


def _build_gate_bundles(logs_dir: Path, student_dir: Path, out: Path) -> GateBundles:
    from training.ingest.load import load_training_set
    from training.ingest.windows import TrainingWindow
    from training.model.binning import snap_for_fit
    from training.model.calibration import calibrate_heads, fold_scale_shift
    from training.model.embed import StaticStudent
    from training.model.export import export_bundle
    from training.model.heads import TierwiseHeads

    data, _ = load_training_set([logs_dir / LOGS], [logs_dir / CORRECTIONS], None)
    student = StaticStudent.load(student_dir)
    X = student.encode(list(data.text))

    def fit(rows: range, calib: range | None = None, **params: Any) -> Any:
        idx = np.arange(rows.start, rows.stop)
        heads = TierwiseHeads(**{"max_iter": 15, "min_samples_leaf": 5, **params}).fit(
            snap_for_fit(X[idx]), data.intent[idx], data.risk[idx], data.tier_ok[idx],
            data.propensity[idx], first_tier=data.first_tier[idx],
        )  # fmt: skip
        if calib is not None:
            c = np.arange(calib.start, calib.stop)
            calibrate_heads(heads, X[c], data.intent[c], data.risk[c], data.tier_ok[c],
                            threshold=0.02, n_bins=15)  # fmt: skip
        return heads

    def variant(heads: Any, **parts: Any) -> Any:
        out = copy.deepcopy(heads)
        for name, value in parts.items():
            setattr(out, name, copy.deepcopy(value))
        return out

    a = fit(range(0, 900), range(900, 1000))
    small = fit(range(0, 300), range(300, 400))
    champion = variant(a, intent_=small.intent_)
    fold_scale_shift(champion.intent_.model, 3.0)
    overconfident = variant(a)
    fold_scale_shift(overconfident.intent_.model, 4.0)
    inverted = variant(a)
    for fit_ in inverted.tiers_:
        _negate(fit_.model)
    models = {
        "champion": (champion, range(0, 1000)),
        "better": (a, range(0, 1000)),
        "overconfident": (overconfident, range(0, 1000)),
        "inverted_tiers": (inverted, range(0, 1000)),
        "worse": (fit(range(0, 900), max_iter=1, learning_rate=0.01), range(0, 900)),
        "memoriser": (
            fit(range(1300, 1500), max_iter=25, min_samples_leaf=1),
            range(1300, 1500),
        ),
    }
    dirs = {}
    for name, (heads, rows) in models.items():
        window = TrainingWindow.of_rows(data.ts[rows.start : rows.stop])
        dirs[name] = export_bundle(
            student, heads, out / name, name="tierwise", version=name,
            extra_manifest={"training_data": {"window": window.to_manifest()}},
        )  # fmt: skip
    dirs["no_window"] = export_bundle(student, a, out / "no_window", name="tierwise",
                                      version="no_window")  # fmt: skip
    return GateBundles(logs_dir, np.asarray(data.ts), dirs)


def _negate(model: Any) -> None:
    """P(ok) -> 1 - P(ok): the same trees with every leaf and the baseline negated."""
    if model is None:  # a head that saw one class predicts a constant
        return
    for iteration in model._predictors:
        for predictor in iteration:
            predictor.nodes["value"] *= -1.0
    model._baseline_prediction = -model._baseline_prediction


def register_bundle(bundle_dir: Path) -> tuple[str, str]:
    """Log a bundle in its own MLflow run and register it; returns (version, run id)."""
    import mlflow

    from training import tracking

    tracking.connect()
    mlflow.set_experiment("tierwise")
    with mlflow.start_run(run_name=f"fixture-{bundle_dir.name}"):
        mv = tracking.log_bundle(bundle_dir, registered_model="tierwise", tags={})
    return str(mv.version), str(mv.run_id)


@pytest.fixture(scope="session")
def gate_bundles(
    generated_logs: Path, student_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> GateBundles:
    """The bundles of the table above (about a minute to fit on two busy cores)."""
    return _build_gate_bundles(generated_logs, student_dir, tmp_path_factory.mktemp("gate"))


@pytest.fixture
def registry(sqlite_tracking: str, gate_bundles: GateBundles):
    """register(name) -> (version, run id) in this test's fresh store; champion(v) sets it."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=sqlite_tracking, registry_uri=sqlite_tracking)

    class Registry:
        def register(self, name: str) -> tuple[str, str]:
            return register_bundle(gate_bundles.dirs[name])

        def champion(self, version: str | None = None) -> str | None:
            if version is not None:
                client.set_registered_model_alias("tierwise", "champion", version)
            try:
                return str(client.get_model_version_by_alias("tierwise", "champion").version)
            except Exception:  # noqa: BLE001 - MLflow raises its own error for a missing alias
                return None

    return Registry()
