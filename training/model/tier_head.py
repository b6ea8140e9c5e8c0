"""The ordinal tier head: one model of P(ok | request, tier), monotone in the tier by construction.

A request needs some amount of capability; a tier succeeds when it has at least that much. So
the three outcomes of one request are not three separate questions but one latent difficulty
read against three cut-points, and each trace's censored observations (a tier that failed, one
that succeeded, the tiers never tried) all inform that one difficulty. The head fits a single
`HistGradientBoostingClassifier` on stacked rows: one row per observed (request, tier) outcome,
its features the embedding plus the tier index, weighted by inverse logging propensity (for the
tier the logging policy chose first) as the per-tier heads are.

Two constraints make it ordinal:
- `monotonic_cst` +1 on the tier column: P(ok) can only rise with the tier, in every tree, so
  nano <= mini <= full holds without a repair step;
- `interaction_cst` (additive, the default): a tree splits on the embedding or on the tier,
  never both, so logit P(ok | x, t) = g(x) + h(t): a proportional-odds (cumulative-link) model
  whose g is the request's ease and h the tiers' cut-points. Every observed outcome trains g,
  whatever its tier. `additive=False` lets trees mix both (monotone still).

Exported as the same trees run on [embedding, 0], [embedding, 1], [embedding, 2]
(training.model.onnx_graph); measured against the per-tier heads in docs/model.md.
"""

from __future__ import annotations

import numpy as np

from classifier.taxonomy import TIERS

N_TIERS = len(TIERS)


def stacked_rows(
    tier_ok: np.ndarray,
    propensity: np.ndarray | None,
    first_tier: np.ndarray | None,
    clip: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row index, tier, label, weight) of every observed outcome; unknown (-1) never appears.

    Weight 1 / propensity (clipped at 1 / clip) where the tier is the one the logging policy
    chose first and its propensity is known, 1 elsewhere; normalised to mean 1.
    """
    tier_ok = np.asarray(tier_ok)
    rows, tiers = np.nonzero(tier_ok >= 0)
    labels = tier_ok[rows, tiers].astype(np.int64)
    weights = np.ones(len(rows))
    if propensity is not None and first_tier is not None and len(rows):
        p = np.asarray(propensity, dtype=np.float64)[rows]
        chosen = (np.asarray(first_tier)[rows] == tiers) & np.isfinite(p) & (p > 0)
        weights[chosen] = 1.0 / np.clip(p[chosen], clip, 1.0)
    if len(weights):
        weights /= weights.mean()
    return rows, tiers, labels, weights


def with_tier(X: np.ndarray, tiers: np.ndarray) -> np.ndarray:
    """[embedding | tier] rows, float32 (the tier is an ordinal number 0, 1, 2)."""
    X = np.asarray(X, dtype=np.float32)
    return np.column_stack([X, np.asarray(tiers, dtype=np.float32)])


def every_tier(X: np.ndarray, n_tiers: int = N_TIERS) -> np.ndarray:
    """Each row of X once per tier, tier-major: rows [t * N + i] = [X[i], t]."""
    n = len(X)
    return with_tier(
        np.tile(np.asarray(X, dtype=np.float32), (n_tiers, 1)), np.repeat(np.arange(n_tiers), n)
    )


def unstack(p_ok: np.ndarray, n: int, n_tiers: int = N_TIERS) -> np.ndarray:
    """Tier-major [T*N] probabilities back to [N, T] (T = the taxonomy's tiers)."""
    return np.asarray(p_ok).reshape(n_tiers, n).T


def constraints(n_features: int, additive: bool) -> dict[str, object]:
    """HistGradientBoosting keyword arguments that make the model ordinal in the last column."""
    tier = n_features  # the tier column follows the embedding's n_features columns
    out: dict[str, object] = {"monotonic_cst": [0] * n_features + [1]}
    if additive:
        out["interaction_cst"] = [list(range(n_features)), [tier]]
    return out
