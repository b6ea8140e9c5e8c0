"""The kNN router: neighbours' observed outcomes, censoring respected, monotone, decision-ready."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.contracts import load_contracts, load_routing_table
from classifier.guards import CLEAN
from training.replay.knn_router import KNNRouter, predictions_from_proba
from training.replay.policies import decide_tiers


def clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two directions: 'easy' requests (nano works) and 'hard' ones (only full works)."""
    rng = np.random.default_rng(seed)
    easy = np.array([1.0, 0.0, 0.0]) + rng.normal(0, 0.05, (40, 3))
    hard = np.array([0.0, 1.0, 0.0]) + rng.normal(0, 0.05, (40, 3))
    X = np.vstack([easy, hard]).astype(np.float32)
    tier_ok = np.vstack([np.tile([1, 1, 1], (40, 1)), np.tile([0, 0, 1], (40, 1))])
    tier_ok[::3, :2] = -1  # censored: routed to full first, lower tiers unknown
    intent = np.array([1] * 40 + [3] * 40)
    risk = np.array([0] * 40 + [2] * 40)
    return X, tier_ok, intent, risk


def test_neighbours_decide_tier_probabilities() -> None:
    X, tier_ok, intent, risk = clusters()
    knn = KNNRouter(n_neighbors=7, prior_strength=1.0).fit(X, tier_ok, intent, risk)
    probs = knn.predict_proba(np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]], np.float32))
    assert probs["tier_ok"][0, 0] > 0.8 and probs["tier_ok"][1, 0] < 0.2
    assert probs["tier_ok"][1, 2] > 0.8
    assert np.all(np.diff(probs["tier_ok"], axis=1) >= 0)
    assert probs["intent"][0].argmax() == 1 and probs["intent"][1].argmax() == 3
    assert probs["risk"][1].argmax() == 2
    for head in ("intent", "risk"):
        assert np.allclose(probs[head].sum(axis=1), 1.0)


def test_censored_labels_are_not_counted_as_failures() -> None:
    X = np.tile(np.array([[1.0, 0.0]], np.float32), (10, 1))
    tier_ok = np.tile([-1, -1, 1], (10, 1))
    tier_ok[0] = [1, 1, 1]
    knn = KNNRouter(n_neighbors=10, prior_strength=1.0).fit(X, tier_ok)
    p = knn.predict_proba(X[:1])["tier_ok"][0]
    # one observed ok nano and a base rate of 1.0 among observed: nothing says nano fails
    assert p[0] == pytest.approx(1.0)


def test_neighbours_are_ordered_by_similarity() -> None:
    X = np.array([[1, 0], [0.8, 0.6], [0, 1]], np.float32)
    knn = KNNRouter(n_neighbors=3, chunk_size=1).fit(X, np.ones((3, 3), np.int8))
    assert knn.kneighbors(np.array([[1, 0.1]], np.float32)).tolist() == [[0, 1, 2]]


def test_predictions_route_through_the_production_decision() -> None:
    X, tier_ok, intent, risk = clusters()
    knn = KNNRouter(n_neighbors=7).fit(X, tier_ok, intent, risk)
    preds = predictions_from_proba(knn.predict_proba(X[[0, 45]]), "knn-test")
    texts = ["fix the grammar of this sentence", "plan our migration with trade-offs"]
    tiers = decide_tiers(
        preds,
        texts,
        ["inline_assist", "inline_assist"],
        [CLEAN, CLEAN],
        load_contracts(),
        load_routing_table(),
    )
    assert tiers[0] < tiers[1]
    assert preds[1].risk == "high"


def test_fit_rejects_misshaped_labels() -> None:
    with pytest.raises(ValueError, match="tier_ok"):
        KNNRouter().fit(np.ones((3, 2)), np.ones((3, 2)))
