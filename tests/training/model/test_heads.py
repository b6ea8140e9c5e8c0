"""TierwiseHeads: label handling, censoring, propensity weights, monotone tiers."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.taxonomy import INTENTS, RISKS, TIERS
from training.model.heads import TierwiseHeads, balanced_weights, ipw_weights


def _data(n: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    intent = (np.abs(X[:, 0] * 3).astype(int) % 4).astype(np.int8)  # only classes 0..3
    risk = (X[:, 1] > 0).astype(np.int8) * 2  # only low and high
    need = np.digitize(X[:, 2], [-0.5, 0.5])
    tier_ok = np.where(np.arange(3)[None, :] >= need[:, None], 1, 0).astype(np.int8)
    return X, intent, risk, tier_ok


def test_every_head_outputs_all_classes_in_taxonomy_order() -> None:
    X, intent, risk, tier_ok = _data()
    heads = TierwiseHeads(max_iter=5).fit(X, intent, risk, tier_ok)
    proba = heads.predict_proba(X)
    assert proba["intent"].shape == (len(X), len(INTENTS))
    assert proba["risk"].shape == (len(X), len(RISKS))
    assert proba["tier_ok"].shape == (len(X), len(TIERS))
    assert np.allclose(proba["intent"][:, 4:], 0.0)  # never seen -> probability 0
    assert np.allclose(proba["risk"][:, 1], 0.0)
    assert np.allclose(proba["intent"].sum(axis=1), 1.0)
    # the learned classes are the ones that win where they were trained
    assert (proba["intent"].argmax(axis=1) == intent).mean() > 0.8


def test_tier_probabilities_are_monotone_even_when_raw_heads_disagree() -> None:
    X, intent, risk, tier_ok = _data()
    flipped = tier_ok.copy()
    flipped[:, 2] = 1 - tier_ok[:, 0]  # deliberately anti-monotone raw labels
    heads = TierwiseHeads(max_iter=5).fit(X, intent, risk, flipped)
    raw = heads.raw_tier_proba(X)
    assert (np.diff(raw, axis=1) < 0).any()
    proba = heads.predict_proba(X)["tier_ok"]
    assert (np.diff(proba, axis=1) >= 0).all()
    assert np.allclose(proba, np.maximum.accumulate(raw, axis=1))


def test_unknown_labels_are_skipped_not_guessed() -> None:
    X, intent, risk, tier_ok = _data()
    censored = tier_ok.copy()
    censored[::2, 0] = -1
    intent = intent.copy()
    intent[:100] = -1
    heads = TierwiseHeads(max_iter=5).fit(X, intent, risk, censored)
    assert heads.tier_rows_ == [len(X) - len(X[::2]), len(X), len(X)]
    assert heads.intent_.model.n_iter_ == 5
    # fitting on the labelled rows only gives the same model as dropping the rows first
    alone = TierwiseHeads(max_iter=5).fit(X[100:], intent[100:], risk[100:], censored[100:])
    assert np.allclose(
        heads.predict_proba(X)["intent"], alone.predict_proba(X)["intent"], atol=1e-12
    )


def test_single_class_head_is_constant_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    X, intent, risk, tier_ok = _data()
    tier_ok = tier_ok.copy()
    tier_ok[:, 2] = 1
    heads = TierwiseHeads(max_iter=5).fit(X, intent, risk, tier_ok)
    assert heads.tiers_[2].model is None
    assert np.allclose(heads.predict_proba(X)["tier_ok"][:, 2], 1.0)
    assert "predicts a constant" in caplog.text


def test_ipw_weights_only_for_the_tier_the_policy_chose() -> None:
    observed = np.array([True, True, True, False, True])
    propensity = np.array([0.5, 0.01, np.nan, 0.5, 0.25])
    first_tier = np.array([1, 1, 1, 1, 0])
    w = ipw_weights(observed, 1, propensity, first_tier, clip=0.05)
    raw = np.array([2.0, 20.0, 1.0, 1.0])  # 1/0.5, clipped 1/0.05, unknown p, other tier
    assert np.allclose(w, raw / raw.mean())
    assert np.allclose(ipw_weights(observed, 1, None, None, clip=0.05), 1.0)


def test_propensity_weights_change_the_fit() -> None:
    X, intent, risk, tier_ok = _data()
    rng = np.random.default_rng(1)
    propensity = rng.uniform(0.05, 1.0, len(X))
    first = np.zeros(len(X), dtype=np.int8)
    plain = TierwiseHeads(max_iter=5).fit(X, intent, risk, tier_ok)
    weighted = TierwiseHeads(max_iter=5).fit(X, intent, risk, tier_ok, propensity, first_tier=first)
    assert not np.allclose(plain.raw_tier_proba(X)[:, 0], weighted.raw_tier_proba(X)[:, 0])


def test_fit_is_deterministic() -> None:
    X, intent, risk, tier_ok = _data()
    a = TierwiseHeads(max_iter=5).fit(X, intent, risk, tier_ok).predict_proba(X)
    b = TierwiseHeads(max_iter=5).fit(X, intent, risk, tier_ok).predict_proba(X)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_bad_tier_shape_is_refused() -> None:
    X, intent, risk, tier_ok = _data()
    with pytest.raises(ValueError, match="tier_ok must have shape"):
        TierwiseHeads(max_iter=2).fit(X, intent, risk, tier_ok[:, :2])


def test_class_balance_gives_every_class_the_same_total_weight_at_power_one() -> None:
    y = np.array([0] * 90 + [1] * 9 + [2] * 1)
    w = balanced_weights(y, np.ones(len(y)), 1.0)
    totals = np.bincount(y, weights=w)
    assert np.allclose(totals, totals[0])
    half = np.bincount(y, weights=balanced_weights(y, None, 0.5))
    assert totals[0] < half[0] < 90 and half[2] < totals[2]  # square root sits between
    assert balanced_weights(y, None, 0.0) is None  # off: the weights are untouched


def test_class_balance_moves_a_rare_class_out_of_the_majority() -> None:
    rng = np.random.default_rng(3)
    n_major, n_minor = 2000, 40
    X = np.vstack([rng.normal(0.0, 1.0, (n_major, 2)), rng.normal(1.2, 1.0, (n_minor, 2))])
    intent = np.array([6] * n_major + [2] * n_minor, dtype=np.int8)  # chat vs classify
    risk = np.zeros(len(X), dtype=np.int8)
    no_tier = np.full((len(X), 3), -1, dtype=np.int8)

    def minority_recall(power: float) -> float:
        heads = TierwiseHeads(max_iter=30, class_balance=power).fit(X, intent, risk, no_tier)
        pred = heads.predict_proba(X)["intent"].argmax(axis=1)
        return float((pred[intent == 2] == 2).mean())

    assert minority_recall(1.0) > minority_recall(0.0) + 0.2


@pytest.mark.parametrize("tier_head", ["per_tier", "ordinal"])
def test_on_head_reports_each_fitted_head_in_order(tier_head: str) -> None:
    """The progress bar's tick: one call per head, in the order `head_names()` gives."""
    X, intent, risk, tier_ok = _data()
    heads = TierwiseHeads(max_iter=3, tier_head=tier_head)
    seen: list[str] = []
    heads.fit(X, intent, risk, tier_ok, on_head=seen.append)
    assert seen == heads.head_names()
    expected = 3 if tier_head == "ordinal" else 2 + len(TIERS)
    assert len(seen) == expected
