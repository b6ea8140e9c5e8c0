"""The inverse-propensity estimate agrees with exact replay where it should."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.contracts import load_routing_table
from classifier.rules import RuleRouter
from classifier.taxonomy import TIERS
from data.generator import generate
from training.replay.costs import Logged, Outcomes, logged_outcomes, simulate_outcomes
from training.replay.data import load_replay_data
from training.replay.metrics import poisson_weights, score_exact, score_ips
from training.replay.policies import fixed, one_hot, rules_tiers

TABLE = load_routing_table()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("ips")
    generate(2500, seed=11, out_dir=out)
    rd = load_replay_data(
        [out / "logs.jsonl"], [out / "corrections.jsonl"], out / "truth.jsonl", TABLE
    )
    index = np.arange(len(rd))
    outcomes = simulate_outcomes(rd.requests(index), TABLE, replays=2, seed=1)
    return rd, outcomes


def test_plain_ips_is_unbiased_over_logging_draws(simulated) -> None:
    """Averaged over many draws of the logging policy's first tier, IPS equals the exact value."""
    rd, outcomes = simulated
    n = len(rd)
    rules = RuleRouter.default(TABLE.tier_models)
    rule_tier = rules_tiers(rules, rd.data.text, rd.data.feature)
    eps = 0.1
    p_log = np.full((n, 3), eps / 3)
    p_log[np.arange(n), rule_tier] += 1 - eps
    rng = np.random.default_rng(0)
    policies = {
        "always_mini": fixed(n, "mini"),
        "always_nano": fixed(n, "nano"),
        "rules": one_hot(rule_tier),
    }
    estimates = {name: [] for name in policies}
    for _ in range(300):
        u = rng.random(n)[:, None]
        tier = (u > np.cumsum(p_log, axis=1)).sum(axis=1)
        logged = logged_outcomes(
            np.stack(
                [
                    outcomes.cost_usd[np.arange(n), tier],
                    outcomes.fail[np.arange(n), tier],
                    *(
                        getattr(outcomes, m)[np.arange(n), tier]
                        for m in ("hard_fail", "escalations", "retry_latency_ms", "attempts")
                    ),
                ],
                axis=1,
            ),
            tier,
            p_log[np.arange(n), tier],
        )
        for name, pi in policies.items():
            estimates[name].append(score_ips(pi, logged)["ips_unnormalised"]["cost_per_1k_usd"])
    for name, pi in policies.items():
        exact = score_exact(pi, outcomes)["cost_per_1k_usd"]
        mean = float(np.mean(estimates[name]))
        se = float(np.std(estimates[name]) / np.sqrt(len(estimates[name])))
        assert abs(mean - exact) < 4 * se + 1e-9, (name, mean, exact, se)


def test_snips_on_the_logged_traces_brackets_the_exact_value(simulated) -> None:
    """On the simulator's own logs (real traces, true failure from truth) the CI covers exact."""
    rd, outcomes = simulated
    n = len(rd)
    logged = logged_outcomes(
        rd.logged, rd.data.first_tier.astype(np.intp), rd.data.propensity, rd.true_fail
    )
    boot = poisson_weights(n, 300, seed=3)
    rules = one_hot(
        rules_tiers(RuleRouter.default(TABLE.tier_models), rd.data.text, rd.data.feature)
    )
    est = score_ips(rules, logged, boot, level=0.99)
    exact = score_exact(rules, outcomes)
    assert est["ess"] > 1000
    for key in ("cost_per_1k_usd", "failure_rate", "escalations_per_1k"):
        lo, hi = est["ci"][key]
        assert lo <= exact[key] <= hi, (key, lo, exact[key], hi)


def test_records_without_propensity_are_left_out() -> None:
    n = 4
    values = np.ones((n, 6))
    logged = logged_outcomes(values, np.array([0, 1, 2, 0]), np.array([0.5, np.nan, 0.5, 0.5]))
    est = score_ips(fixed(n, "nano"), logged)
    assert est["n_used"] == 3 and est["matched"] == 2
    assert est["failure_rate"] == pytest.approx(1.0)
    assert isinstance(logged, Logged) and isinstance(logged.outcomes, Outcomes)
    assert np.isnan(logged.outcomes.cost_usd[0, 1])
    assert len(TIERS) == logged.outcomes.cost_usd.shape[1]
