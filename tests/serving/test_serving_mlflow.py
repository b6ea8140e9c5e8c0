"""Serving from the MLflow registry alias: the champion loads, moving the alias reloads."""

from __future__ import annotations

import shutil
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


def test_champion_download_faults_are_retried_and_never_served_broken(
    tiny_bundle: Path, bundle_tools: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient registry error and a download cut short are retried after a backoff; a
    champion whose files stay broken is reported and the previous one keeps serving."""
    pytest.importorskip("mlflow")
    import mlflow
    import mlflow.artifacts

    from training.tracking import connect, log_bundle

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.chdir(tmp_path)
    client = connect(uri)
    versions = []
    for version in ("1", "2", "3"):
        bundle = bundle_tools(tiny_bundle, tmp_path / f"b{version}", version=version)
        with mlflow.start_run():
            versions.append(str(log_bundle(bundle, registered_model="tiny", tags={}).version))
    client.set_registered_model_alias("tiny", "champion", versions[0])

    real = mlflow.artifacts.download_artifacts
    faults: list[str] = []

    def faulty(*args: Any, **kwargs: Any) -> Any:
        fault = faults.pop(0) if faults else None
        if fault == "connection":
            raise ConnectionError("connection reset by peer")
        out = real(*args, **kwargs)
        if fault == "truncate":
            for onnx in Path(kwargs["dst_path"]).rglob("model.onnx"):
                onnx.write_bytes(onnx.read_bytes()[:100])
        return out

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", faulty)
    now = [0.0]
    store, metrics = ModelStore(), Metrics()
    source = MlflowSource("models:/tiny@champion", tracking_uri=uri, cache_dir=tmp_path / "cache")
    reloader = Reloader(store, source, metrics, warmup=1, interval_s=0, retry_base_s=5.0,
                        clock=lambda: now[0])  # fmt: skip
    assert reloader.check() is True and store.current is not None

    # transient: both download paths fail once, then the registry answers again
    client.set_registered_model_alias("tiny", "champion", versions[1])
    faults[:] = ["connection", "connection"]
    assert reloader.check() is False and store.current.version == "1"
    assert "connection reset" in reloader.status()["not_loaded"]["error"]
    assert reloader.status()["not_loaded"]["target"] == f"tiny/{versions[1]}"
    assert reloader.check() is False  # not before the backoff
    now[0] += 5.0
    assert reloader.check() is True and store.current.version == "2"

    # a download cut short: refused, the cached copy is discarded, the retry downloads anew
    client.set_registered_model_alias("tiny", "champion", versions[2])
    faults[:] = ["truncate"]
    assert reloader.check() is False and store.current.version == "2"
    assert not (tmp_path / "cache" / "tiny" / versions[2]).exists()
    now[0] += 5.0
    assert reloader.check() is True and store.current.version == "3"

    # a champion that stays broken: retried with growing waits, reported, never served
    client.set_registered_model_alias("tiny", "champion", versions[0])
    shutil.rmtree(tmp_path / "cache" / "tiny" / versions[0])  # so that it is downloaded again
    for attempt in range(1, 4):
        faults[:] = ["truncate"]
        assert reloader.check() is False and store.current.version == "3"
        pending = reloader.status()["not_loaded"]
        assert pending["attempts"] == attempt and pending["retry_in_s"] == 5.0 * 2 ** (attempt - 1)
        now[0] += pending["retry_in_s"]
    assert metrics.model_load_failing._value.get() == 1
