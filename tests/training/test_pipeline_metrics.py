"""Metrics, calibration folding and binning: the numbers the report and the gate rely on."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from training.evaluation.metrics import evaluate_probs, smallest_viable_pred, smallest_viable_truth
from training.model.binning import quantile_grid, snap
from training.model.calibration import calibrate_estimator, fold_scale_shift, reliability


def test_ece_is_zero_for_calibrated_and_large_for_overconfident() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200_000)
    y = rng.uniform(size=p.size) < p
    assert reliability(p, y).ece < 0.01
    assert reliability(np.full(1000, 0.99), np.arange(1000) % 2 == 0).ece == pytest.approx(0.49)


def test_smallest_viable_tier_only_where_labels_determine_it() -> None:
    tier_ok = np.array([[0, 1, 1], [1, 1, 1], [-1, 1, 1], [0, 0, 1], [0, -1, 1], [0, 0, 0]])
    assert smallest_viable_truth(tier_ok).tolist() == [1, 0, -1, 2, -1, -1]
    p = np.array([[0.2, 0.6, 0.9], [0.1, 0.2, 0.3]])
    assert smallest_viable_pred(p, 0.5).tolist() == [1, 2]


def test_evaluate_skips_unknown_labels_and_counts_the_rest() -> None:
    probs = {
        "intent": np.eye(7)[[0, 1, 2, 3]],
        "risk": np.eye(3)[[0, 1, 2, 0]],
        "tier_ok": np.array([[0.9, 0.9, 0.9]] * 4),
    }
    ev = evaluate_probs(
        "t",
        probs,
        np.array([0, 1, -1, 0]),
        np.array([0, 1, 2, -1]),
        np.array([[1, 1, 1], [0, 1, 1], [-1, 1, 1], [-1, -1, -1]]),
    )
    assert ev.heads["intent"].n == 3 and ev.heads["intent"].accuracy == pytest.approx(2 / 3)
    assert ev.heads["risk"].accuracy == 1.0
    assert ev.heads["tier"].n == 2 and ev.heads["tier"].accuracy == 0.5
    assert ev.tier_ok["nano"].n == 2
    assert "mean_macro_f1" in ev.metrics()


def _overconfident(n_classes: int) -> tuple[HistGradientBoostingClassifier, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 6))
    y = (
        np.digitize(X[:, 0] + rng.normal(scale=1.0, size=3000), [-0.6, 0.6])
        if n_classes == 3
        else (X[:, 0] + rng.normal(size=3000) > 0).astype(int)
    )
    model = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.3, early_stopping=False, random_state=0
    ).fit(X[:1500], y[:1500])
    return model, X[1500:], y[1500:]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_calibration_is_folded_into_the_trees_and_lowers_ece(n_classes: int) -> None:
    model, X, y = _overconfident(n_classes)
    before = model.predict_proba(X)
    result = calibrate_estimator("h", model, X[:750], y[:750], threshold=0.02, n_bins=10)
    assert result.method in ("platt", "temperature") and result.ece_after < result.ece_before
    after = model.predict_proba(X)  # the estimator itself changed: no wrapper to export
    assert not np.allclose(before, after)
    assert (after.argmax(1) == before.argmax(1)).mean() > (0.99 if n_classes == 3 else 0.0)
    if n_classes == 3:
        held = reliability(after[750:].max(1), after[750:].argmax(1) == y[750:], 10).ece
        raw = reliability(before[750:].max(1), before[750:].argmax(1) == y[750:], 10).ece
        assert held < raw


def test_fold_scale_shift_is_exact_platt_scaling() -> None:
    model, X, _ = _overconfident(2)
    raw = model.decision_function(X)
    fold_scale_shift(model, 0.5, -0.2)
    expected = 1.0 / (1.0 + np.exp(-(0.5 * raw - 0.2)))
    assert np.abs(model.predict_proba(X)[:, 1] - expected).max() < 1e-12


def test_snapped_fit_predicts_identically_on_raw_and_snapped_inputs() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 12)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=3000) > 0).astype(int)
    grid = quantile_grid(X)
    assert max(len(g) for g in grid) <= 255
    model = HistGradientBoostingClassifier(max_iter=20, early_stopping=False).fit(
        snap(X, grid), y, sample_weight=rng.uniform(0.5, 2.0, size=3000)
    )
    fresh = rng.normal(size=(2000, 12)).astype(np.float32)
    assert np.array_equal(model.predict_proba(fresh), model.predict_proba(snap(fresh, grid)))
