"""Where bundles come from: a directory on disk, or an MLflow registry alias.

A source answers two questions: has anything changed (`signature`, cheap, polled) and where is the
bundle now (`materialize`, may download). MLflow is imported only here and only when configured,
so a directory-served process never pays for it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from classifier.errors import BundleError, ConfigError

if TYPE_CHECKING:
    from serving.settings import ServingSettings

_WATCHED_FILES = ("manifest.json", "model.onnx", "tokenizer.json")
BUNDLE_SUBDIR = "bundle"  # where training.tracking.log_bundle puts the exact bundle files


class BundleSource(Protocol):
    description: str

    def signature(self) -> str: ...

    def materialize(self) -> Path: ...


class DirectorySource:
    """A bundle directory, possibly a symlink flipped to a new version (the safe way to deploy)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.description = str(path)

    def signature(self) -> str:
        resolved = self.path.resolve()
        parts = [str(resolved)]
        for name in _WATCHED_FILES:
            file = resolved / name
            try:
                stat = file.stat()
            except FileNotFoundError:
                parts.append(f"{name}:missing")
                continue
            parts.append(f"{name}:{stat.st_mtime_ns}:{stat.st_size}")
        manifest = resolved / "manifest.json"
        if manifest.is_file():
            parts.append(hashlib.sha256(manifest.read_bytes()).hexdigest())
        return "|".join(parts)

    def materialize(self) -> Path:
        return self.path.resolve()


_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class MlflowSource:
    """`models:/NAME@alias` or `models:/NAME/VERSION`; its signature is the version it names."""

    def __init__(self, uri: str, *, tracking_uri: str | None, cache_dir: Path) -> None:
        match = _MODELS_URI.match(uri)
        if not match:
            raise ConfigError(
                f"model URI {uri!r} is not of the form models:/NAME@ALIAS or models:/NAME/VERSION"
            )
        self.uri = uri
        self.name = match["name"]
        self.alias = match["alias"]
        self.pinned_version = match["version"]
        self.tracking_uri = tracking_uri
        self.cache_dir = Path(cache_dir)
        self.description = uri
        self._client = None

    def _mlflow_client(self):  # type: ignore[no-untyped-def]
        if self._client is None:
            try:
                import mlflow
                from mlflow import MlflowClient
            except ImportError as exc:
                raise ConfigError(
                    "TIERWISE_MODEL_URI needs mlflow, which is not installed; "
                    "`pip install -e '.[train]'` or serve a bundle directory instead"
                ) from exc
            if self.tracking_uri:
                mlflow.set_tracking_uri(self.tracking_uri)
                mlflow.set_registry_uri(self.tracking_uri)
            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
        return self._client

    def _version(self) -> str:
        if self.pinned_version is not None:
            return self.pinned_version
        client = self._mlflow_client()
        try:
            return str(client.get_model_version_by_alias(self.name, self.alias).version)
        except Exception as exc:
            raise BundleError(
                f"MLflow has no version of {self.name!r} under alias {self.alias!r}: {exc}; "
                "promote one with `tierwise promote`"
            ) from exc

    def signature(self) -> str:
        return f"{self.name}/{self._version()}"

    def materialize(self) -> Path:
        version = self._version()
        target = self.cache_dir / self.name / version
        found = _find_bundle(target)
        if found is not None:
            return found
        self._mlflow_client()
        target.parent.mkdir(parents=True, exist_ok=True)
        # Download beside the cache and rename into place only once a bundle is there, so an
        # interrupted download never leaves a copy that a retry would load instead of fetching.
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
        try:
            return self._download(version, staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _download(self, version: str, staging: Path, target: Path) -> Path:
        import mlflow.artifacts

        base = f"models:/{self.name}/{version}"
        # `tierwise export` logs the exact bundle files under `bundle/` in the model's artifacts;
        # a plain directory registered some other way is searched after a full download.
        errors = []
        for uri in (f"{base}/{BUNDLE_SUBDIR}", base):
            try:
                mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=str(staging), tracking_uri=self.tracking_uri
                )
            except Exception as exc:  # MLflow raises several unrelated types here
                errors.append(f"{uri}: {exc}")
                continue
            found = _find_bundle(staging)
            if found is not None:
                shutil.rmtree(target, ignore_errors=True)
                os.replace(staging, target)
                return target / found.relative_to(staging)
        raise BundleError(
            f"{base} holds no bundle (manifest.json + model.onnx) "
            f"({'; '.join(errors) or 'none found'}); register a bundle written by `tierwise export`"
        )

    def discard(self, signature: str) -> None:
        """Forget the cached copy of a version that failed to load, so a retry downloads it anew."""
        name, _, version = signature.partition("/")
        if name == self.name and version:
            shutil.rmtree(self.cache_dir / self.name / version, ignore_errors=True)


def _find_bundle(root: Path) -> Path | None:
    """The shallowest folder under `root` holding both manifest.json and model.onnx."""
    if not root.is_dir():
        return None
    for pattern in ("manifest.json", "*/manifest.json", "*/*/manifest.json", "*/*/*/manifest.json"):
        for manifest in sorted(root.glob(pattern)):
            if (manifest.parent / "model.onnx").is_file():
                return manifest.parent
    return None


def source_from(settings: ServingSettings) -> BundleSource | None:
    """The configured source, or None when the service was started without a model."""
    if settings.bundle_path is not None:
        return DirectorySource(settings.bundle_path)
    if settings.model_uri is not None:
        return MlflowSource(
            settings.model_uri,
            tracking_uri=settings.mlflow_tracking_uri,
            cache_dir=settings.model_cache_dir,
        )
    return None
