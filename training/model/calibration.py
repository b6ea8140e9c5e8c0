"""Calibration: measure it (ECE, reliability curves) and repair it inside the trees themselves.

A gradient-boosted head turns a raw score `f = baseline + sum(leaf values)` into a probability
with a sigmoid (binary) or softmax (multiclass). Platt scaling `sigmoid(a*f + b)` and temperature
scaling `softmax(f / T)` are therefore exact edits of the fitted estimator: multiply every leaf
value and the baseline by the scale, add the shift to the baseline. The calibrated head stays a
plain HistGradientBoostingClassifier, so skl2onnx exports it unchanged and parity still holds.
Isotonic regression cannot be folded that way (it would need a lookup after the trees), which is
why it is not offered here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

_EPS = 1e-12


@dataclass(frozen=True)
class Reliability:
    """Per-bin mean confidence, accuracy and count: the data of one reliability curve."""

    confidence: list[float]
    accuracy: list[float]
    count: list[int]
    ece: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reliability(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> Reliability:
    """Equal-width bins over [0, 1]; ECE is the count-weighted |accuracy - confidence| gap."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidence.size == 0:
        return Reliability([], [], [], float("nan"))
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    used = counts > 0
    mean_conf = conf_sum[used] / counts[used]
    mean_acc = acc_sum[used] / counts[used]
    ece = float(np.sum(counts[used] * np.abs(mean_acc - mean_conf)) / confidence.size)
    return Reliability(mean_conf.tolist(), mean_acc.tolist(), counts[used].tolist(), ece)


def multiclass_reliability(proba: np.ndarray, y: np.ndarray, n_bins: int = 15) -> Reliability:
    """Top-label calibration: is the predicted class right as often as its probability says?"""
    proba = np.asarray(proba)
    return reliability(proba.max(axis=1), proba.argmax(axis=1) == y, n_bins)


def binary_reliability(p_pos: np.ndarray, y: np.ndarray, n_bins: int = 15) -> Reliability:
    """Calibration of P(positive) itself, the number the routing decision multiplies by cost."""
    return reliability(p_pos, np.asarray(y) == 1, n_bins)


# --- fitting a scale and shift on raw scores -------------------------------------------------


def fit_temperature(raw: np.ndarray, y: np.ndarray) -> float:
    """Temperature T minimising the log-loss of softmax(raw / T); returned as scale = 1/T."""
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)

    def loss(params: np.ndarray) -> float:
        z = raw * np.exp(params[0])
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[np.arange(len(y)), y]))

    result = minimize(loss, x0=np.zeros(1), method="L-BFGS-B", bounds=[(-4.0, 4.0)])
    return float(np.exp(result.x[0]))


def fit_platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the log-loss of sigmoid(a * raw + b) on binary labels."""
    raw = np.asarray(raw, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()

    def loss(params: np.ndarray) -> float:
        z = params[0] * raw + params[1]
        # log(1 + exp(-z)) for y=1 and log(1 + exp(z)) for y=0, computed stably
        return float(np.mean(np.logaddexp(0.0, -z) * y + np.logaddexp(0.0, z) * (1.0 - y)))

    result = minimize(
        loss, x0=np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(0.02, 50.0), (-20.0, 20.0)]
    )
    return float(result.x[0]), float(result.x[1])


# --- folding into a fitted HistGradientBoostingClassifier ------------------------------------


def raw_scores(estimator: Any, X: np.ndarray) -> np.ndarray:
    """The scores before the link function: [N] for a binary head, [N, K] for multiclass."""
    return np.asarray(estimator.decision_function(X), dtype=np.float64)


def fold_scale_shift(estimator: Any, scale: float, shift: float = 0.0) -> None:
    """Make `estimator` compute link(scale * f + shift) instead of link(f), in place.

    Positive scale keeps every ranking (and therefore argmax and any monotone combination of
    heads) unchanged; only the confidence moves.
    """
    if scale <= 0:
        raise ValueError(f"calibration scale must be positive, got {scale}")
    for iteration in estimator._predictors:
        for predictor in iteration:
            predictor.nodes["value"] *= scale
    estimator._baseline_prediction = estimator._baseline_prediction * scale + shift


@dataclass(frozen=True)
class Calibration:
    """What was done to one head; logged so a reader can see why its probabilities moved."""

    head: str
    method: str  # "none" | "temperature" | "platt"
    scale: float
    shift: float
    ece_before: float
    ece_after: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate_estimator(
    head: str, estimator: Any, X: np.ndarray, y: np.ndarray, *, threshold: float, n_bins: int
) -> Calibration:
    """Calibrate one fitted HGB classifier on a held-out slice if its ECE there exceeds threshold.

    The fold is kept only when it lowers ECE on the slice; the held-out test set never sees it.
    """
    n_classes = len(estimator.classes_)
    raw = raw_scores(estimator, X)
    if n_classes > 2:
        index = np.searchsorted(estimator.classes_, y)
        before = multiclass_reliability(_softmax(raw), index, n_bins).ece
    else:
        index = (y == estimator.classes_[1]).astype(np.int64)
        before = binary_reliability(_sigmoid(raw), index, n_bins).ece
    if len(y) < 50 or not before > threshold:
        return Calibration(head, "none", 1.0, 0.0, before, before)
    if n_classes > 2:
        scale, shift, method = fit_temperature(raw, index), 0.0, "temperature"
        after = multiclass_reliability(_softmax(raw * scale), index, n_bins).ece
    else:
        (scale, shift), method = fit_platt(raw, index), "platt"
        after = binary_reliability(_sigmoid(raw * scale + shift), index, n_bins).ece
    if after >= before:
        return Calibration(head, "none", 1.0, 0.0, before, before)
    fold_scale_shift(estimator, scale, shift)
    return Calibration(head, method, scale, shift, before, after)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def calibrate_heads(
    heads: Any,
    X: np.ndarray,
    intent: np.ndarray,
    risk: np.ndarray,
    tier_ok: np.ndarray,
    *,
    threshold: float,
    n_bins: int,
) -> list[Calibration]:
    """Calibrate every boosted head of a fitted TierwiseHeads on the calibration slice, in place.

    Rows with unknown labels, or a class the head never saw, are left out of that head's fit.
    """
    X = np.asarray(X)
    columns = getattr(heads, "columns", lambda X, head: X)  # text features: the head's columns
    targets: list[tuple[str, Any, np.ndarray]] = [
        ("intent", heads.intent_, np.asarray(intent)),
        ("risk", heads.risk_, np.asarray(risk)),
    ]
    names = ("nano", "mini", "full") if len(heads.tiers_) == 3 else range(len(heads.tiers_))
    targets += [
        (f"tier_ok_{name}", fit, np.asarray(tier_ok)[:, t])
        for t, (name, fit) in enumerate(zip(names, heads.tiers_, strict=True))
    ]  # no per-tier heads when the tier head is ordinal
    ordinal_fit = getattr(heads, "tier_ordinal_", None)
    if ordinal_fit is not None:  # one Platt fold for all tiers keeps the model monotone
        from training.model.tier_head import stacked_rows, with_tier

        rows, tiers, labels, _ = stacked_rows(tier_ok, None, None, 1.0)
        targets.append(("tier_ok_ordinal", ordinal_fit, labels))
        stacked = {"tier_ok_ordinal": with_tier(columns(X, "tier")[rows], tiers)}
    else:
        stacked = {}
    inputs_of = {"intent": columns(X, "intent"), "risk": columns(X, "risk")}
    done = []
    for name, fit, y in targets:
        if fit.model is None:
            done.append(Calibration(name, "none", 1.0, 0.0, float("nan"), float("nan")))
            continue
        keep = (y >= 0) & np.isin(y, fit.model.classes_)
        inputs = stacked.get(name, inputs_of.get(name, columns(X, "tier")))
        done.append(
            calibrate_estimator(
                name, fit.model, inputs[keep], y[keep], threshold=threshold, n_bins=n_bins
            )
        )
    return done
