"""Each policy as a matrix pi[N, 3]: the probability that it sends request i first to tier t.

Deterministic policies are one-hot rows; `random at matched cost` is the same mixture on every
row. Scoring (replay_metrics) is linear in pi, so exact replay and inverse-propensity estimates
treat every policy alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.contracts import Contracts, ContractsFile, FeatureContract, RoutingTable
from classifier.decision import decide
from classifier.guards import GuardResult
from classifier.prediction import Prediction
from classifier.rules import RuleRouter
from classifier.taxonomy import TIER_RANK, TIERS

N_TIERS = len(TIERS)


def one_hot(tiers: np.ndarray) -> np.ndarray:
    pi = np.zeros((len(tiers), N_TIERS))
    pi[np.arange(len(tiers)), np.asarray(tiers, dtype=np.intp)] = 1.0
    return pi


def fixed(n: int, tier: str) -> np.ndarray:
    return one_hot(np.full(n, TIER_RANK[tier]))


def rules_tiers(rules: RuleRouter, texts: Sequence[str], features: Sequence[str]) -> np.ndarray:
    """The team's rule router (no model, no guards: what it does in production)."""
    return np.fromiter((TIER_RANK[rules.choose(t, f)[0]] for t, f in zip(texts, features,
                                                                          strict=True)),
                       dtype=np.int8, count=len(texts))


def oracle_tiers(tier_ok: np.ndarray) -> np.ndarray:
    """Cheapest truly viable tier (full when none is: nothing cheaper can do better)."""
    ok = np.asarray(tier_ok) == 1
    return np.where(ok.any(axis=1), ok.argmax(axis=1), N_TIERS - 1).astype(np.int8)


def decide_tiers(predictions: Sequence[Prediction], texts: Sequence[str],
                 features: Sequence[str], guards: Sequence[GuardResult], contracts: Contracts,
                 table: RoutingTable, rules: RuleRouter | None = None) -> np.ndarray:
    """The production decision (contracts, risk floor, guards, abstention) for each prediction."""
    out = np.empty(len(predictions), dtype=np.int8)
    for i, (p, text, feature, guard) in enumerate(zip(predictions, texts, features, guards,
                                                      strict=True)):
        out[i] = TIER_RANK[decide(p, feature, contracts, table, guard, None, text=text,
                                  rules=rules).tier]
    return out


def with_quality_bar(contracts: Contracts, bar: float, *, price_only: bool = True) -> Contracts:
    """The same contracts with every feature's (and the default's) quality bar set to `bar`.

    `price_only` also zeroes the failure and review costs, so that the decision takes the
    cheapest allowed tier that meets the bar: the bar is then a plain tier threshold, as in the
    routing papers' curves. (With the default economics a failure costs 10-500x a call, so the
    expected-cost rule picks the safest tier whatever the bar, and the sweep would not move.)
    Guards, risk floors and abstention stay as they are.
    """

    def change(c: FeatureContract) -> FeatureContract:
        update: dict[str, object] = {"quality_bar": bar}
        if price_only:
            update["economics"] = c.economics.model_copy(update={"failure_usd": 0.0,
                                                                 "review_usd": 0.0})
        return c.model_copy(update=update)

    parsed = ContractsFile(
        decision=contracts.decision,
        default=change(contracts.default),
        features={k: change(v) for k, v in contracts.features.items()},
    )
    return Contracts(parsed, f"{contracts.source} (quality_bar={bar}, price_only={price_only})")


def matched_mixture(target_cost: float, tier_costs: Sequence[float]) -> np.ndarray:
    """Tier shares q (one row for every request) whose cost equals `target_cost`.

    Cost is linear in q, so walk the path all-nano -> all-mini -> all-full and solve on the
    first segment that brackets the target (mixing two adjacent tiers, as RouteLLM's random
    router mixes a weak and a strong model). Clipped to the cheapest/most expensive end.
    """
    c = [float(x) for x in tier_costs]
    corners = [np.eye(N_TIERS)[t] for t in range(N_TIERS)]
    for t in range(N_TIERS - 1):
        lo, hi = c[t], c[t + 1]
        if min(lo, hi) <= target_cost <= max(lo, hi):
            w = 0.0 if hi == lo else (target_cost - lo) / (hi - lo)
            return (1 - w) * corners[t] + w * corners[t + 1]
    return corners[int(np.argmin(c))] if target_cost < min(c) else corners[int(np.argmax(c))]


def mixture(n: int, q: np.ndarray) -> np.ndarray:
    return np.tile(np.asarray(q, dtype=np.float64), (n, 1))


def tier_shares(pi: np.ndarray) -> np.ndarray:
    return pi.mean(axis=0) if len(pi) else np.zeros(N_TIERS)
