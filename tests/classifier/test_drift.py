"""classifier.drift: rolling window, PSI, and what counts as crossed."""

from __future__ import annotations

import math

import pytest

from classifier.drift import DriftStats, Thresholds, compare, psi
from classifier.prediction import Prediction
from classifier.taxonomy import INTENTS, RISKS, TIERS


def pred(intent: str, tokens: int, confidence: float = 0.9, tier: str = TIERS[0]) -> Prediction:
    rest = (1.0 - confidence) / (len(INTENTS) - 1)
    return Prediction(
        intent=intent,  # type: ignore[arg-type]
        intent_probs={name: (confidence if name == intent else rest) for name in INTENTS},
        risk=RISKS[0],
        risk_probs={name: 1.0 / len(RISKS) for name in RISKS},
        tier=tier,  # type: ignore[arg-type]
        tier_ok_probs={name: 0.9 for name in TIERS},
        model_version="t",
        bundle_hash="h",
        taxonomy_version="1",
        tokens_used=tokens,
        truncated=False,
    )


def stats(window: int = 400) -> DriftStats:
    return DriftStats(INTENTS, RISKS, TIERS, window=window, segments=4)


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    small, large = psi([0.5, 0.5], [0.45, 0.55]), psi([0.5, 0.5], [0.1, 0.9])
    assert 0.0 < small < 0.1 < 0.2 < large
    # a bin seen on one side only stays finite (floored share)
    assert math.isfinite(psi([1.0, 0.0], [0.0, 1.0]))


def test_the_window_forgets_old_parts_whole() -> None:
    s = stats(window=400)  # 4 parts of 100
    for _ in range(400):
        s.observe(pred(INTENTS[0], 10), abstained=False)
    assert s.summary()["shares"]["intent"][INTENTS[0]] == 1.0
    for _ in range(400):
        s.observe(pred(INTENTS[1], 10), abstained=True)
    summary = s.summary()
    # the last part is being filled: between 300 and 400 requests, all of the new kind
    assert 300 <= summary["n"] <= 400
    assert summary["shares"]["intent"][INTENTS[1]] == 1.0
    assert summary["rates"]["abstain"] == 1.0


def test_histograms_and_outcomes_are_counted_where_they_belong() -> None:
    s = stats()
    s.observe(pred(INTENTS[0], 5, confidence=0.95), abstained=False)
    s.observe(pred(INTENTS[0], 600, confidence=0.35), abstained=False)
    summary = s.summary()
    assert summary["shares"]["tokens"][0] == 0.5 and summary["shares"]["tokens"][-1] == 0.5
    assert summary["shares"]["confidence"][1] == 0.5 and summary["shares"]["confidence"][-1] == 0.5
    s.observe_outcome(TIERS[0], True)
    s.observe_outcome(TIERS[0], False)
    s.observe_outcome("not-a-tier", True)  # ignored, not an error
    assert s.summary()["rates"]["failure"][TIERS[0]] == 0.5


def test_compare_crosses_only_with_enough_requests_and_a_reference() -> None:
    reference = stats(window=2000)
    for i in range(1000):
        reference.observe(pred(INTENTS[i % len(INTENTS)], 10 + i % 50), abstained=False)
    same, shifted = stats(window=2000), stats(window=2000)
    for i in range(800):
        same.observe(pred(INTENTS[i % len(INTENTS)], 10 + i % 50), abstained=False)
        shifted.observe(pred(INTENTS[0], 900), abstained=i % 3 == 0)
    ref = reference.summary()
    calm = compare(ref, same.summary())
    assert calm["crossed"] == [] and calm["psi"]["intent"] < 0.05
    loud = compare(ref, shifted.summary())
    assert {"psi:tokens", "psi:intent", "rate:abstain"} <= set(loud["crossed"])
    assert loud["rates"]["abstain"]["reference"] == 0.0
    assert loud["rates"]["abstain"]["live"] == pytest.approx(267 / 800)
    assert compare(ref, shifted.summary(), Thresholds(min_requests=10_000))["crossed"] == []
    assert compare(None, shifted.summary())["reference"] is None


def test_labels_are_compared_by_name() -> None:
    reference = {"n": 10, "shares": {"intent": {"old_label": 1.0}}, "rates": {}}
    live = stats(window=2000)
    for _ in range(600):
        live.observe(pred(INTENTS[0], 10), abstained=False)
    report = compare(reference, live.summary())
    assert report["psi"]["intent"] > 1.0 and "psi:intent" in report["crossed"]
