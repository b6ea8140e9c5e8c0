"""Per-group rates with cluster-bootstrap intervals (scipy.stats.bootstrap).

Rows are clustered by unit (a conversation, else a request): with assignment sticky per
conversation, the conversation is the unit that was randomised, and its turns are not
independent. Each rate is a ratio of sums over units, resampled as pairs (numerator,
denominator) of whole units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap


@dataclass(frozen=True)
class Estimate:
    """A rate and its interval (NaN when fewer than two units carry it)."""

    value: float
    low: float
    high: float
    n: int  # rows that carry it (for cost and failures: rows with an outcome)

    def to_dict(self) -> dict[str, float | int | None]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 8)

        return {"value": clean(self.value), "low": clean(self.low), "high": clean(self.high),
                "n": self.n}  # fmt: skip


def _ratio(numer: np.ndarray, denom: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(numer.sum(axis=axis) / denom.sum(axis=axis))


def ratio_estimate(
    values: np.ndarray,
    units: np.ndarray,
    *,
    n_resamples: int,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """sum(values) / count(values) over the rows whose value is known (not NaN), with an interval
    from resampling the units (`units`: one integer code per row)."""
    known = ~np.isnan(values)
    values, units = values[known], units[known]
    n = int(values.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    _, inverse = np.unique(units, return_inverse=True)
    numer = np.bincount(inverse, weights=values)
    denom = np.bincount(inverse).astype(np.float64)
    value = float(numer.sum() / denom.sum())
    if numer.size < 2 or n_resamples <= 0:
        return Estimate(value, math.nan, math.nan, n)
    if np.all(numer == numer[0] * denom / denom[0]):  # every unit has the same rate
        return Estimate(value, value, value, n)
    result = bootstrap(
        (numer, denom),
        _ratio,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        batch=min(n_resamples, 200),
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Estimate(value, float(low), float(high), n)
