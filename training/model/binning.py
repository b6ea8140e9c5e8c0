"""Snap embeddings to a per-feature grid of <= 255 values before fitting the heads.

Why: the tier heads are fitted with inverse-propensity sample weights, and scikit-learn 1.9's
HistGradientBoosting then finds its bin edges with one weighted percentile per (feature, edge):
65,000 sorts for 256 features, ~22 s at 1,000 rows and many minutes at 50,000. When a feature
has at most `max_bins` distinct values, sklearn instead puts its thresholds at the midpoints
between them, which costs nothing. Snapping every value to the nearest point of a grid built
from unweighted quantiles makes those midpoints exactly the grid's decision boundaries, so a
tree fitted on snapped data gives the same answer on raw data as on snapped data: prediction
and the exported ONNX graph take raw embeddings unchanged.
"""

from __future__ import annotations

import numpy as np

MAX_VALUES = 255  # HistGradientBoostingClassifier's default max_bins


def quantile_grid(
    X: np.ndarray, max_values: int = MAX_VALUES, sample: int = 200_000, seed: int = 0
) -> list[np.ndarray]:
    """Per feature, at most `max_values` sorted distinct grid points (unweighted quantiles)."""
    X = np.asarray(X, dtype=np.float32)
    if len(X) > sample:  # sklearn subsamples its own binning the same way
        X = X[np.random.default_rng(seed).choice(len(X), sample, replace=False)]
    levels = np.linspace(0.0, 1.0, max_values)
    grids = []
    for column in X.T:
        values = np.unique(column)
        if len(values) > max_values:
            values = np.unique(np.quantile(column, levels).astype(np.float32))
        grids.append(values)
    return grids


def snap(X: np.ndarray, grids: list[np.ndarray]) -> np.ndarray:
    """Replace each value by its nearest grid point (ties go to the lower point)."""
    X = np.asarray(X, dtype=np.float32)
    out = np.empty_like(X)
    for j, grid in enumerate(grids):
        if len(grid) == 1:
            out[:, j] = grid[0]
            continue
        # sklearn's thresholds are these midpoints, computed in float64 like here
        mids = (grid[:-1].astype(np.float64) + grid[1:]) / 2.0
        out[:, j] = grid[np.searchsorted(mids, X[:, j], side="left")]
    return out


def snap_for_fit(X: np.ndarray, max_values: int = MAX_VALUES) -> np.ndarray:
    """`snap(X, quantile_grid(X))`: what the heads are fitted on."""
    return snap(X, quantile_grid(X, max_values))
