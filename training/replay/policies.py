"""Each policy as a matrix pi[N, 3]: the probability that it sends request i first to tier t.

Deterministic policies are one-hot rows; `random at matched cost` is the same mixture on every
row; the prompt-length router is one-hot from two length thresholds. Scoring (replay_metrics)
is linear in pi, so exact replay and inverse-propensity estimates treat every policy alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from classifier.abstain import NO_MARGINS, Margins
from classifier.contracts import Contracts, ContractsFile, FeatureContract, RoutingTable
from classifier.guards import GuardResult
from classifier.plan import plan_for
from classifier.policies import LearnedPolicy
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


def strongest_allowed_tiers(
    contracts: Contracts, table: RoutingTable, features: Sequence[str]
) -> np.ndarray:
    """Per request, the strongest tier its feature's contract lets a policy pick as cheapest-ok:
    allowed where it runs and within the surface's p95 budget (classifier.economics.p95_budget).

    This is "always full" as the contracts permit it. `always_full` ignores the p95 budgets
    (full's p95 is above inline_assist's), so no policy that keeps to the contracts can reach
    its failure rate; this one is the fair target for "no higher failure rate".
    """
    rank: dict[str, int] = {}
    out = np.empty(len(features), dtype=np.intp)
    for i, feature in enumerate(features):
        if feature not in rank:
            plan = plan_for(contracts, table, feature)
            within = [r for r, ok in enumerate(plan.eligible) if ok]
            rank[feature] = within[-1] if within else plan.down[plan.top]
        out[i] = rank[feature]
    return out


def rules_tiers(rules: RuleRouter, texts: Sequence[str], features: Sequence[str]) -> np.ndarray:
    """The team's rule router (no model, no guards: what it does in production)."""
    return np.fromiter(
        (TIER_RANK[rules.choose(t, f)[0]] for t, f in zip(texts, features, strict=True)),
        dtype=np.int8,
        count=len(texts),
    )


def oracle_tiers(tier_ok: np.ndarray) -> np.ndarray:
    """Cheapest truly viable tier (full when none is: nothing cheaper can do better)."""
    ok = np.asarray(tier_ok) == 1
    return np.where(ok.any(axis=1), ok.argmax(axis=1), N_TIERS - 1).astype(np.int8)


def decide_tiers(
    predictions: Sequence[Prediction],
    texts: Sequence[str],
    features: Sequence[str],
    guards: Sequence[GuardResult],
    contracts: Contracts,
    table: RoutingTable,
    rules: RuleRouter | None = None,
    margins: Margins = NO_MARGINS,
) -> np.ndarray:
    """The production decision (contracts, risk floor, guards, abstention) for each prediction:
    the service's own `LearnedPolicy.decide`, with no switch set."""
    policy = LearnedPolicy(contracts, table, rules=rules, margins=margins)
    out = np.empty(len(predictions), dtype=np.int8)
    for i, (p, text, feature, guard) in enumerate(
        zip(predictions, texts, features, guards, strict=True)
    ):
        out[i] = TIER_RANK[policy.decide(text, feature, p, guards=guard).tier]
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
            update["economics"] = c.economics.model_copy(
                update={"failure_usd": 0.0, "review_usd": 0.0, "incident_usd": 0.0}
            )
        return c.model_copy(update=update)

    parsed = ContractsFile(
        decision=contracts.decision,
        default=change(contracts.default),
        features={k: change(v) for k, v in contracts.features.items()},
        surfaces=dict(contracts.surfaces),
    )
    return Contracts(parsed, f"{contracts.source} (quality_bar={bar}, price_only={price_only})")


def with_failure_cost(contracts: Contracts, usd: float) -> Contracts:
    """The same contracts with one price of a failure for every feature (review cost folded in).

    The learned curve sweeps it: with tuned thresholds each feature then takes its bundle's
    tuned point for that price, which is how a team would trade cost for failures.
    """

    def change(c: FeatureContract) -> FeatureContract:
        econ = c.economics.model_copy(
            update={"failure_usd": usd, "review_usd": 0.0, "incident_usd": 0.0}
        )
        return c.model_copy(update={"economics": econ})

    parsed = ContractsFile(
        decision=contracts.decision,
        default=change(contracts.default),
        features={k: change(v) for k, v in contracts.features.items()},
        surfaces=dict(contracts.surfaces),
    )
    return Contracts(parsed, f"{contracts.source} (failure_usd={usd})")


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


def mixture(n: int, q: np.ndarray, cap: np.ndarray | None = None) -> np.ndarray:
    """Tier shares `q` on every request; with `cap` (a rank per request), the shares above a
    request's cap go to the cap (the strongest tier its contract allows)."""
    pi = np.tile(np.asarray(q, dtype=np.float64), (n, 1))
    if cap is None:
        return pi
    ranks = np.arange(pi.shape[1])
    above = ranks[None, :] > np.asarray(cap)[:, None]
    pi[np.arange(n), cap] += np.where(above, pi, 0.0).sum(axis=1)
    pi[above] = 0.0
    return pi


# -- prompt-length router ------------------------------------------------------------------------
# The simplest router that reads the request at all: longer prompts go to bigger tiers. Its two
# thresholds are picked on the very rows it is scored on (the cheapest way to flatter it), so a
# learned policy that beats it beats every length router, not one badly tuned one. With `cap`
# (the replay passes `strongest_allowed_tiers`) it keeps to the contracts' p95 budgets as the
# learned decision does: a request never goes above the strongest tier its feature allows.

LENGTH_QUANTILES = 20  # threshold candidates at every 5 % of the prompt-length distribution


def length_tiers(
    lengths: np.ndarray, lo: float, hi: float, cap: np.ndarray | None = None
) -> np.ndarray:
    """Tier per request: nano below `lo` characters, full from `hi` on, mini in between; never
    above `cap` (a rank per request) when given."""
    lengths = np.asarray(lengths)
    tiers = ((lengths >= lo).astype(np.int8) + (lengths >= hi).astype(np.int8)).astype(np.int8)
    return tiers if cap is None else np.minimum(tiers, cap).astype(np.int8)


def length_cuts(lengths: np.ndarray, quantiles: int = LENGTH_QUANTILES) -> np.ndarray:
    """Candidate thresholds: length quantiles, plus 0 (no nano) and max + 1 (no full)."""
    lengths = np.asarray(lengths, dtype=np.float64)
    top = float(lengths.max()) + 1.0 if len(lengths) else 1.0
    inner = np.quantile(lengths, np.linspace(0, 1, quantiles + 1)[1:-1]) if len(lengths) else []
    return np.unique(np.concatenate([[0.0, top], np.ceil(inner)]))


Score = Callable[[np.ndarray], dict[str, Any]]


def length_point(
    lengths: np.ndarray, lo: float, hi: float, score: Score, cap: np.ndarray | None = None
) -> dict[str, Any]:
    """Score of the length router at (lo, hi), with its thresholds."""
    s = score(one_hot(length_tiers(lengths, lo, hi, cap)))
    return {"lo_chars": float(lo), "hi_chars": float(hi), **s}


def length_sweep(
    lengths: np.ndarray,
    score: Score,
    quantiles: int = LENGTH_QUANTILES,
    cap: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Every (lo <= hi) pair of quantile cuts, reduced to its cost/failure frontier.

    Kept: the points no other point beats on both cost and failure rate, in order of cost
    (failure then falls along the curve), like a threshold sweep of a learned router.
    """
    cuts = length_cuts(lengths, quantiles)
    points = [
        length_point(lengths, lo, hi, score, cap) for i, lo in enumerate(cuts) for hi in cuts[i:]
    ]
    return frontier(points)


def frontier(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Points not dominated in (cost_per_1k_usd, failure_rate), cheapest first."""
    best: list[dict[str, Any]] = []
    for p in sorted(points, key=lambda p: (p["cost_per_1k_usd"], p["failure_rate"])):
        if not best or p["failure_rate"] < best[-1]["failure_rate"] - 1e-12:
            best.append(p)
    return best


def match_length_cost(
    lengths: np.ndarray,
    score: Score,
    target_cost_per_1k: float,
    quantiles: int = LENGTH_QUANTILES,
    rel_tol: float = 0.005,
    cap: np.ndarray | None = None,
) -> dict[str, Any]:
    """The length router whose cost per 1k matches the target, lowest failure rate first.

    For every quantile cut as `lo`, bisect `hi` over the distinct lengths (raising `hi` moves
    requests from full to mini, so cost falls) to the cost nearest the target; among the
    candidates within `rel_tol` of the target (or the nearest one, when none is), keep the one
    that fails least. Outside the reachable range it is all-nano or all-full.
    """
    his = np.concatenate(
        [np.unique(np.asarray(lengths, dtype=np.float64)), [float(np.max(lengths)) + 1.0]]
    )
    candidates = []
    for lo in length_cuts(lengths, quantiles):
        grid = his[his >= lo]
        a, b = 0, len(grid) - 1  # cost(grid[a]) is the highest, cost(grid[b]) the lowest
        pa, pb = (length_point(lengths, lo, grid[k], score, cap) for k in (a, b))
        if not pb["cost_per_1k_usd"] < target_cost_per_1k < pa["cost_per_1k_usd"]:
            candidates.append(pb if pb["cost_per_1k_usd"] >= target_cost_per_1k else pa)
            continue
        while b - a > 1:
            mid = (a + b) // 2
            pm = length_point(lengths, lo, grid[mid], score, cap)
            if pm["cost_per_1k_usd"] > target_cost_per_1k:
                a, pa = mid, pm
            else:
                b, pb = mid, pm
        candidates += [pa, pb]
    gaps = [abs(c["cost_per_1k_usd"] - target_cost_per_1k) for c in candidates]
    tol = max(rel_tol * target_cost_per_1k, min(gaps))
    near = [c for c, g in zip(candidates, gaps, strict=True) if g <= tol + 1e-15]
    return min(
        near, key=lambda c: (c["failure_rate"], abs(c["cost_per_1k_usd"] - target_cost_per_1k))
    )
