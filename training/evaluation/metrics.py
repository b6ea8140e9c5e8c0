"""Held-out metrics per head from probability arrays, so that the sklearn heads (during training)
and an exported bundle (during promotion) are scored by exactly the same code.

Labels follow training.ingest.labels: -1 means unknown (or censored, for tier_ok) and is left out of
that head's metrics, never counted as wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from classifier.taxonomy import DEFAULT_TAXONOMY, INTENTS, RISKS, TIERS, Taxonomy
from training.model.calibration import binary_reliability, multiclass_reliability

HEAD_LABELS: dict[str, tuple[str, ...]] = {"intent": INTENTS, "risk": RISKS, "tier": TIERS}


@dataclass
class HeadReport:
    """Metrics of one categorical head; `confusion` rows are true labels, columns predictions."""

    head: str
    labels: tuple[str, ...]
    n: int
    accuracy: float
    macro_f1: float
    precision: dict[str, float]
    recall: dict[str, float]
    ece: float
    confusion: list[list[int]]
    reliability: dict[str, Any] = field(default_factory=dict)


@dataclass
class TierOkReport:
    """Calibration and discrimination of P(tier would succeed), on observed outcomes only."""

    tier: str
    n: int
    positive_rate: float
    accuracy: float
    brier: float
    auc: float
    ece: float
    reliability: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """Everything measured on one held-out set with one model."""

    name: str
    heads: dict[str, HeadReport]
    tier_ok: dict[str, TierOkReport]

    def metrics(self) -> dict[str, float]:
        """Flat `head_metric[_class]` numbers for MLflow and the promotion gate."""
        out: dict[str, float] = {}
        for head, rep in self.heads.items():
            out[f"{head}_n"] = float(rep.n)
            out[f"{head}_accuracy"] = rep.accuracy
            out[f"{head}_macro_f1"] = rep.macro_f1
            out[f"{head}_ece"] = rep.ece
            for label in rep.labels:
                out[f"{head}_precision_{label}"] = rep.precision[label]
                out[f"{head}_recall_{label}"] = rep.recall[label]
        for tier, tier_rep in self.tier_ok.items():
            for key in ("n", "positive_rate", "accuracy", "brier", "auc", "ece"):
                out[f"tier_ok_{tier}_{key}"] = float(getattr(tier_rep, key))
        f1s = [rep.macro_f1 for rep in self.heads.values() if rep.n > 0]
        out["mean_macro_f1"] = float(np.mean(f1s)) if f1s else float("nan")
        return out


def smallest_viable_truth(tier_ok: np.ndarray) -> np.ndarray:
    """Index of the smallest tier known to succeed with every lower tier known to fail; else -1.

    A censored lower tier leaves the answer unknown, so such rows are not scored.
    """
    tier_ok = np.asarray(tier_ok)
    out = np.full(len(tier_ok), -1, dtype=np.int64)
    lower_failed = np.ones(len(tier_ok), dtype=bool)
    for t in range(tier_ok.shape[1]):
        hit = lower_failed & (tier_ok[:, t] == 1) & (out < 0)
        out[hit] = t
        lower_failed &= tier_ok[:, t] == 0
    return out


def smallest_viable_pred(p_ok: np.ndarray, threshold: float) -> np.ndarray:
    """Smallest tier whose P(ok) reaches the threshold; the largest tier when none does."""
    meets = np.asarray(p_ok) >= threshold
    return np.where(meets.any(axis=1), meets.argmax(axis=1), p_ok.shape[1] - 1)


def evaluate_probs(
    name: str,
    probs: dict[str, np.ndarray],
    intent: np.ndarray,
    risk: np.ndarray,
    tier_ok: np.ndarray,
    *,
    tier_threshold: float = 0.5,
    n_bins: int = 15,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
) -> Evaluation:
    """Score `probs` ({"intent": [N,7], "risk": [N,3], "tier_ok": [N,3]} for the default
    taxonomy, one column per label of `taxonomy`) against labels."""
    names = {"intent": taxonomy.intents, "risk": taxonomy.risks, "tier": taxonomy.tiers}
    heads = {
        "intent": _head_report("intent", probs["intent"], np.asarray(intent), n_bins, names),
        "risk": _head_report("risk", probs["risk"], np.asarray(risk), n_bins, names),
    }
    p_ok = np.asarray(probs["tier_ok"], dtype=np.float64)
    tier_true = smallest_viable_truth(tier_ok)
    tier_pred = smallest_viable_pred(p_ok, tier_threshold)
    heads["tier"] = _label_report("tier", tier_pred, tier_true, None, n_bins, names)
    tier_reports = {
        tier: _tier_ok_report(tier, p_ok[:, t], np.asarray(tier_ok)[:, t], n_bins)
        for t, tier in enumerate(taxonomy.tiers)
    }
    return Evaluation(name, heads, tier_reports)


def _head_report(
    head: str,
    proba: np.ndarray,
    y: np.ndarray,
    n_bins: int,
    names: dict[str, tuple[str, ...]] = HEAD_LABELS,
) -> HeadReport:
    proba = np.asarray(proba, dtype=np.float64)
    return _label_report(head, proba.argmax(axis=1), y, proba, n_bins, names)


def _label_report(
    head: str,
    pred: np.ndarray,
    y: np.ndarray,
    proba: np.ndarray | None,
    n_bins: int,
    names: dict[str, tuple[str, ...]] = HEAD_LABELS,
) -> HeadReport:
    labels = names[head]
    known = np.asarray(y) >= 0
    y_k, p_k = np.asarray(y)[known].astype(np.int64), np.asarray(pred)[known].astype(np.int64)
    index = list(range(len(labels)))
    if y_k.size == 0:
        nan = float("nan")
        zeros = {label: nan for label in labels}
        return HeadReport(
            head, labels, 0, nan, nan, zeros, dict(zeros), nan, [[0] * len(labels) for _ in labels]
        )
    precision, recall, _, _ = precision_recall_fscore_support(
        y_k, p_k, labels=index, zero_division=0
    )
    rel = multiclass_reliability(proba[known], y_k, n_bins) if proba is not None else None
    return HeadReport(
        head=head,
        labels=labels,
        n=int(y_k.size),
        accuracy=float(accuracy_score(y_k, p_k)),
        macro_f1=float(f1_score(y_k, p_k, labels=_present(y_k), average="macro", zero_division=0)),
        precision={label: float(v) for label, v in zip(labels, precision, strict=True)},
        recall={label: float(v) for label, v in zip(labels, recall, strict=True)},
        ece=rel.ece if rel else float("nan"),
        confusion=confusion_matrix(y_k, p_k, labels=index).tolist(),
        reliability=rel.to_dict() if rel else {},
    )


def _present(y: np.ndarray) -> list[int]:
    # Macro-F1 over the classes that occur in the truth: a class absent from a small held-out
    # set would otherwise count as a free zero and make two evaluations incomparable.
    return sorted(int(v) for v in np.unique(y))


def _tier_ok_report(tier: str, p: np.ndarray, y: np.ndarray, n_bins: int) -> TierOkReport:
    known = y >= 0
    p_k, y_k = p[known], y[known].astype(np.int64)
    if y_k.size == 0:
        nan = float("nan")
        return TierOkReport(tier, 0, nan, nan, nan, nan, nan)
    rel = binary_reliability(p_k, y_k, n_bins)
    both = 0 < y_k.sum() < y_k.size
    return TierOkReport(
        tier=tier,
        n=int(y_k.size),
        positive_rate=float(y_k.mean()),
        accuracy=float(np.mean((p_k >= 0.5) == (y_k == 1))),
        brier=float(np.mean((p_k - y_k) ** 2)),
        auc=float(roc_auc_score(y_k, p_k)) if both else float("nan"),
        ece=rel.ece,
        reliability=rel.to_dict(),
    )
