"""What one training run leaves to read: report.md with plots, metrics.json, and in MLflow every
evaluation, the calibration and the held-out rows that promotion rescores on."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from training.config import TrainConfig
from training.evaluation.metrics import Evaluation
from training.evaluation.report import render_markdown, write_plots
from training.ingest.labels import TrainingSet
from training.ingest.splits import Splits

HELDOUT_ARTIFACT = "eval/heldout_time.jsonl"
HELDOUT_LOG_CAP = 20_000  # rows of the time-split test set kept for inspection


def log_eval_artifacts(
    evaluations: dict[str, Evaluation],
    calibrations: list[Any],
    data: TrainingSet,
    splits: Splits,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
) -> None:
    """All numbers as JSON, and the time-split test rows so promotion can rescore on them."""
    import mlflow

    mlflow.log_dict({k: asdict(v) for k, v in evaluations.items()}, "eval/evaluations.json")
    calibration = [c.to_dict() for c in calibrations]  # a JSON list: log_dict is typed for dicts
    mlflow.log_text(json.dumps(calibration, indent=2, default=str), "eval/calibration.json")
    index = splits.test_time
    if len(index) > HELDOUT_LOG_CAP:
        index = np.sort(np.random.default_rng(0).choice(index, HELDOUT_LOG_CAP, replace=False))
    mlflow.log_text(heldout_jsonl(data, index, taxonomy), HELDOUT_ARTIFACT)


def heldout_jsonl(
    data: TrainingSet, index: np.ndarray, taxonomy: Taxonomy = DEFAULT_TAXONOMY
) -> str:
    """Held-out rows as JSONL: text, feature and labels by name (null = unknown / censored)."""
    intents, risks = taxonomy.intents, taxonomy.risks
    lines = []
    for i in index:
        tier_ok = {
            tier: (None if v < 0 else bool(v))
            for tier, v in zip(taxonomy.tiers, data.tier_ok[i], strict=True)
        }
        lines.append(
            orjson.dumps(
                {
                    "request_id": data.request_id[i],
                    "ts": float(data.ts[i]),
                    "feature": data.feature[i],
                    "text": data.text[i],
                    "intent": intents[data.intent[i]] if data.intent[i] >= 0 else None,
                    "risk": risks[data.risk[i]] if data.risk[i] >= 0 else None,
                    "tier_ok": tier_ok,
                }
            ).decode()
        )
    return "\n".join(lines) + "\n"


def write_report(
    report_dir: Path,
    *,
    cfg: TrainConfig,
    run_id: str,
    version_label: str,
    model_version: str | None,
    alias: str | None,
    ingest: dict[str, Any],
    splits: Splits,
    evaluations: dict[str, Evaluation],
    comparison: Any,
    latency: dict[str, float],
    calibrations: list[dict[str, Any]],
    timings: dict[str, float],
) -> Path:
    """report.md (with its plots) and metrics.json in `report_dir`; returns report.md's path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    images: list[str] = []
    for key in ("time/student", "unseen/student", "unseen_truth/student"):
        if key in evaluations:
            stem = key.replace("/", "_")
            images += [p.name for p in write_plots(evaluations[key], report_dir, stem)]
    text = render_markdown(
        title=f"tierwise evaluation report: {version_label}",
        summary=_summary(cfg, run_id, version_label, model_version, alias, ingest, splits),
        evaluations=evaluations,
        comparisons=comparison.groups if comparison else [],
        latency_ms=latency,
        calibrations=calibrations,
        timings=timings,
        images=images,
        notes=_notes(cfg, comparison),
    )
    path = report_dir / "report.md"
    path.write_text(text, encoding="utf-8")
    (report_dir / "metrics.json").write_text(
        json.dumps({k: v.metrics() for k, v in evaluations.items()}, indent=1, default=float)
    )
    return path


def _summary(
    cfg: TrainConfig,
    run_id: str,
    version_label: str,
    model_version: str | None,
    alias: str | None,
    ingest: dict[str, Any],
    splits: Splits,
) -> dict[str, str]:
    summary = {
        "model": f"{cfg.tracking.registered_model} {version_label}"
        + (f" (registry version {model_version}, alias `{alias}`)" if model_version else ""),
        "MLflow run": run_id,
        "data": f"{ingest.get('valid')} valid of {ingest.get('lines_read')} read, "
        f"{ingest.get('quarantined')} quarantined; time range {ingest.get('time_range')}; "
        f"sha256 {str(ingest.get('fingerprint'))[:16]}…",
        "splits": ", ".join(f"{k} {v}" for k, v in splits.sizes().items())
        + f" (test_time from {_utc(splits.cutoff_ts)})",
    }
    if splits.holdout_domains or splits.holdout_templates:
        summary["unseen"] = (
            f"domains {splits.holdout_domains}, "
            f"{len(splits.holdout_templates)} templates (never trained on)"
        )
    return summary


def _notes(cfg: TrainConfig, comparison: Any) -> list[str]:
    notes = [
        "`time` = newest logs (split by time), `unseen` = rows of held-out templates/domains; "
        "both scored against the logged labels (unknown labels and censored tier outcomes are "
        "left out); `*_truth` rows score the same predictions against the simulator's truth.",
        "`tier` = smallest viable tier: smallest tier with P(ok) >= "
        f"{cfg.evaluate.tier_threshold}; scored only where the labels determine it.",
    ]
    if comparison is not None:
        notes.append(
            "Teacher comparison on a seeded sample: heads fitted on "
            f"{comparison.sizes.get('train_sample')} training rows with teacher and with student "
            "embeddings (`sample`); `all rows` is the production model on the same rows."
        )
    return notes


def _utc(epoch: float) -> str:
    return f"{dt.datetime.fromtimestamp(epoch, dt.UTC):%Y-%m-%d %H:%M} UTC"


def copy_report(report_dir: Path, target: Path) -> None:
    """Copy report.md to `target` and its images to `<target stem>/`, links rewritten."""
    assets = target.with_suffix("")
    assets.mkdir(parents=True, exist_ok=True)
    text = (report_dir / "report.md").read_text(encoding="utf-8")
    for png in sorted(report_dir.glob("*.png")):
        shutil.copyfile(png, assets / png.name)
        text = text.replace(f"]({png.name})", f"]({assets.name}/{png.name})")
    target.write_text(text, encoding="utf-8")
