"""The model bundle on disk: manifest schema, file hashes, and checks that refuse a mismatch.

A bundle is a directory: model.onnx (one fused graph), tokenizer.json, manifest.json.
Loading checks, in order: the manifest parses and speaks this format and taxonomy; both files
match their recorded sha256; the graph's inputs and outputs (names and widths) match the
manifest's label lists, and the feature layout stored in the graph's metadata matches the
manifest's `embedding.feature_dim` / `embedding.features` (bundles from before the layout was
recorded have neither: a plain mean); a `tier_tuning` present parses (classifier.tuning). Any
failure raises BundleError saying what to do next.
Nothing here imports onnxruntime: the runtime passes the graph's signature in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifier.errors import BundleError, ConfigError
from classifier.taxonomy import DEFAULT_TAXONOMY, TAXONOMY_VERSION, Taxonomy
from classifier.textwindow import TextWindow
from classifier.tuning import TierTuning

# 2: optional `tier_tuning` (classifier.tuning), which a format-1 runtime would silently ignore.
# Format 1 bundles still load (they carry no tuning, so the contracts' own bars decide).
FORMAT_VERSION = 2
OLDEST_FORMAT = 1
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAMES = ("intent_probs", "risk_probs", "tier_ok_probs")
HEADS = ("intent", "risk", "tier")
# Graph metadata key holding the feature layout (JSON); must equal the manifest's description.
FEATURES_METADATA_KEY = "tierwise.features"
EXPECTED_LABELS = DEFAULT_TAXONOMY.labels()  # the default taxonomy's; a bundle carries its own

_REBUILD = "rebuild it with `tierwise export` (or `tierwise train`)"


class Manifest(BaseModel):
    """manifest.json (DESIGN section 5). Unknown keys are kept, so newer writers stay readable."""

    model_config = ConfigDict(frozen=True, extra="allow")

    format_version: int
    name: str
    version: str
    created: str
    taxonomy_version: str
    labels: dict[str, list[str]]
    inputs: list[str] = Field(default_factory=lambda: list(INPUT_NAMES))
    outputs: dict[str, str] = Field(
        default_factory=lambda: dict(zip(HEADS, OUTPUT_NAMES, strict=True))
    )
    text_window: dict[str, int]
    embedding: dict[str, Any]
    heads: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=lambda: {"tier_ok": 0.5})
    training_data: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    mlflow_run_id: str | None = None
    files: dict[str, str]
    tier_tuning: dict[str, Any] | None = None
    # The whole taxonomy (classifier.taxonomy); absent from bundles before it was configurable,
    # which speak the default one.
    taxonomy: dict[str, Any] | None = None

    @property
    def label_taxonomy(self) -> Taxonomy:
        """The bundle's taxonomy (checked by `read_manifest` against `labels`)."""
        if self.taxonomy is None:
            return DEFAULT_TAXONOMY
        return Taxonomy.from_dict(self.taxonomy, "manifest.json: taxonomy")

    @property
    def window(self) -> TextWindow:
        return TextWindow.from_dict(self.text_window)

    @property
    def tier_threshold(self) -> float:
        return float(self.thresholds.get("tier_ok", 0.5))

    @property
    def abstain_thresholds(self) -> tuple[float, float, float]:
        """(min intent P, min intent margin, min risk P) below which `classify` abstains.

        Chosen at training time on held-out real text; 0 (never abstain) for older bundles.
        """
        t = self.thresholds
        return (
            float(t.get("abstain_intent_prob", 0.0)),
            float(t.get("abstain_intent_margin", 0.0)),
            float(t.get("abstain_risk_prob", 0.0)),
        )

    @property
    def features(self) -> dict[str, Any] | None:
        """The feature layout the manifest promises, in the graph metadata's shape."""
        if "features" not in self.embedding and "feature_dim" not in self.embedding:
            return None
        return {
            "feature_dim": self.embedding.get("feature_dim"),
            "layout": self.embedding.get("features"),
        }

    @property
    def bundle_hash(self) -> str:
        """Short sha256 over what shapes a prediction: both files, window and thresholds."""
        shaped = {"files": self.files, "window": self.text_window, "thresholds": self.thresholds}
        if self.tier_tuning is not None:  # decides tiers too; absent from older bundles' hash
            shaped["tier_tuning"] = self.tier_tuning
        material = json.dumps(shaped, sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=False) + "\n"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(bundle_dir: Path) -> Manifest:
    """Parse and check manifest.json against this runtime's format and taxonomy."""
    path = Path(bundle_dir) / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(
            f"{bundle_dir} has no {MANIFEST_FILE}: it is not a tierwise bundle; "
            f"point to a bundle directory or {_REBUILD}"
        )
    try:
        manifest = Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise BundleError(f"{path} is not a valid manifest ({exc}); {_REBUILD}") from exc
    if not OLDEST_FORMAT <= manifest.format_version <= FORMAT_VERSION:
        raise BundleError(
            f"bundle at {bundle_dir} was built for format {manifest.format_version}; this "
            f"runtime reads formats {OLDEST_FORMAT} to {FORMAT_VERSION}; {_REBUILD} or install "
            "a matching tierwise"
        )
    if manifest.taxonomy is None and manifest.taxonomy_version != TAXONOMY_VERSION:
        raise BundleError(
            f"bundle at {bundle_dir} speaks taxonomy {manifest.taxonomy_version} but carries no "
            f"`taxonomy` block; only taxonomy {TAXONOMY_VERSION} bundles may omit it; retrain "
            f"on current labels and {_REBUILD}"
        )
    try:
        taxonomy = manifest.label_taxonomy
    except ConfigError as exc:
        raise BundleError(f"bundle at {bundle_dir} has a bad taxonomy: {exc}; {_REBUILD}") from exc
    if taxonomy.version != manifest.taxonomy_version:
        raise BundleError(
            f"bundle at {bundle_dir} says taxonomy_version {manifest.taxonomy_version} but its "
            f"taxonomy block is version {taxonomy.version}; {_REBUILD}"
        )
    for head, expected in taxonomy.labels().items():
        if manifest.labels.get(head) != expected:
            raise BundleError(
                f"bundle at {bundle_dir} lists {head} labels {manifest.labels.get(head)}, "
                f"expected {expected} (taxonomy {taxonomy.version}); {_REBUILD}"
            )
    if list(manifest.inputs) != list(INPUT_NAMES) or [
        manifest.outputs.get(h) for h in HEADS
    ] != list(OUTPUT_NAMES):
        raise BundleError(
            f"bundle at {bundle_dir} declares inputs {manifest.inputs} and outputs "
            f"{manifest.outputs}; this runtime needs {list(INPUT_NAMES)} and "
            f"{dict(zip(HEADS, OUTPUT_NAMES, strict=True))}; {_REBUILD}"
        )
    if manifest.tier_tuning is not None:
        try:
            TierTuning.from_dict(manifest.tier_tuning)
        except ValueError as exc:
            raise BundleError(f"bundle at {bundle_dir}: {exc}; {_REBUILD}") from exc
    try:
        manifest.window  # noqa: B018 - validates sizes
    except (KeyError, ValueError, TypeError) as exc:
        raise BundleError(
            f"bundle at {bundle_dir} has a bad text_window ({exc}); {_REBUILD}"
        ) from exc
    return manifest


def verify_files(bundle_dir: Path, manifest: Manifest) -> None:
    """Refuse a bundle whose model or tokenizer is missing or differs from the manifest."""
    for name in (MODEL_FILE, TOKENIZER_FILE):
        path = Path(bundle_dir) / name
        expected = manifest.files.get(name)
        if not path.is_file():
            raise BundleError(f"bundle at {bundle_dir} is missing {name}; {_REBUILD}")
        if expected is None:
            raise BundleError(f"manifest at {bundle_dir} records no sha256 for {name}; {_REBUILD}")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(
                f"{path} has sha256 {actual[:12]}…, the manifest says {expected[:12]}…: the file "
                f"was changed or copied incompletely; copy the bundle again or {_REBUILD}"
            )


def check_signature(
    bundle_dir: Path,
    manifest: Manifest,
    inputs: Sequence[tuple[str, Sequence[Any]]],
    outputs: Sequence[tuple[str, Sequence[Any]]],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Compare the graph's (name, shape) inputs/outputs and feature layout with the manifest."""
    input_names = [name for name, _ in inputs]
    if sorted(input_names) != sorted(INPUT_NAMES):
        raise BundleError(
            f"model.onnx at {bundle_dir} takes inputs {input_names}, expected "
            f"{list(INPUT_NAMES)}; the graph does not belong to this manifest; {_REBUILD}"
        )
    shapes = dict(outputs)
    for head, output in zip(HEADS, OUTPUT_NAMES, strict=True):
        if output not in shapes:
            raise BundleError(
                f"model.onnx at {bundle_dir} has no output {output!r} (has {sorted(shapes)}); "
                f"{_REBUILD}"
            )
        shape = list(shapes[output])
        width = len(manifest.labels[head])
        if len(shape) != 2 or shape[1] != width:
            raise BundleError(
                f"model.onnx at {bundle_dir} gives {output} shape {shape}, but the manifest lists "
                f"{width} {head} labels; graph and manifest disagree; {_REBUILD}"
            )
    check_features(bundle_dir, manifest, metadata or {})


def check_features(bundle_dir: Path, manifest: Manifest, metadata: Mapping[str, str]) -> None:
    """Refuse a graph whose pooled feature layout is not the one the manifest describes.

    The heads' trees index feature columns, so a manifest describing another layout (edited, or
    paired with a graph from another export) would make every consumer of the layout, such as
    kNN routing or a re-export, compute different features than the graph.
    """
    raw = metadata.get(FEATURES_METADATA_KEY)
    try:
        graph = json.loads(raw) if raw is not None else None
    except ValueError as exc:
        raise BundleError(
            f"model.onnx at {bundle_dir} has unreadable {FEATURES_METADATA_KEY} metadata "
            f"({exc}); {_REBUILD}"
        ) from exc
    promised = manifest.features
    if graph != promised:
        raise BundleError(
            f"model.onnx at {bundle_dir} pools features {graph}, but the manifest describes "
            f"{promised}; graph and manifest disagree; {_REBUILD}"
        )
