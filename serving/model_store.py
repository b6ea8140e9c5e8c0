"""The model currently served, and how a candidate becomes it.

A request reads `store.current` once and uses that object throughout, so a swap (one attribute
assignment) is atomic from every request's point of view: no request ever mixes two bundles.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.errors import BundleError
from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy, require_same

if TYPE_CHECKING:
    from classifier.runtime import Classifier

log = logging.getLogger(__name__)

# Texts that exercise short, medium and long windows, so that a new bundle's first real request
# does not pay onnxruntime's first-run allocations.
_WARMUP_TEXTS = (
    "hi",
    "Summarize this thread for the weekly update: the deploy slipped two days.",
    "Write a Python function that parses RFC 3339 timestamps and add unit tests. " * 8,
    "Review this contract clause against our data-retention policy and list violations. " * 40,
)


@dataclass(frozen=True)
class LoadedModel:
    """A warmed classifier plus what responses and metadata report about it."""

    classifier: Classifier
    name: str
    version: str
    bundle_hash: str
    taxonomy_version: str
    source: str
    labels: dict[str, tuple[str, ...]]
    loaded_at: float = field(default_factory=time.time)


def _manifest_get(manifest: Any, key: str, default: Any = None) -> Any:
    if isinstance(manifest, dict):
        return manifest.get(key, default)
    return getattr(manifest, key, default)


def _labels_of(taxonomy: Taxonomy) -> dict[str, tuple[str, ...]]:
    return {"intent": taxonomy.intents, "risk": taxonomy.risks, "tier": taxonomy.tiers}


def load_bundle(
    bundle_dir: Path,
    *,
    intra_op_threads: int,
    warmup: int,
    source: str,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    contracts_source: str = "the packaged contracts",
) -> LoadedModel:
    """Load, check and warm a bundle; raises BundleError (never half-loads) when it is unusable.

    `Classifier.load` is the one check of a bundle (manifest, format, its own taxonomy, files,
    graph, tokenizer, one probe run); the `warmup` requests here only pay first-run allocations.
    `taxonomy` is the contracts' one: a bundle that speaks another is refused, naming the labels
    that differ, so that a decision never meets a label its contracts do not know.
    """
    from classifier.runtime import Classifier

    if not (bundle_dir / "manifest.json").is_file():  # the operator's hint: which setting to fix
        raise BundleError(
            f"no manifest.json in {bundle_dir}; point TIERWISE_BUNDLE_PATH at a directory "
            "written by `tierwise export`"
        )
    try:
        classifier = Classifier.load(bundle_dir, intra_op_threads=intra_op_threads)
        for index in range(warmup):
            classifier.classify(_WARMUP_TEXTS[index % len(_WARMUP_TEXTS)])
    except BundleError:
        raise
    except Exception as exc:  # onnxruntime, json and OS errors all mean "unusable bundle"
        raise BundleError(
            f"bundle at {bundle_dir} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    manifest = classifier.manifest
    require_same(
        classifier.taxonomy, taxonomy, bundle_source=str(bundle_dir),
        contracts_source=contracts_source,
    )  # fmt: skip
    return LoadedModel(
        classifier=classifier,
        name=str(_manifest_get(manifest, "name", "tierwise")),
        version=str(classifier.model_version),
        bundle_hash=str(classifier.bundle_hash),
        taxonomy_version=classifier.taxonomy_version,
        source=source,
        labels=_labels_of(classifier.taxonomy),
    )


class ModelStore:
    """Holds the served model; `swap` is the only way it changes."""

    def __init__(self) -> None:
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()  # serialises loaders, never taken on the request path
        self._listeners: list[Any] = []

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def on_swap(self, listener: Any) -> None:
        """Call `listener(old, new)` after every swap (the cache clears itself this way)."""
        self._listeners.append(listener)

    def swap(self, new: LoadedModel) -> LoadedModel | None:
        old, self.current = self.current, new
        self.last_error = None
        for listener in self._listeners:
            listener(old, new)
        log.info(
            "serving %s version %s (bundle %s) from %s",
            new.name,
            new.version,
            new.bundle_hash[:12],
            new.source,
        )
        return old
