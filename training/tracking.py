"""MLflow: where runs go, what each run records, and how bundles enter and leave the registry.

The bundle is logged once, as an MLflow model with two flavours: ONNX (so the registry and any
MLflow tooling see a real ONNX model) and a pyfunc over the ONNX runtime (training.pyfunc_model,
so `mlflow.pyfunc.spark_udf` scores texts), with the exact bundle files (model.onnx,
tokenizer.json, manifest.json) copied byte for byte under `bundle/` inside that model's
artifacts. `download_bundle` returns that directory, so what is promoted or re-exported is
exactly what was evaluated.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from classifier.errors import BundleError, ConfigError

logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
MODEL_NAME_IN_RUN = "bundle"  # the logged model's name inside the run
BUNDLE_SUBDIR = "bundle"  # exact bundle files inside the logged model's artifacts
BUNDLE_FILES = ("model.onnx", "tokenizer.json", "manifest.json")
CHAMPION, CHALLENGER = "champion", "challenger"


def resolve_tracking_uri(configured: str | None = None) -> str:
    """Config value, else `$MLFLOW_TRACKING_URI`, else a sqlite file in the working directory.

    A relative sqlite path is made absolute here: MLflow caches stores by URI string, so
    `sqlite:///mlflow.db` would otherwise keep pointing at the first directory it was used in.
    """
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        uri = prefix + str(Path.cwd() / uri[len(prefix) :])
    return uri


def connect(tracking_uri: str | None = None) -> Any:
    """Point MLflow at the store and return an `MlflowClient` for it."""
    import mlflow
    from mlflow import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def log_config(config: Any) -> None:
    """Every key as a param (searchable in the UI) and the whole tree as config.json."""
    import mlflow

    flat = {k: ("null" if v is None else v) for k, v in config.flat().items()}
    mlflow.log_params(flat)
    mlflow.log_dict(config.to_dict(), "config.json")


def log_fingerprint(report: Mapping[str, Any], splits: Mapping[str, int]) -> dict[str, Any]:
    """Data fingerprint as params (rows, time range, hash, quarantine count) + the full report."""
    import mlflow

    time_range = report.get("time_range") or [None, None]
    fingerprint = {
        "data.rows_read": report.get("lines_read"),
        "data.rows_valid": report.get("valid"),
        "data.quarantined": report.get("quarantined"),
        "data.time_start": time_range[0],
        "data.time_end": time_range[1],
        "data.sha256": report.get("fingerprint"),
        **{f"split.{name}": rows for name, rows in splits.items()},
    }
    mlflow.log_params({k: ("null" if v is None else v) for k, v in fingerprint.items()})
    mlflow.log_dict(dict(report), "ingest_report.json")
    return fingerprint


def log_metrics(metrics: Mapping[str, float], prefix: str = "") -> None:
    """Finite numbers only: MLflow charts choke on NaN; an absent metric reads 'not scored'."""
    import mlflow

    clean = {
        metric_name(f"{prefix}{k}"): float(v)
        for k, v in metrics.items()
        if v is not None and math.isfinite(float(v))
    }
    if clean:
        mlflow.log_metrics(clean)


def metric_name(text: str) -> str:
    """MLflow allows alphanumerics and `_ - . : / space` in names; anything else becomes `_`."""
    return re.sub(r"[^A-Za-z0-9_\-.:/ ]", "_", text)


def log_bundle(bundle_dir: Path, *, registered_model: str, tags: Mapping[str, str]) -> Any:
    """Log the bundle as an ONNX-flavor model of the active run and register it; returns the
    ModelVersion. Registration happens after the exact bundle files are uploaded, so a registered
    version is never missing its tokenizer or manifest."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import Model

    from training import pyfunc_model

    bundle_dir = Path(bundle_dir)
    missing = [f for f in BUNDLE_FILES if not (bundle_dir / f).is_file()]
    if missing:
        raise BundleError(f"bundle {bundle_dir} lacks {missing}; rebuild it with `tierwise train`")
    # One logged model, two flavours (onnx + tierwise's pyfunc), the exact files under bundle/.
    info = Model.log(None, pyfunc_model, name=MODEL_NAME_IN_RUN, bundle_dir=bundle_dir)
    client = MlflowClient()
    version = mlflow.register_model(f"models:/{info.model_id}", registered_model)
    for key, value in tags.items():
        client.set_model_version_tag(registered_model, version.version, key, str(value))
    return version


def get_alias(client: Any, name: str, alias: str) -> Any | None:
    """The version holding `alias`, or None when no version has it (or the model is unknown)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def assign_initial_alias(client: Any, name: str, version: str) -> str:
    """Every trained version becomes `challenger`, the first one too: `champion` moves only
    through `tierwise promote`'s gate (the first champion with `--allow-first-champion`)."""
    client.set_registered_model_alias(name, CHALLENGER, str(version))
    return CHALLENGER


def get_version(client: Any, name: str, version: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise ConfigError(
            f"registered model {name!r} has no version {version!r} at "
            f"{resolve_tracking_uri()}; list versions in the MLflow UI or check MLFLOW_TRACKING_URI"
        ) from exc


def download_bundle(name: str, version: str, dst: Path) -> Path:
    """Copy the exact bundle of a registered version into `dst` and return that directory."""
    import mlflow

    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}/{BUNDLE_SUBDIR}", dst_path=str(dst / ".dl")
        )
    )
    target = dst / f"{name}-v{version}"
    if target.exists():
        shutil.rmtree(target)
    shutil.move(str(local), target)
    shutil.rmtree(dst / ".dl", ignore_errors=True)
    return target


def resolve_version(
    client: Any,
    name: str,
    *,
    version: str | None = None,
    alias: str | None = None,
    run_id: str | None = None,
) -> str:
    """One registered version from exactly one of: a version, an alias, a training run id."""
    if version is not None:
        return str(get_version(client, name, version).version)
    if alias is not None:
        found = get_alias(client, name, alias)
        if found is None:
            raise ConfigError(
                f"registered model {name!r} has no alias {alias!r} at "
                f"{resolve_tracking_uri()}; train one or `tierwise promote` first"
            )
        return str(found.version)
    if run_id is not None:
        versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
        if not versions:
            raise ConfigError(
                f"run {run_id} registered no version of {name!r}; was it trained "
                "with --no-register? Retrain without it"
            )
        return str(max(int(v.version) for v in versions))
    raise ConfigError("name a version, an alias or a run id")


def export_registered(
    config: Any,
    out: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    alias: str | None = None,
    run_id: str | None = None,
) -> tuple[Path, str]:
    """Download a registered bundle, check it loads, then put it at `out` (atomically).

    A bundle that does not load never replaces what is at `out`.
    """
    import tempfile

    from classifier.runtime import Classifier

    name = name or config.tracking.registered_model
    client = connect(config.tracking.tracking_uri)
    number = resolve_version(client, name, version=version, alias=alias, run_id=run_id)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-", dir=out.parent) as tmp:
        bundle = download_bundle(name, number, Path(tmp))
        Classifier.load(bundle)
        if out.exists():
            old = Path(tmp) / "previous"
            os.replace(out, old)
        os.replace(bundle, out)
    return out, number
