"""Exact replay scoring on hand-built requests whose costs are worked out by hand."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from classifier.contracts import load_contracts, load_routing_table
from training.replay.costs import Outcomes, ReplayRequest, simulate_outcomes
from training.replay.metrics import add_relative, gap_figures, score_exact
from training.replay.policies import (
    fixed,
    length_sweep,
    length_tiers,
    match_length_cost,
    matched_mixture,
    mixture,
    one_hot,
    oracle_tiers,
    with_quality_bar,
)
from training.replay.run import budget_cap

TABLE = load_routing_table()


class Middle(random.Random):
    """Every uniform draw is 0.5 and every Gaussian 0: the playbook becomes deterministic."""

    def random(self) -> float:
        return 0.5

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        return mu


def price(tier: str, tokens_in: int, tokens_out: int) -> float:
    spec = TABLE.tiers[tier]
    return (tokens_in * spec.input_per_mtok + tokens_out * spec.output_per_mtok) / 1e6


TRIAGE_TEXT = "Tag this ticket: the app crashes on login."  # 42 chars
CHAT_TEXT = "What is a good name for a cat?"  # 30 chars


def requests() -> list[ReplayRequest]:
    triage = (TRIAGE_TEXT, "ticket_triage", "classify", "low", True)
    return [
        ReplayRequest(*triage, (True, True, True), "a"),
        ReplayRequest(*triage, (False, True, True), "b"),
        ReplayRequest(
            CHAT_TEXT, "support_chat", "chat", "medium", False, (False, False, True), "c"
        ),
    ]


@pytest.fixture(scope="module")
def outcomes() -> Outcomes:
    return simulate_outcomes(requests(), TABLE, replays=1, rng_factory=lambda seed: Middle())


def test_viable_first_tier_costs_one_call(outcomes: Outcomes) -> None:
    tokens_in = len(TRIAGE_TEXT) // 4 + 300 + 20  # chars/4 + triage prompt + int(0.5 * 40)
    # classify answers ~8 tokens, times 0.85 / 1.0 / 1.15 per tier
    for t, (tier, out) in enumerate((("nano", 6), ("mini", 8), ("full", 9))):
        assert outcomes.cost_usd[0, t] == pytest.approx(price(tier, tokens_in, out), rel=1e-9)
    assert outcomes.fail[0].tolist() == [0, 0, 0]
    assert outcomes.escalations[0].tolist() == [0, 0, 0]
    assert outcomes.attempts[0].tolist() == [1, 1, 1]


def test_schema_failures_retry_then_escalate(outcomes: Outcomes) -> None:
    tokens_in = len(TRIAGE_TEXT) // 4 + 300 + 20
    # nano not viable; structured triage fails in schema mode: two short nano answers
    # (6 * 0.75 -> 4 tokens), escalation schema_fail_x2, then mini answers.
    expected = 2 * price("nano", tokens_in, 4) + price("mini", tokens_in, 8)
    assert outcomes.cost_usd[1, 0] == pytest.approx(expected, rel=1e-9)
    assert outcomes.escalations[1, 0] == 1
    assert outcomes.attempts[1, 0] == 3
    assert outcomes.fail[1, 0] == 0
    retry_ms = 2 * 350 * math.sqrt(0.5 + 4 / 400)  # two nano attempts at p50, scaled by length
    assert outcomes.retry_latency_ms[1, 0] == pytest.approx(retry_ms, abs=0.2)
    assert outcomes.cost_usd[1, 1] == pytest.approx(price("mini", tokens_in, 8), rel=1e-9)


def test_silent_failure_is_served_and_counted(outcomes: Outcomes) -> None:
    tokens_in = len(CHAT_TEXT) // 4 + 600 + 20
    # medium-risk chat fails silently at nano: one call, a bad answer, no escalation.
    assert outcomes.cost_usd[2, 0] == pytest.approx(price("nano", tokens_in, 153), rel=1e-9)
    assert outcomes.fail[2, 0] == 1 and outcomes.hard_fail[2, 0] == 0
    assert outcomes.escalations[2, 0] == 0
    assert outcomes.fail[2, 2] == 0
    # chat answers ~180 tokens; 180 * 1.15 is 206.99999... in floating point, truncated to 206
    assert outcomes.cost_usd[2, 2] == pytest.approx(price("full", tokens_in, 206), rel=1e-9)


def test_policy_scores_are_sums_over_chosen_tiers(outcomes: Outcomes) -> None:
    tiers = oracle_tiers(np.array([[1, 1, 1], [0, 1, 1], [0, 0, 1]]))
    assert tiers.tolist() == [0, 1, 2]
    oracle = score_exact(one_hot(tiers), outcomes)
    expected = outcomes.cost_usd[0, 0] + outcomes.cost_usd[1, 1] + outcomes.cost_usd[2, 2]
    assert oracle["cost_usd"] == pytest.approx(expected)
    assert oracle["cost_per_1k_usd"] == pytest.approx(expected / 3 * 1000)
    assert oracle["failure_rate"] == 0
    nano = score_exact(fixed(3, "nano"), outcomes)
    assert nano["failure_rate"] == pytest.approx(1 / 3)
    assert nano["escalations_per_1k"] == pytest.approx(1000 / 3)
    assert nano["share_nano"] == 1.0


def test_relative_figures_on_known_numbers() -> None:
    o = Outcomes(
        cost_usd=np.array([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]]),
        fail=np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
        hard_fail=np.zeros((2, 3)),
        escalations=np.zeros((2, 3)),
        retry_latency_ms=np.full((2, 3), 10.0),
        attempts=np.ones((2, 3)),
    )
    scores = {
        "always_nano": score_exact(fixed(2, "nano"), o),
        "always_full": score_exact(fixed(2, "full"), o),
        "oracle": score_exact(one_hot(np.array([1, 0])), o),
    }
    add_relative(scores, {"oracle": 0.5})
    assert scores["oracle"]["cost_usd"] == 3.0
    assert scores["oracle"]["savings_vs_full"] == pytest.approx(1 - 3 / 8)
    assert scores["oracle"]["no_worse_than_full"] is True
    assert scores["always_nano"]["no_worse_than_full"] is False
    assert scores["oracle"]["pgr"] == pytest.approx(1.0)
    assert scores["always_nano"]["pgr"] == pytest.approx(0.0)
    assert scores["oracle"]["added_latency_ms"] == pytest.approx(10.5)


def test_matched_random_mixture_hits_the_cost() -> None:
    q = matched_mixture(3.0, [1.0, 2.0, 4.0])
    assert q.tolist() == pytest.approx([0.0, 0.5, 0.5])
    assert float(np.dot(q, [1.0, 2.0, 4.0])) == pytest.approx(3.0)
    assert matched_mixture(0.5, [1.0, 2.0, 4.0]).tolist() == [1.0, 0.0, 0.0]
    pi = mixture(4, q)
    assert pi.shape == (4, 3) and np.allclose(pi.sum(axis=1), 1.0)


def test_capped_mixture_moves_the_share_above_a_cap_to_the_cap() -> None:
    """A request whose contract allows no higher than mini gets the full share on mini."""
    q = np.array([0.2, 0.3, 0.5])
    pi = mixture(3, q, np.array([2, 1, 0]))
    assert np.allclose(pi, [[0.2, 0.3, 0.5], [0.2, 0.8, 0.0], [1.0, 0.0, 0.0]])


def test_gap_figures_interpolate_the_envelope() -> None:
    g = gap_figures([(0.2, 0.6), (0.5, 0.9), (0.6, 0.85)])  # the last point is dominated
    assert g["cpt50"] == pytest.approx(0.5 / 0.6 * 0.2, abs=1e-3)
    assert g["cpt80"] == pytest.approx(0.4, abs=1e-3)
    # running max holds 0.9 from 0.5 to 0.6, then rises linearly to (1, 1)
    assert g["apgr"] == pytest.approx(0.06 + 0.225 + 0.09 + 0.38, abs=1e-3)


def test_quality_bar_override_keeps_everything_else() -> None:
    contracts = load_contracts()
    changed = with_quality_bar(contracts, 0.42)
    for name, contract in contracts.features.items():
        assert changed.features[name].quality_bar == 0.42
        assert changed.features[name].risk_profile == contract.risk_profile
        assert changed.features[name].economics.failure_usd == 0.0
    kept = with_quality_bar(contracts, 0.42, price_only=False)
    assert kept.get("policy_review").economics == contracts.get("policy_review").economics


def test_prompt_length_router_tiers_by_two_thresholds() -> None:
    lengths = np.array([5, 50, 500, 5000])
    assert length_tiers(lengths, 50, 500).tolist() == [0, 1, 2, 2]
    assert length_tiers(lengths, 0, 10**9).tolist() == [1, 1, 1, 1]
    assert length_tiers(lengths, 10**9, 10**9).tolist() == [0, 0, 0, 0]
    assert length_tiers(lengths, 0, 0).tolist() == [2, 2, 2, 2]


def _by_length(n: int = 240) -> tuple[np.ndarray, Outcomes]:
    """Longer requests need bigger tiers (with exceptions); full never fails; cost 1 / 2 / 4."""
    rng = np.random.default_rng(7)
    lengths = rng.integers(10, 5000, n).astype(float)
    need = np.digitize(lengths, [800, 3000])
    flip = rng.random(n) < 0.2
    need[flip] = rng.integers(0, 3, flip.sum())
    fail = (np.arange(3)[None, :] < need[:, None]).astype(float)
    zeros = np.zeros((n, 3))
    return lengths, Outcomes(
        cost_usd=np.tile([1.0, 2.0, 4.0], (n, 1)),
        fail=fail,
        hard_fail=zeros,
        escalations=zeros,
        retry_latency_ms=zeros,
        attempts=np.ones((n, 3)),
    )


def test_prompt_length_router_matches_a_cost_and_fails_least_there() -> None:
    lengths, o = _by_length()

    def score(pi: np.ndarray) -> dict:
        return score_exact(pi, o)

    target = 2500.0  # USD per 1k requests; one request changing tier moves it by <= 3000 / n
    matched = match_length_cost(lengths, score, target)
    assert abs(matched["cost_per_1k_usd"] - target) <= 3000 / len(lengths)
    assert matched["lo_chars"] <= matched["hi_chars"]
    pi = one_hot(length_tiers(lengths, matched["lo_chars"], matched["hi_chars"]))
    assert score(pi)["failure_rate"] == pytest.approx(matched["failure_rate"])
    # length carries signal here, so it beats the random mixture of the same cost...
    q = matched_mixture(matched["cost_per_1k_usd"] / 1000, [1.0, 2.0, 4.0])
    assert matched["failure_rate"] < score(mixture(len(lengths), q))["failure_rate"]
    # ...and no point of its own sweep does better for less (full never fails: more cost,
    # never more failure, so the matched point is the best of the family at its cost)
    for point in length_sweep(lengths, score):
        if point["cost_per_1k_usd"] <= matched["cost_per_1k_usd"]:
            assert point["failure_rate"] >= matched["failure_rate"] - 1e-12
    low = match_length_cost(lengths, score, 10.0)  # below all-nano: clipped to all-nano
    assert low["share_nano"] == 1.0


def test_prompt_length_sweep_is_a_cost_failure_frontier() -> None:
    lengths, o = _by_length()
    curve = length_sweep(lengths, lambda pi: score_exact(pi, o))
    costs = [p["cost_per_1k_usd"] for p in curve]
    fails = [p["failure_rate"] for p in curve]
    assert len(curve) >= 5
    assert costs == sorted(costs) and all(np.diff(fails) < 0)
    assert curve[0]["share_nano"] == 1.0  # the cheapest end is all-nano
    assert curve[-1]["failure_rate"] == 0.0  # and the safest reaches always-full's quality
    assert all(p["lo_chars"] <= p["hi_chars"] for p in curve)


def test_prompt_length_router_keeps_to_a_cap_per_request() -> None:
    """With a cap (the strongest tier each request's contract allows), no threshold pair sends a
    request above it, and the capped curve cannot reach the uncapped one's lowest failure."""
    lengths, o = _by_length()
    cap = np.where(np.arange(len(lengths)) % 4 == 0, 1, 2)  # a quarter may go no higher than mini
    assert length_tiers(np.array([5, 50, 5000]), 0, 0, np.array([0, 1, 2])).tolist() == [0, 1, 2]

    def score(pi: np.ndarray) -> dict:
        return score_exact(pi, o)

    capped = length_sweep(lengths, score, cap=cap)
    assert all(p["share_full"] <= 0.75 + 1e-12 for p in capped)
    assert capped[-1]["failure_rate"] > length_sweep(lengths, score)[-1]["failure_rate"]
    matched = match_length_cost(lengths, score, 3000.0, cap=cap)
    tiers = length_tiers(lengths, matched["lo_chars"], matched["hi_chars"], cap)
    assert (tiers <= cap).all() and (tiers[cap == 1] <= 1).all()
    assert score(one_hot(tiers))["failure_rate"] == pytest.approx(matched["failure_rate"])


def test_strongest_allowed_keeps_to_each_contracts_p95_budget() -> None:
    """Full's p95 (6.5 s) is above inline_assist's p95 budget (3 s): the fair "always full"
    sends that surface to mini and every other feature to full."""
    from training.replay.policies import strongest_allowed_tiers

    contracts = load_contracts()
    budget = contracts.get("inline_assist").p95_budget_ms
    assert budget is not None and TABLE.tiers["full"].p95_ms > budget >= TABLE.tiers["mini"].p95_ms
    features = ["inline_assist", "support_chat", "no_such_feature", "inline_assist"]
    tiers = strongest_allowed_tiers(contracts, TABLE, features)
    assert tiers.tolist() == [1, 2, 2, 1]


def test_budget_cap_applies_only_when_the_learned_policy_keeps_to_the_budgets() -> None:
    strongest = one_hot(np.array([2, 1, 2]))
    within = {"learned": {"cost_usd": 2.0}, "strongest_allowed": {"cost_usd": 3.0}}
    cap = budget_cap(strongest, within)
    assert cap is not None and cap.tolist() == [2, 1, 2]
    past = {"learned": {"cost_usd": 3.5}, "strongest_allowed": {"cost_usd": 3.0}}
    assert budget_cap(strongest, past) is None  # untuned bars went past: a cap could not match
