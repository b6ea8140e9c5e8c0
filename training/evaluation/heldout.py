"""The trained model on its held-out sets: per-split evaluations and the manifest's headline.

`time` is the newest slice of the logs, `unseen` the rows of held-out templates and domains;
each is scored against the logged labels and, when the simulator's truth is given, against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from classifier.taxonomy import TIERS
from training.config import TrainConfig
from training.evaluation.metrics import Evaluation, evaluate_probs
from training.ingest.labels import TrainingSet
from training.ingest.splits import Splits, Truth


def labels_of(data: TrainingSet, index: np.ndarray, truth: Truth | None = None) -> dict[str, Any]:
    """Intent, risk and tier_ok of the rows `index`, from the logs or from the truth."""
    source: Any = truth if truth is not None else data
    return {
        "intent": source.intent[index],
        "risk": source.risk[index],
        "tier_ok": source.tier_ok[index],
    }


def evaluate_heldout(
    cfg: TrainConfig,
    heads: Any,
    X: np.ndarray,
    data: TrainingSet,
    splits: Splits,
    truth: Truth | None,
) -> dict[str, Evaluation]:
    """The production student on each held-out set, against logged labels and (if any) truth."""
    kw: dict[str, Any] = {
        "tier_threshold": cfg.evaluate.tier_threshold,
        "n_bins": cfg.calibration.n_bins,
        "taxonomy": cfg.label_taxonomy(),
    }
    out: dict[str, Evaluation] = {}
    sets = {"time": splits.test_time, "unseen": splits.test_unseen}
    for name, index in sets.items():
        if len(index) == 0:
            continue
        probs = heads.predict_proba(X[index])
        out[f"{name}/student"] = evaluate_probs(
            f"{name}/student", probs, **labels_of(data, index), **kw
        )
        if truth is not None:
            key = f"{name}_truth/student"
            out[key] = evaluate_probs(key, probs, **labels_of(data, index, truth), **kw)
    return out


def evaluate_dev(cfg: TrainConfig, heads: Any, real: Any) -> Evaluation:
    """The hand-labelled real development set (never trained on); no tier outcomes there."""
    n = len(real.dev_texts)
    return evaluate_probs(
        "dev/student",
        heads.predict_proba(real.X_dev),
        real.dev_intent,
        real.dev_risk,
        np.full((n, len(TIERS)), -1),
        tier_threshold=cfg.evaluate.tier_threshold,
        n_bins=cfg.calibration.n_bins,
    )


def headline(evaluations: dict[str, Evaluation]) -> dict[str, float]:
    """Per-head accuracy / macro-F1 / ECE of the production student: goes into the manifest."""
    out: dict[str, float] = {}
    for key, ev in evaluations.items():
        if not key.endswith("/student"):
            continue
        for head, rep in ev.heads.items():
            for metric in ("accuracy", "macro_f1", "ece"):
                value = getattr(rep, metric)
                if np.isfinite(value):
                    out[f"{key}/{head}_{metric}"] = round(float(value), 5)
        out[f"{key}/mean_macro_f1"] = round(ev.metrics()["mean_macro_f1"], 5)
    return out


def bundle_latency_ms(bundle_dir: Path, texts: list[str]) -> float:
    """Median per-text time of the served path: what a router pays per request."""
    from classifier.runtime import Classifier
    from training.evaluation.teacher import per_text_latency_ms

    clf = Classifier.load(bundle_dir)
    return per_text_latency_ms(lambda batch: clf.classify(batch[0]), texts)
