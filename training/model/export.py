"""Write a bundle: the fused graph, the served tokenizer and a manifest that describes both.

The bundle is assembled in a temporary sibling directory, loaded once by the real runtime
(which verifies hashes and the graph signature), and only then moved into place, so a failed
export never replaces a working bundle.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import onnx

from classifier.bundle import (
    FORMAT_VERSION,
    HEADS,
    INPUT_NAMES,
    MANIFEST_FILE,
    MODEL_FILE,
    OUTPUT_NAMES,
    TOKENIZER_FILE,
    Manifest,
    sha256_file,
)
from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from classifier.textwindow import TextWindow
from training.model.embed import StaticStudent
from training.model.heads import TierwiseHeads
from training.model.onnx_graph import build_graph

logger = logging.getLogger(__name__)

_PROTECTED = {
    "format_version",
    "taxonomy_version",
    "taxonomy",
    "labels",
    "inputs",
    "outputs",
    "files",
    "text_window",
    "embedding",
}


def build_manifest(
    student: StaticStudent,
    heads: TierwiseHeads,
    *,
    name: str,
    version: str,
    files: dict[str, str],
    extra_manifest: dict[str, Any] | None = None,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
) -> Manifest:
    extra = dict(extra_manifest or {})
    clash = _PROTECTED & extra.keys()
    if clash:
        raise ValueError(
            f"extra_manifest may not set {sorted(clash)}; they are derived from the model"
        )
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "taxonomy_version": taxonomy.version,
        "labels": taxonomy.labels(),
        "taxonomy": taxonomy.to_dict(),
        "inputs": list(INPUT_NAMES),
        "outputs": dict(zip(HEADS, OUTPUT_NAMES, strict=True)),
        "text_window": student.window.to_dict(),
        "embedding": {
            "kind": student.kind,
            "teacher": student.teacher,
            "student": student.name,
            "model2vec": student.meta.get("model2vec"),
            "distill_params": student.meta.get("params"),
            "dim": student.dim,
            "vocab_size": int(student.vectors.shape[0]),
            "pooling": {
                "kind": "masked means of token rows (no normalisation)",
                **student.pooling.to_dict(),
            },
            "feature_dim": student.feature_dim,
            "features": student.layout(),
            "grid_bits": student.meta.get("grid_bits"),
            "special_tokens": False,
        },
        "heads": {
            "kind": "sklearn HistGradientBoostingClassifier via skl2onnx",
            "params": heads.get_params(),
            "n_trees": heads.n_trees_,
            "tier_rows": heads.tier_rows_,
            "tier_monotone": (
                "one ordinal model, monotone in the tier by construction"
                if getattr(heads, "tier_ordinal_", None) is not None
                else "cumulative max nano -> mini -> full"
            ),
            "sklearn": package_version("scikit-learn"),
            "skl2onnx": package_version("skl2onnx"),
        },
        "thresholds": {"tier_ok": 0.5},
        "training_data": {},
        "metrics": {},
        "mlflow_run_id": None,
        "files": files,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return Manifest.model_validate(data)


def export_bundle(
    student_dir: Path | StaticStudent,
    heads: TierwiseHeads,
    out_dir: Path,
    *,
    name: str = "tierwise",
    version: str = "0",
    extra_manifest: dict[str, Any] | None = None,
    window: TextWindow | None = None,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    reference: Callable[[Any], dict[str, Any]] | None = None,
) -> Path:
    """Export `heads` over the student into a verified bundle at `out_dir`; returns out_dir.

    Pass the StaticStudent the heads were trained with (its text window goes into the bundle),
    or a student directory plus the `window` used in training. `extra_manifest` fills
    metrics, training_data, mlflow_run_id, thresholds, or adds keys. `reference` computes the
    drift reference (training.drift.reference) with the exported Classifier; its result goes
    into the manifest as `reference_stats` (outside the bundle hash: it shapes no prediction).

    Example: export_bundle(student, heads, Path("models/default"), version="3",
                           extra_manifest={"metrics": {...}, "mlflow_run_id": run_id})
    """
    if isinstance(student_dir, StaticStudent):
        student = student_dir
        if window is not None and window != student.window:
            raise ValueError(f"window {window} differs from the student's {student.window}")
    else:
        student = StaticStudent.load(Path(student_dir), window)
    if heads.n_features_in_ != student.feature_dim:
        raise ValueError(
            f"heads were fitted on {heads.n_features_in_}-d vectors, the student gives "
            f"{student.feature_dim}-d; train the heads on this student's embeddings"
        )
    widths = (heads.n_intents, heads.n_risks, heads.n_tiers)
    wanted = (len(taxonomy.intents), len(taxonomy.risks), len(taxonomy.tiers))
    if widths != wanted:
        raise ValueError(
            f"heads give (intent, risk, tier) widths {widths}, taxonomy {taxonomy.version!r} has "
            f"{wanted} labels; fit the heads with the taxonomy's label counts"
        )
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        model = build_graph(student.vectors, heads, student.pooling, student.text_features)
        onnx.save_model(model, str(staging / MODEL_FILE))
        (staging / TOKENIZER_FILE).write_text(student.encoder.tokenizer.to_str(), encoding="utf-8")
        files = {n: sha256_file(staging / n) for n in (MODEL_FILE, TOKENIZER_FILE)}
        manifest = build_manifest(
            student, heads, name=name, version=version, files=files,
            extra_manifest=extra_manifest, taxonomy=taxonomy,
        )  # fmt: skip
        (staging / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        from classifier.runtime import Classifier

        loaded = Classifier.load(staging)  # refuses anything the runtime would refuse later
        if reference is not None:
            data = {**manifest.model_dump(mode="json"), "reference_stats": reference(loaded)}
            manifest = Manifest.model_validate(data)
            (staging / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        _swap_into_place(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("exported bundle %s v%s (%d trees) to %s", name, version, heads.n_trees_, out_dir)
    return out_dir


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    os.replace(out_dir, old)
    try:
        os.replace(staging, out_dir)
    except OSError:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
