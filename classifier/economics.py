"""A feature's error economics as numbers: the cost components of each tier, the p95 budget.

classifier.plan builds these once per (contracts, table, feature) into its Plan; the decision
reads only the summed columns (`columns`). `cost_parts` splits the same expected cost back into
its components (price, delay, failure, review, incident; docs/decisions.md "Error economics"),
off the hot path, so that `tierwise evaluate` can say which one drove a feature's tier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from classifier.contracts import EndpointSpec, FeatureContract

if TYPE_CHECKING:
    from classifier.plan import Plan


class Parts(NamedTuple):
    """One tier's cost coefficients by component: `*_rate` per input token, the rest per call;
    `fail_*` are paid with probability P(fail)."""

    price_rate: float
    price_fixed: float
    delay: float  # over the p50 budget
    fail_price_rate: float  # the recovery attempt
    fail_price_fixed: float
    fail_delay: float  # the recovery's wait
    failure: float
    review: float
    incident: float


COMPONENTS = ("price", "delay", "failure", "review", "incident")


def tier_parts(
    contract: FeatureContract, specs: list[EndpointSpec], rank: int, recovery: int | None
) -> Parts:
    """One tier's cost components; one function for the attempt and its recovery, so that both
    are priced the same way. The incident cost is an expectation per failure (how often a failure
    needs a rollback or incident x what handling one costs), so it applies whatever the fallback:
    a retry or escalation repairs the answer, not what the bad one already set off."""
    econ = contract.economics
    out_tokens = contract.typical_output_tokens
    spec = specs[rank]
    budget = contract.latency_budget_ms or 0.0  # validated: every contract has one
    over_ms = max(0.0, spec.p50_latency_ms - budget)
    price_fixed = out_tokens * spec.output_per_mtok / 1e6
    delay = over_ms / 1000.0 * econ.delay_usd_per_s
    if recovery is None:  # fail_closed: a human reviews, no second attempt
        fail_rate = fail_fixed = fail_delay = 0.0
        review = econ.review_usd
    else:
        again = specs[recovery]
        fail_rate, fail_fixed = again.input_per_mtok / 1e6, out_tokens * again.output_per_mtok / 1e6
        # The recovery runs after the failed attempt: the user waits for it on top.
        fail_delay = again.p50_latency_ms / 1000.0 * econ.delay_usd_per_s
        review = 0.0
    return Parts(
        spec.input_per_mtok / 1e6,
        price_fixed,
        delay,
        fail_rate,
        fail_fixed,
        fail_delay,
        econ.failure_usd,
        review,
        econ.incident_usd,
    )


def columns(parts: Parts) -> tuple[float, float, float, float]:
    """(input rate, fixed, failure input rate, failure fixed): what expected_costs reads."""
    fail_fixed = (
        parts.failure + parts.review + parts.incident + parts.fail_price_fixed + parts.fail_delay
    )
    return parts.price_rate, parts.price_fixed + parts.delay, parts.fail_price_rate, fail_fixed


def p95_budget(
    contract: FeatureContract, specs: list[EndpointSpec], allowed: tuple[bool, ...]
) -> tuple[tuple[bool, ...], str | None]:
    """The tiers within the contract's p95 budget (and allowed), and the reason's note on what
    it excludes. Only the cheapest-ok choice reads it: the fallbacks (no tier meets the bar,
    abstention, the risk floor) may go past it, because quality and risk outrank the tail."""
    budget = contract.p95_budget_ms
    fast = [budget is None or spec.p95_ms <= budget for spec in specs]
    eligible = tuple(a and f for a, f in zip(allowed, fast, strict=True))
    slow = [
        f"{spec.model} p95 {spec.p95_ms:g} ms" for spec, f in zip(specs, fast, strict=True) if not f
    ]
    note = f"p95_budget {budget:g} ms excludes {', '.join(slow)}" if slow else None
    return eligible, note


def cost_parts(
    plan: Plan, p_ok: tuple[float, ...], input_tokens: int
) -> tuple[dict[str, float], ...]:
    """Expected USD per tier split by component (COMPONENTS); each tier's sum equals
    `expected_costs`. For the evaluation report: which cost drove a feature's choice."""
    out = []
    for parts, p in zip(plan.parts, p_ok, strict=True):
        fail = 1.0 - p
        out.append(
            {
                "price": input_tokens * parts.price_rate
                + parts.price_fixed
                + fail * (input_tokens * parts.fail_price_rate + parts.fail_price_fixed),
                "delay": parts.delay + fail * parts.fail_delay,
                "failure": fail * parts.failure,
                "review": fail * parts.review,
                "incident": fail * parts.incident,
            }
        )
    return tuple(out)
