"""Hot reload with real files, in process: swaps good bundles, never lets a bad one replace them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from classifier.errors import BundleError
from serving.metrics import Metrics
from serving.model_store import ModelStore, load_bundle
from serving.reload import Reloader
from serving.sources import DirectorySource


def _reloader(path: Path) -> tuple[Reloader, ModelStore, Metrics]:
    store, metrics = ModelStore(), Metrics()
    return Reloader(store, DirectorySource(path), metrics, warmup=1, interval_s=0), store, metrics


def test_swap_refuse_and_no_retry_until_changed(
    tiny_bundle: Path, bundle_tools: Any, tmp_path: Path
) -> None:
    live = bundle_tools(tiny_bundle, tmp_path / "live")
    reloader, store, metrics = _reloader(live)
    swaps: list[tuple[Any, Any]] = []
    store.on_swap(lambda old, new: swaps.append((old, new)))

    assert reloader.check() is True and store.current is not None
    first = store.current
    assert reloader.check() is False  # nothing changed: no reload, no work
    (live / "manifest.json").touch()  # same content, new mtime: reloaded but not swapped
    assert reloader.check() is False and store.current is first

    bundle_tools(tiny_bundle, live, version="2", threshold=0.9)
    assert reloader.check() is True
    assert store.current.version == "2" and store.current.bundle_hash != first.bundle_hash
    assert swaps[-1] == (first, store.current)

    serving = store.current
    (live / "tokenizer.json").write_text("{}")
    assert reloader.check() is False
    assert store.current is serving
    assert metrics.model_load_failures._value.get() == 1
    assert store.last_error and "tokenizer" in store.last_error
    assert reloader.check() is False  # the same broken state is not retried every poll
    assert metrics.model_load_failures._value.get() == 1


def test_taxonomy_mismatch_is_refused(tiny_bundle: Path, bundle_tools: Any, tmp_path: Path) -> None:
    other = bundle_tools(tiny_bundle, tmp_path / "other")
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["taxonomy_version"] = "999"
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="taxonomy"):
        load_bundle(other, intra_op_threads=1, warmup=0, source="test")


def test_missing_directory_counts_a_failure(tmp_path: Path) -> None:
    reloader, store, metrics = _reloader(tmp_path / "absent")
    assert reloader.check() is False and store.current is None
    assert metrics.model_load_failures._value.get() == 1
    assert "manifest.json" in (store.last_error or "")


class Clock:
    """The reloader's clock, moved by the test: backoff is checked without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_transient_load_error_is_retried_with_backoff(
    tiny_bundle: Path, bundle_tools: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = bundle_tools(tiny_bundle, tmp_path / "live")
    store, metrics, clock = ModelStore(), Metrics(), Clock()
    reloader = Reloader(store, DirectorySource(live), metrics, warmup=1, interval_s=0,
                        retry_base_s=2.0, retry_max_s=30.0, clock=clock)  # fmt: skip
    real = load_bundle
    failures = iter([OSError("connection reset by peer"), OSError("read timed out")])

    def flaky(*args: Any, **kwargs: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr("serving.reload.load_bundle", flaky)
    assert reloader.check() is False and store.current is None
    status = reloader.status()["not_loaded"]
    assert status["attempts"] == 1 and "connection reset" in status["error"]
    assert status["retry_in_s"] == 2.0
    assert metrics.model_load_failing._value.get() == 1
    clock.now += 1.9
    assert reloader.check() is False and reloader.status()["not_loaded"]["attempts"] == 1
    clock.now += 0.1  # the first retry falls due after 2 s
    assert reloader.check() is False
    assert reloader.status()["not_loaded"]["attempts"] == 2
    assert reloader.status()["not_loaded"]["retry_in_s"] == 4.0  # doubled
    clock.now += 4.0
    assert reloader.check() is True and store.current is not None
    assert reloader.status()["not_loaded"] is None
    assert metrics.model_load_failing._value.get() == 0
    assert metrics.model_load_failures._value.get() == 2
    assert store.last_error is None


def test_a_permanently_broken_bundle_is_reported_and_never_served(
    tiny_bundle: Path, bundle_tools: Any, tmp_path: Path
) -> None:
    live = bundle_tools(tiny_bundle, tmp_path / "live")
    store, metrics, clock = ModelStore(), Metrics(), Clock()
    reloader = Reloader(store, DirectorySource(live), metrics, warmup=1, interval_s=0,
                        retry_base_s=1.0, retry_max_s=8.0, clock=clock)  # fmt: skip
    assert reloader.check() is True
    serving = store.current
    bundle_tools(tiny_bundle, live, version="2")
    (live / "model.onnx").write_bytes(b"truncated")
    waits = []
    for _ in range(6):
        assert reloader.check() is False
        pending = reloader.status()["not_loaded"]
        waits.append(pending["retry_in_s"])
        clock.now += pending["retry_in_s"]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # doubling, then capped
    assert pending["attempts"] == 6 and str(live) in pending["target"]
    assert store.current is serving and store.current.version == "1"
    assert metrics.model_load_failing._value.get() == 1
    assert metrics.model_load_attempts._value.get() == 6
    # the source is fixed: the next check loads it at once, whatever the backoff said
    clock.now -= 100
    bundle_tools(tiny_bundle, live, version="3")
    assert reloader.check() is True and store.current.version == "3"
    assert metrics.model_load_failing._value.get() == 0


def test_readiness_reports_a_bundle_that_cannot_be_loaded(
    tiny_bundle: Path, bundle_tools: Any, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.settings import ServingSettings

    live = bundle_tools(tiny_bundle, tmp_path / "live")
    (live / "tokenizer.json").write_text("{}")
    settings = ServingSettings(bundle_path=live, reload_interval_s=0, warmup_requests=1)
    with TestClient(create_app(settings)) as client:
        got = client.get("/v2/health/ready")
        assert got.status_code == 503
        body = got.json()
        assert body["ready"] is False and "tokenizer" in body["reason"]
        assert body["reload"]["not_loaded"]["attempts"] == 1
        assert any("cannot be loaded" in d for d in body["degraded"])
        metrics = client.get("/metrics").text
        assert "tierwise_model_load_failing 1.0" in metrics
        assert "tierwise_model_load_attempts 1.0" in metrics
