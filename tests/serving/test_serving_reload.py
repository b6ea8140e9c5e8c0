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
