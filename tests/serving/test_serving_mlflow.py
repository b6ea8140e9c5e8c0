"""Serving from the MLflow registry alias: the champion loads, moving the alias reloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from serving.metrics import Metrics
from serving.model_store import ModelStore
from serving.reload import Reloader
from serving.sources import MlflowSource

pytestmark = pytest.mark.slow


def test_champion_alias_is_served_and_followed(
    tiny_bundle: Path, bundle_tools: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    import mlflow

    from training.tracking import connect, log_bundle

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.chdir(tmp_path)  # mlflow's default artifact root is relative to the cwd
    client = connect(uri)
    versions = []
    for version, threshold in (("1", None), ("2", 0.9)):
        bundle = bundle_tools(
            tiny_bundle, tmp_path / f"b{version}", version=version, threshold=threshold
        )
        with mlflow.start_run():
            versions.append(log_bundle(bundle, registered_model="tiny", tags={}).version)
    client.set_registered_model_alias("tiny", "champion", versions[0])

    store, metrics = ModelStore(), Metrics()
    source = MlflowSource("models:/tiny@champion", tracking_uri=uri, cache_dir=tmp_path / "cache")
    reloader = Reloader(store, source, metrics, warmup=1, interval_s=0)
    assert reloader.check() is True
    assert store.current is not None and store.current.version == "1"
    assert reloader.check() is False

    client.set_registered_model_alias("tiny", "champion", versions[1])
    assert reloader.check() is True
    assert store.current.version == "2"
    assert metrics.model_loads._value.get() == 2

    missing = MlflowSource("models:/tiny@nobody", tracking_uri=uri, cache_dir=tmp_path / "cache")
    bad = Reloader(ModelStore(), missing, Metrics(), warmup=0, interval_s=0)
    assert bad.check() is False and "nobody" in (bad.store.last_error or "")
