"""A feature's route plan: per-tier prices, recovery costs and floors, precomputed once.

Everything in a route decision that depends only on (contracts, routing table, feature, the
bundle's tuning) is computed here, once, into a frozen `Plan` cached on the Contracts object, so
that a decision (classifier.decision) is float arithmetic and a few tuple reads. The expected
cost of one tier (docs/decisions.md):

    price(in, out) + delay over the p50 budget
      + P(fail) x (failure_usd + incident_usd [+ review_usd if fail_closed]
                   + price of the recovery attempt + delay of its wait)

where the recovery is the next tier (escalate), the same tier (retry) or none (fail_closed), and
a tier whose endpoint p95 exceeds the feature's p95 budget (its surface) is not chosen as the
cheapest tier that meets the bar (the fallbacks, no tier meets the bar and abstention, may).
`cost_parts` splits the same sum into its components (price, delay, failure, review, incident)
for the evaluation report (classifier.economics).

Under data residency (classifier.residency) each tier is priced at its allowed endpoint, a tier
without one is marked not allowed, and escalation goes to the next allowed tier. Tiers, risks and
their order are the contracts' taxonomy (classifier.taxonomy: any number of tiers, cheapest
first); the routing table must price the same ones.

Example:
    plan = plan_for(contracts, table, "doc_summary")
    expected_costs(plan, (0.9, 0.95, 0.99), input_tokens=800)
"""

from __future__ import annotations

from dataclasses import dataclass

from classifier.contracts import Contracts, EndpointSpec, FeatureContract, RoutingTable
from classifier.economics import COMPONENTS, Parts, columns, cost_parts, p95_budget, tier_parts
from classifier.errors import ConfigError
from classifier.prediction import Prediction
from classifier.residency import allowed_regions, endpoints_for, guard_key
from classifier.tuning import TierTuning, at_failure_price, contract_failure_price

__all__ = ["COMPONENTS", "Plan", "build_plan", "cost_parts", "expected_costs", "plan_for"]


@dataclass(frozen=True, slots=True)
class Plan:
    """Per-(contracts, table, feature) numbers, so that a decision is arithmetic only."""

    contract_name: str
    tiers: tuple[str, ...]  # the taxonomy's, cheapest first
    risks: tuple[str, ...]
    tier_rank: dict[str, int]
    risk_rank: dict[str, int]
    guard_rank: dict[str, int]  # a guard's floor (low/medium/high) -> this taxonomy's rank
    top: int  # rank of the strongest tier
    force_rank: int
    force_reason: str
    bar: float
    contract_risk_rank: int
    min_rank_by_risk: tuple[int, ...]
    models: tuple[str, ...]
    in_rate: tuple[float, ...]  # USD per input token, per tier
    fixed: tuple[float, ...]  # typical output price + delay over budget, per tier
    fail_in_rate: tuple[float, ...]  # recovery attempt's USD per input token
    fail_fixed: tuple[float, ...]  # failure_usd (+ review) + recovery output price and delay
    typical_input_tokens: int
    min_intent_prob: float
    ok_margin: float
    tuned: tuple[float, float] | None = None  # (tuned failure price, the contract's price)
    # Data residency (classifier.residency); without a constraint every tier is allowed.
    allowed: tuple[bool, ...] = ()
    up: tuple[int, ...] = ()  # the lowest allowed rank >= r, or -1
    down: tuple[int, ...] = ()  # the highest allowed rank <= r, or -1
    regions: tuple[str | None, ...] = ()  # where each tier's endpoint runs
    vendors: tuple[str | None, ...] = ()
    residency: str | None = None  # the constraint in words; None: no constraint applied
    rows: tuple[tuple[float, float, float, float], ...] = ()  # the four cost columns by tier
    # The p95 budget: the tiers the learned decision may choose as cheapest_ok (allowed and
    # within the p95 budget).
    eligible: tuple[bool, ...] = ()
    p95_note: str | None = None  # which tiers the p95 budget excludes, for the reason
    parts: tuple[Parts, ...] = ()  # the cost components by tier (not on the hot path)


def build_plan(
    contract: FeatureContract,
    name: str,
    contracts: Contracts,
    table: RoutingTable,
    tuning: TierTuning | None = None,
    guard_rules: tuple[str, ...] = (),
) -> Plan:
    """Precompute a feature's cost coefficients (public so that evaluation can reuse them).

    With `tuning`, the contract runs at the bundle's tuned failure price for this feature
    (classifier.tuning.at_failure_price); without a usable curve, as written. `guard_rules` are
    the residency guard rules a request triggered (classifier.residency.guard_key).
    """
    tuned = None
    if tuning is not None:
        price = contract_failure_price(contract)
        chosen = tuning.failure_price(name, price)
        if chosen is not None:
            contract, tuned = at_failure_price(contract, chosen), (chosen, price)
    taxonomy = contracts.taxonomy
    if table.taxonomy != taxonomy:
        raise ConfigError(
            f"routing table {table.source} prices the tiers of taxonomy {table.taxonomy.version!r}"
            f", the contracts {contracts.source} speak {taxonomy.version!r}: "
            f"{'; '.join(table.taxonomy.differences(taxonomy))}; load the table with "
            "load_routing_table(path, contracts.taxonomy)"
        )
    tiers = taxonomy.tiers
    allowed_set, said = allowed_regions(contracts, name if name != "default" else None, guard_rules)
    endpoints = endpoints_for(table, allowed_set)
    allowed = tuple(endpoint is not None for endpoint in endpoints)
    specs: list[EndpointSpec] = [
        e if e is not None else table.tiers[t] for e, t in zip(endpoints, tiers, strict=True)
    ]
    n = len(specs)
    up = tuple(next((r for r in range(rank, n) if allowed[r]), -1) for rank in range(n))
    down = tuple(next((r for r in range(rank, -1, -1) if allowed[r]), -1) for rank in range(n))
    parts = []
    for rank in range(n):
        if contract.fallback == "fail_closed":
            recovery: int | None = None
        elif contract.fallback == "escalate":
            above = up[rank + 1] if rank + 1 < n else -1
            recovery = above if above >= 0 else rank  # nothing allowed above: the same tier again
        else:
            recovery = rank
        parts.append(tier_parts(contract, specs, rank, recovery))
    rows = [columns(p) for p in parts]
    in_rate, fixed, fail_in_rate, fail_fixed = (tuple(column) for column in zip(*rows, strict=True))
    eligible, p95_note = p95_budget(contract, specs, allowed)
    config = contracts.decision
    force = taxonomy.force_tier
    return Plan(
        contract_name=name,
        tiers=tiers,
        risks=taxonomy.risks,
        tier_rank=dict(taxonomy.tier_rank),
        risk_rank=dict(taxonomy.risk_rank),
        guard_rank={
            floor: taxonomy.risk_rank[taxonomy.guard_risk(floor)]
            for floor in ("low", "medium", "high", *taxonomy.risks)
        },
        top=n - 1,
        force_rank=taxonomy.tier_rank[force],
        force_reason=f"switch:force_mini (emergency override, everything goes to {force})",
        bar=contract.quality_bar,
        contract_risk_rank=taxonomy.risk_rank[contract.risk_profile],
        min_rank_by_risk=tuple(
            taxonomy.tier_rank[config.risk_min_tier[risk]] for risk in taxonomy.risks
        ),
        models=tuple(spec.model for spec in specs),  # the allowed endpoint's, per tier
        in_rate=in_rate,
        fixed=fixed,
        fail_in_rate=fail_in_rate,
        fail_fixed=fail_fixed,
        typical_input_tokens=contract.typical_input_tokens,
        # a tuned price already carries the model's uncertainty: no contract abstention on top
        min_intent_prob=config.abstain.min_intent_prob if tuned is None else 0.0,
        ok_margin=config.abstain.ok_margin if tuned is None else 0.0,
        tuned=tuned,
        allowed=allowed,
        up=up,
        down=down,
        regions=tuple(spec.region for spec in specs),
        vendors=tuple(spec.vendor for spec in specs),
        residency=said,
        rows=tuple(zip(in_rate, fixed, fail_in_rate, fail_fixed, strict=True)),
        eligible=eligible,
        p95_note=p95_note,
        parts=tuple(parts),
    )


def plan_for(
    contracts: Contracts,
    table: RoutingTable,
    feature: str | None,
    tuning: TierTuning | None = None,
    detectors: tuple[str, ...] = (),
) -> Plan:
    """The cached plan; every unknown feature shares the default's entry (bounded cache).

    `tuning` is used only when the contracts ask for tuned thresholds; plans are cached per
    tuning too (one small entry per feature and bundle), and per residency guard rule set that
    the guard `detectors` trigger (a few entries at most).
    """
    if contracts.decision.thresholds != "tuned":
        tuning = None
    known = feature is not None and feature in contracts.features
    rules = guard_key(contracts.residency, detectors) if detectors else ()
    key = (table, feature if known else None, tuning.key if tuning is not None else None, rules)
    plan = contracts._plans.get(key)
    if plan is None:
        name = feature if known else "default"
        contract = contracts.get(feature if known else None)
        plan = build_plan(contract, name, contracts, table, tuning, rules)  # type: ignore[arg-type]
        contracts._plans[key] = plan
    return plan


def expected_costs(plan: Plan, p_ok: tuple[float, ...], input_tokens: int) -> tuple[float, ...]:
    """Expected USD per tier for one request (see the module docstring)."""
    n = input_tokens
    if len(p_ok) == 3:  # unrolled for the default three tiers: 0.34 µs, the loop below 0.55
        (r0, f0, fr0, ff0), (r1, f1, fr1, ff1), (r2, f2, fr2, ff2) = plan.rows
        return (
            n * r0 + f0 + (1.0 - p_ok[0]) * (ff0 + n * fr0),
            n * r1 + f1 + (1.0 - p_ok[1]) * (ff1 + n * fr1),
            n * r2 + f2 + (1.0 - p_ok[2]) * (ff2 + n * fr2),
        )
    # Any other taxonomy: a plain loop over precomputed rows (faster than a comprehension).
    out = []
    for (rate, fixed, f_rate, f_fixed), p in zip(plan.rows, p_ok):  # noqa: B905
        out.append(n * rate + fixed + (1.0 - p) * (f_fixed + n * f_rate))
    return tuple(out)


def estimate_tokens(prediction: Prediction, plan: Plan, text: str | None) -> int:
    """Input tokens of the whole request: the classifier saw only a window of a truncated one."""
    tokens = prediction.tokens_used
    if prediction.truncated or tokens <= 0:
        # About four characters per token for the rest.
        tokens = max(tokens, len(text) // 4 if text else plan.typical_input_tokens)
    return tokens
