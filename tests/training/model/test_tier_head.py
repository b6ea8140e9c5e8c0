"""The ordinal tier head: stacked censored rows, monotone by construction, one shared difficulty."""

from __future__ import annotations

import numpy as np
import pytest

from training.model.calibration import calibrate_heads
from training.model.heads import TierwiseHeads
from training.model.tier_head import every_tier, stacked_rows, unstack


def _data(n: int = 600, seed: int = 0):
    """Difficulty = X[:, 0] + noise; a tier succeeds below its cut-point (truth is monotone)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    d = X[:, 0] + rng.normal(scale=0.3, size=n)
    ok = (d[:, None] < np.array([-0.5, 0.3, 1.2])[None, :]).astype(np.int8)
    intent = np.zeros(n, np.int8)
    risk = np.zeros(n, np.int8)
    return X, intent, risk, ok, d


def test_stacked_rows_keep_only_observed_outcomes_with_propensity_weights() -> None:
    tier_ok = np.array([[0, 1, 1], [-1, 1, 1], [-1, -1, 0]], np.int8)
    propensity = np.array([0.5, 0.25, np.nan])
    first = np.array([0, 1, 2])
    rows, tiers, labels, weights = stacked_rows(tier_ok, propensity, first, clip=0.05)
    assert list(zip(rows, tiers, labels, strict=True)) == [
        (0, 0, 0), (0, 1, 1), (0, 2, 1), (1, 1, 1), (1, 2, 1), (2, 2, 0)
    ]  # fmt: skip
    raw = np.array([2.0, 1, 1, 4.0, 1, 1])  # 1/p on the first tier; unknown p weighs 1
    assert np.allclose(weights, raw / raw.mean())


def test_every_tier_and_unstack_round_trip() -> None:
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    Z = every_tier(X)
    assert Z.shape == (9, 3)
    assert np.array_equal(Z[:, -1], [0, 0, 0, 1, 1, 1, 2, 2, 2])
    assert np.array_equal(unstack(Z[:, -1], 3), np.tile([0, 1, 2], (3, 1)))


def test_ordinal_head_is_monotone_by_construction_even_on_anti_monotone_labels() -> None:
    X, intent, risk, ok, _ = _data()
    flipped = ok.copy()
    flipped[:, 2] = 1 - ok[:, 0]  # the per-tier heads would need the cumulative max here
    heads = TierwiseHeads(max_iter=20, tier_head="ordinal").fit(X, intent, risk, flipped)
    raw = heads.raw_tier_proba(X)
    assert (np.diff(raw, axis=1) >= 0).all()  # no repair step: the trees themselves are monotone
    assert np.array_equal(heads.predict_proba(X)["tier_ok"], raw)
    assert heads.tiers_ == [] and heads.tier_ordinal_ is not None


def test_outcomes_at_one_tier_teach_the_others() -> None:
    """Nano is almost never observed; the shared difficulty still ranks requests for nano."""
    X, intent, risk, ok, d = _data(n=1200)
    censored = ok.copy()
    rng = np.random.default_rng(1)
    censored[rng.random(len(X)) > 0.03, 0] = -1  # nano seen on ~3 % of rows
    per_tier = TierwiseHeads(max_iter=30).fit(X, intent, risk, censored)
    ordinal = TierwiseHeads(max_iter=30, tier_head="ordinal").fit(X, intent, risk, censored)

    def rank_corr(p: np.ndarray) -> float:  # higher P(ok | nano) for easier requests
        return float(np.corrcoef(np.argsort(np.argsort(p)), np.argsort(np.argsort(-d)))[0, 1])

    assert rank_corr(ordinal.raw_tier_proba(X)[:, 0]) > 0.8
    assert rank_corr(ordinal.raw_tier_proba(X)[:, 0]) > rank_corr(per_tier.raw_tier_proba(X)[:, 0])


def test_unknown_tier_head_is_refused() -> None:
    X, intent, risk, ok, _ = _data(n=100)
    with pytest.raises(ValueError, match="tier_head must be"):
        TierwiseHeads(max_iter=2, tier_head="cumulative").fit(X, intent, risk, ok)


def test_calibration_folds_one_scale_into_the_ordinal_head_and_stays_monotone() -> None:
    X, intent, risk, ok, _ = _data(n=900)
    # few rows, big steps, tiny leaves: an over-confident head that calibration must temper
    heads = TierwiseHeads(
        max_iter=100, learning_rate=0.5, min_samples_leaf=2, tier_head="ordinal"
    ).fit(X[:300], intent[:300], risk[:300], ok[:300])
    before = heads.raw_tier_proba(X[600:])
    done = calibrate_heads(
        heads, X[600:], intent[600:], risk[600:], ok[600:], threshold=0.0, n_bins=10
    )
    fold = next(c for c in done if c.head == "tier_ok_ordinal")
    assert fold.method == "platt" and fold.ece_after < fold.ece_before and fold.scale < 1
    after = heads.raw_tier_proba(X[600:])
    assert not np.allclose(before, after)
    assert (np.diff(after, axis=1) >= 0).all()
    # a positive scale keeps every ranking
    assert np.array_equal(
        np.argsort(before[:, 1], kind="stable"), np.argsort(after[:, 1], kind="stable")
    )
