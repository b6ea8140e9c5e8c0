"""Tuning the tier decision on held-out replay, and the replay's tier figures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from classifier.contracts import load_contracts, load_routing_table
from classifier.rules import RuleRouter
from classifier.taxonomy import INTENTS
from classifier.tuning import ALL, contract_failure_price
from training.replay.costs import Logged, Outcomes
from training.replay.drivers import with_components
from training.replay.knn_router import predictions_from_proba
from training.replay.metrics import score_exact
from training.replay.policies import decide_tiers, one_hot, with_failure_cost
from training.replay.tier_tuning import tune
from training.replay.tiers import (
    below_baselines,
    curve_cost_at,
    keyword_scores,
    tier_accuracy,
    tier_aucs,
    tuned_sweep,
)

TABLE = load_routing_table()
# The tuning mechanics, without the inline surface's p95 budget (which keeps inline_assist off
# full whatever a failure costs: tests/classifier/test_economics.py covers that).
CONTRACTS = with_components(load_contracts(), ("review", "incident", "delay"))
RULES = RuleRouter.default(TABLE.tier_models)
N = 400


def _held_out(seed: int = 0):
    """Requests of two low-risk features; nano and mini fail the harder ones, priced by hand."""
    rng = np.random.default_rng(seed)
    ease = rng.uniform(0, 1, N)
    features = ["ticket_triage" if i % 2 else "inline_assist" for i in range(N)]
    texts = [f"Tag this ticket number {i}" for i in range(N)]
    p_ok = np.column_stack([ease, np.sqrt(ease) * 0.6 + 0.4, np.full(N, 0.99)])
    probs = {
        "intent": np.tile(np.eye(len(INTENTS))[2], (N, 1)),
        "risk": np.tile([0.9, 0.05, 0.05], (N, 1)),
        "tier_ok": p_ok,
    }
    preds = predictions_from_proba(probs, "t")
    ok = rng.uniform(0, 1, (N, 3)) < p_ok  # outcomes follow the probabilities
    cost = np.tile([0.0001, 0.0004, 0.002], (N, 1))
    fail = (~ok).astype(float)
    zero = np.zeros((N, 3))
    outcomes = Outcomes(cost, fail, fail, zero, zero, np.ones((N, 3)))
    return preds, texts, features, outcomes


def test_tuning_curves_trade_cost_for_failures_per_feature() -> None:
    preds, texts, features, outcomes = _held_out()
    t = tune(preds, texts, features, CONTRACTS, TABLE, RULES, outcomes=outcomes)
    assert set(t.curves) == {ALL, "ticket_triage", "inline_assist"}
    assert t.curves[ALL].rows == N and t.curves["ticket_triage"].rows == N // 2
    assert t.mode == "exact" and t.rows == N
    c = t.curves[ALL]
    # price 0: only the price and the recovery's price count, so mostly nano, the cheapest
    assert c.cost_usd[0] == min(c.cost_usd) < 0.00015
    assert c.cost_usd[-1] > c.cost_usd[0] and c.failure_rate[-1] < c.failure_rate[0]
    assert c.failure_rate[-1] < 0.05  # price 100: almost everything goes where it is safe


def test_a_curve_point_is_what_the_tuned_decision_then_does() -> None:
    """The stored curve is exact: routing at a feature's tuned price reproduces its point."""
    preds, texts, features, outcomes = _held_out()
    t = tune(preds, texts, features, CONTRACTS, TABLE, RULES, outcomes=outcomes)
    tuned = [dataclasses.replace(p, tier_tuning=t) for p in preds]
    for usd in (0.0005, 0.003, 0.02):
        contracts = with_failure_cost(CONTRACTS, usd)
        tiers = decide_tiers(tuned, texts, features, [None] * N, contracts, TABLE, RULES)
        rows = np.flatnonzero(np.asarray(features) == "ticket_triage")
        got = score_exact(one_hot(tiers[rows]), outcomes.subset(rows))
        chosen = t.failure_price("ticket_triage", contract_failure_price(
            contracts.get("ticket_triage")))  # fmt: skip
        k = t.prices.index(chosen)
        assert got["cost_per_1k_usd"] / 1000 == pytest.approx(t.curves["ticket_triage"].cost_usd[k])
        assert got["failure_rate"] == pytest.approx(t.curves["ticket_triage"].failure_rate[k])


def test_the_learned_sweep_moves_from_cheap_to_safe() -> None:
    preds, texts, features, outcomes = _held_out()
    t = tune(preds, texts, features, CONTRACTS, TABLE, RULES, outcomes=outcomes)
    tuned = [dataclasses.replace(p, tier_tuning=t) for p in preds]

    def route(p, c):  # noqa: ANN001, ANN202
        return one_hot(decide_tiers(p, texts, features, [None] * N, c, TABLE, RULES))

    curve = tuned_sweep(tuned, route, CONTRACTS, lambda pi: score_exact(pi, outcomes))
    costs = [p["cost_per_1k_usd"] for p in curve]
    assert costs[0] == min(costs) and curve[-1]["failure_rate"] == min(
        p["failure_rate"] for p in curve)  # fmt: skip
    assert len({round(c, 9) for c in costs}) > 3


def test_estimate_mode_tunes_on_logged_traces() -> None:
    preds, texts, features, outcomes = _held_out()
    rng = np.random.default_rng(3)
    tier = rng.integers(0, 3, N).astype(np.int8)
    cols = {}
    for m in ("cost_usd", "fail", "hard_fail", "escalations", "retry_latency_ms", "attempts"):
        full = getattr(outcomes, m)
        logged = np.full((N, 3), np.nan)
        logged[np.arange(N), tier] = full[np.arange(N), tier]
        cols[m] = logged
    traces = Logged(tier, np.full(N, 1 / 3), Outcomes(**cols), cols["fail"][np.arange(N), tier])
    t = tune(preds, texts, features, CONTRACTS, TABLE, RULES, logged=traces)
    assert t.mode == "estimate" and ALL in t.curves
    assert t.curves[ALL].failure_rate[-1] < t.curves[ALL].failure_rate[0]
    with pytest.raises(ValueError, match="exactly one"):
        tune(preds, texts, features, CONTRACTS, TABLE, RULES)


def test_curve_cost_and_the_below_check_on_known_points() -> None:
    curve = [{"failure_rate": 0.1, "cost_per_1k_usd": 1.0},
             {"failure_rate": 0.02, "cost_per_1k_usd": 3.0}]  # fmt: skip
    assert curve_cost_at(curve, 0.06) == pytest.approx(2.0)
    assert curve_cost_at(curve, 0.01) is None and curve_cost_at(curve, 0.2) is None
    rows = below_baselines(curve, {
        "cheap": [{"failure_rate": 0.06, "cost_per_1k_usd": 1.5}],  # the curve is above it
        "dear": [{"failure_rate": 0.06, "cost_per_1k_usd": 2.5}],
        "outside": [{"failure_rate": 0.5, "cost_per_1k_usd": 0.1}],
    })  # fmt: skip
    by = {r["baseline"]: r for r in rows}
    assert by["cheap"]["worst_gap_per_1k"] == pytest.approx(0.5) and not by["cheap"]["below"]
    assert by["dear"]["below"] and by["outside"]["compared"] == 0 and not by["outside"]["below"]


def test_keyword_scores_count_distinct_cues() -> None:
    scores = keyword_scores(["hello there", "Calculate the total, step by step, step by step.",
                             "Fix this bug in the SQL query ```select 1```"])  # fmt: skip
    assert list(scores) == [0, 4, 4]  # calculate total step + "step by step"; bug sql query ```


def test_auc_and_tier_accuracy_against_truth() -> None:
    ok = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0]])
    perfect = np.array([[0.9, 0.95, 0.99], [0.2, 0.9, 0.99], [0.1, 0.2, 0.9], [0.0, 0.1, 0.2]])
    aucs = tier_aucs(perfect, ok)
    assert aucs["nano"] == aucs["mini"] == aucs["full"] == 1.0
    assert tier_accuracy(perfect, ok) == 1.0
    assert tier_accuracy(perfect[::-1], ok) == 0.0
