"""Turn a `Prediction` into a `RouteDecision` under a feature's contract, guards and switches.

The rule (docs/decisions.md has a worked example):

1. Switches first: `force_mini` sends everything to mini; a killed feature falls back to the rule
   router (the guard and contract risk floors still apply: guards hold for every policy).
2. Risk floor = max(contract risk profile, predicted risk, guard floor); `decision.risk_min_tier`
   maps it to the lowest tier allowed.
3. Among allowed tiers with P(ok) >= quality bar, take the lowest expected cost (with
   `decision.thresholds: tuned` and a bundle that carries tuning, the failure price is the
   bundle's, tuned on held-out replay for the contract's economics, and the bar is 0; see
   classifier.tuning):
       price(in, out) + delay over budget + P(fail) x (failure_usd [+ review_usd if fail_closed]
                                                        + price and delay of the recovery attempt)
   where the recovery is the next tier (escalate), the same tier (retry) or none (fail_closed).
   No tier meets the bar: full, and the reason says so.
4. Abstain: top intent probability < `min_intent_prob`, or the chosen P(ok) < bar + `ok_margin`:
   escalate one tier; `abstain` is set and the reason says why.
5. A per-feature tier cap (switch) lowers the tier last; the reason says so.

Hot path: everything that depends only on (contracts, routing table, feature) is precomputed
once into a `_Plan` and cached on the Contracts object; a call does float arithmetic, three dict
reads and one string join. No pydantic, no I/O.

Example:
    decision = decide(prediction, "doc_summary", contracts, table, scan(text), switches, text=text)
"""

from __future__ import annotations

from dataclasses import dataclass

from classifier.contracts import Contracts, FeatureContract, RoutingTable
from classifier.errors import InputError
from classifier.guards import CLEAN, GuardResult
from classifier.prediction import Prediction
from classifier.routing import RouteDecision
from classifier.rules import RuleRouter
from classifier.switches import Switches, SwitchState
from classifier.taxonomy import RISK_RANK, RISKS, TIER_RANK, TIERS
from classifier.tuning import TierTuning, at_failure_price, contract_failure_price

LEARNED = "learned"
_IDLE = SwitchState()
_FULL = len(TIERS) - 1
if len(TIERS) != 3:  # expected_costs() is unrolled for speed; a new tier needs it extended
    raise RuntimeError(f"classifier.decision expects 3 tiers, taxonomy has {TIERS}")


@dataclass(frozen=True, slots=True)
class _Plan:
    """Per-(contracts, table, feature) numbers, so that a decision is arithmetic only."""

    contract_name: str
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


def build_plan(
    contract: FeatureContract,
    name: str,
    contracts: Contracts,
    table: RoutingTable,
    tuning: TierTuning | None = None,
) -> _Plan:
    """Precompute a feature's cost coefficients (public so that evaluation can reuse them).

    With `tuning`, the contract runs at the bundle's tuned failure price for this feature
    (classifier.tuning.at_failure_price); without a usable curve, as written.
    """
    tuned = None
    if tuning is not None:
        price = contract_failure_price(contract)
        chosen = tuning.failure_price(name, price)
        if chosen is not None:
            contract, tuned = at_failure_price(contract, chosen), (chosen, price)
    econ = contract.economics
    out_tokens = contract.typical_output_tokens
    specs = [table.tiers[tier] for tier in TIERS]

    def delay_usd(rank: int) -> float:
        over_ms = specs[rank].p50_latency_ms - contract.latency_budget_ms
        return max(0.0, over_ms) / 1000.0 * econ.delay_usd_per_s

    def out_usd(rank: int) -> float:
        return out_tokens * specs[rank].output_per_mtok / 1e6

    in_rate, fixed, fail_in_rate, fail_fixed = [], [], [], []
    for rank, spec in enumerate(specs):
        in_rate.append(spec.input_per_mtok / 1e6)
        fixed.append(out_usd(rank) + delay_usd(rank))
        base = econ.failure_usd
        if contract.fallback == "fail_closed":
            fail_in_rate.append(0.0)
            fail_fixed.append(base + econ.review_usd)
            continue
        recovery = min(rank + 1, _FULL) if contract.fallback == "escalate" else rank
        # The recovery runs after the failed attempt: the user waits for both.
        recovery_delay = specs[recovery].p50_latency_ms / 1000.0 * econ.delay_usd_per_s
        fail_in_rate.append(specs[recovery].input_per_mtok / 1e6)
        fail_fixed.append(base + out_usd(recovery) + recovery_delay)
    config = contracts.decision
    return _Plan(
        contract_name=name,
        bar=contract.quality_bar,
        contract_risk_rank=RISK_RANK[contract.risk_profile],
        min_rank_by_risk=tuple(TIER_RANK[config.risk_min_tier[risk]] for risk in RISKS),
        models=tuple(spec.model for spec in specs),
        in_rate=tuple(in_rate),
        fixed=tuple(fixed),
        fail_in_rate=tuple(fail_in_rate),
        fail_fixed=tuple(fail_fixed),
        typical_input_tokens=contract.typical_input_tokens,
        # a tuned price already carries the model's uncertainty: no abstention on top
        min_intent_prob=config.abstain.min_intent_prob if tuned is None else 0.0,
        ok_margin=config.abstain.ok_margin if tuned is None else 0.0,
        tuned=tuned,
    )


def plan_for(
    contracts: Contracts,
    table: RoutingTable,
    feature: str | None,
    tuning: TierTuning | None = None,
) -> _Plan:
    """The cached plan; every unknown feature shares the default's entry (bounded cache).

    `tuning` is used only when the contracts ask for tuned thresholds; plans are cached per
    tuning too (one small entry per feature and bundle).
    """
    if contracts.decision.thresholds != "tuned":
        tuning = None
    known = feature is not None and feature in contracts.features
    key = (table, feature if known else None, tuning.key if tuning is not None else None)
    plan = contracts._plans.get(key)
    if plan is None:
        name = feature if known else "default"
        contract = contracts.get(feature if known else None)
        plan = build_plan(contract, name, contracts, table, tuning)  # type: ignore[arg-type]
        contracts._plans[key] = plan
    return plan


def expected_costs(plan: _Plan, p_ok: tuple[float, ...], input_tokens: int) -> tuple[float, ...]:
    """Expected USD per tier for one request (see the module docstring)."""
    n = input_tokens
    rate, fixed, f_rate, f_fixed = plan.in_rate, plan.fixed, plan.fail_in_rate, plan.fail_fixed
    # Unrolled over the three tiers: this runs on every request.
    return (
        n * rate[0] + fixed[0] + (1.0 - p_ok[0]) * (f_fixed[0] + n * f_rate[0]),
        n * rate[1] + fixed[1] + (1.0 - p_ok[1]) * (f_fixed[1] + n * f_rate[1]),
        n * rate[2] + fixed[2] + (1.0 - p_ok[2]) * (f_fixed[2] + n * f_rate[2]),
    )


_DEFAULT_RULES: dict[RoutingTable, RuleRouter] = {}


def _default_rules(table: RoutingTable) -> RuleRouter:
    router = _DEFAULT_RULES.get(table)
    if router is None:
        router = _DEFAULT_RULES.setdefault(table, RuleRouter.default(table.tier_models))
    return router


def _estimate_tokens(prediction: Prediction, plan: _Plan, text: str | None) -> int:
    tokens = prediction.tokens_used
    if prediction.truncated or tokens <= 0:
        # The classifier saw a window; about four characters per token for the rest.
        tokens = max(tokens, len(text) // 4 if text else plan.typical_input_tokens)
    return tokens


def decide(
    prediction: Prediction | None,
    feature: str | None,
    contracts: Contracts,
    table: RoutingTable,
    guard_result: GuardResult | None = CLEAN,
    switches: Switches | SwitchState | None = None,
    *,
    text: str | None = None,
    rules: RuleRouter | None = None,
    input_tokens: int | None = None,
    policy: str = LEARNED,
) -> RouteDecision:
    """The route for one classified request; see the module docstring for the rule.

    `text` lets the kill-switch fallback run the rule router's keyword rules (without it, the
    feature's default tier applies) and improves the token estimate of truncated inputs.
    `input_tokens`, when known (e.g. from the router's own tokenizer), replaces the estimate.
    `prediction` may be None only when force_mini or the feature's kill switch is on (the model
    is not consulted then); otherwise that is an InputError.
    """
    state = switches.state if isinstance(switches, Switches) else (switches or _IDLE)
    tuning = prediction.tier_tuning if prediction is not None else None
    plan = plan_for(contracts, table, feature, tuning)
    if guard_result is None:
        guard_result = CLEAN
    detectors = guard_result.detectors
    notes: list[str] = []
    if plan.contract_name == "default":
        notes.append(f"contract:default (no contract for feature {feature!r})")
    if detectors:
        notes.append("guards:" + ",".join(detectors))

    if state.force_mini:
        reason = "switch:force_mini (emergency override, everything goes to mini)"
        return _finish(
            prediction,
            feature,
            plan,
            "mini",
            reason,
            notes,
            "force_mini",
            "force_mini",
            detectors,
            None,
            False,
            None,
        )

    guard_rank = RISK_RANK[guard_result.risk_floor]
    if state.is_killed(feature):
        return _kill_switch(
            prediction, feature, plan, state, table, guard_rank, detectors, notes, text, rules
        )

    if prediction is None:
        raise InputError(
            "decide() needs a Prediction unless force_mini or the feature's kill switch is on; "
            "classify the text first"
        )
    # Risk floor and the lowest tier it allows.
    predicted_rank = RISK_RANK[prediction.risk]
    risk_rank = max(plan.contract_risk_rank, predicted_rank, guard_rank)
    min_rank = plan.min_rank_by_risk[risk_rank]
    if min_rank > 0:
        source = (
            "guards"
            if guard_rank == risk_rank
            else ("contract" if plan.contract_risk_rank == risk_rank else "prediction")
        )
        notes.append(f"risk_floor:{RISKS[risk_rank]} ({source}) -> min {TIERS[min_rank]}")

    probs = prediction.tier_ok_probs
    p_ok = (probs.get("nano", 0.0), probs.get("mini", 0.0), probs.get("full", 0.0))
    tokens = input_tokens if input_tokens is not None else _estimate_tokens(prediction, plan, text)
    costs = expected_costs(plan, p_ok, tokens)
    bar = plan.bar
    chosen = -1
    for rank in range(min_rank, len(TIERS)):
        if p_ok[rank] >= bar and (chosen < 0 or costs[rank] < costs[chosen]):
            chosen = rank
    if chosen < 0:
        chosen = _FULL
        code = "no_tier_meets_bar"
        head = f"no_tier_meets_bar: best P(ok) {max(p_ok[min_rank:]):.2f} < bar {bar:.2f} -> full"
    else:
        code = "cheapest_ok"
        head = (
            f"cheapest_ok:{TIERS[chosen]} P(ok) {p_ok[chosen]:.2f} >= bar {bar:.2f}, "
            f"E[cost] ${costs[chosen]:.6f}"
        )
    if plan.tuned is not None:
        notes.append(
            f"tuned: failure priced ${plan.tuned[0]:g} (held-out replay, contract "
            f"${plan.tuned[1]:g})"
        )

    abstain = False
    if code == "cheapest_ok":
        top_intent = prediction.intent_probs.get(prediction.intent, 0.0)
        why = None
        if top_intent < plan.min_intent_prob:
            why = f"intent P {top_intent:.2f} < {plan.min_intent_prob:.2f}"
        elif p_ok[chosen] < bar + plan.ok_margin:
            why = f"P(ok) {p_ok[chosen]:.2f} within {plan.ok_margin:.2f} of bar"
        if why is not None:
            abstain = True
            code = "abstain"
            target = min(chosen + 1, _FULL)
            notes.append(f"abstain: {why}; {TIERS[chosen]} -> {TIERS[target]}")
            chosen = target

    chosen, code = _apply_tier_cap(state, feature, chosen, min_rank, code, notes)
    return _finish(
        prediction,
        feature,
        plan,
        TIERS[chosen],
        head,
        notes,
        code,
        policy,
        detectors,
        RISKS[risk_rank],
        abstain,
        costs[chosen],
    )


def _apply_tier_cap(
    state: SwitchState, feature: str | None, chosen: int, min_rank: int, code: str, notes: list[str]
) -> tuple[int, str]:
    """A per-feature cap wins over everything, even the risk floor (the note says so)."""
    cap = state.cap_for(feature)
    if cap is None or TIER_RANK[cap] >= chosen:
        return chosen, code
    below = " (below risk floor)" if TIER_RANK[cap] < min_rank else ""
    notes.append(f"tier_cap: {TIERS[chosen]} -> {cap} (switch){below}")
    return TIER_RANK[cap], "tier_cap"


def _kill_switch(
    prediction: Prediction | None,
    feature: str | None,
    plan: _Plan,
    state: SwitchState,
    table: RoutingTable,
    guard_rank: int,
    detectors: tuple[str, ...],
    notes: list[str],
    text: str | None,
    rules: RuleRouter | None,
) -> RouteDecision:
    """The model is switched off for this feature: rules decide, contract and guard floors hold."""
    router = rules if rules is not None else _default_rules(table)
    tier, rule_reason = (
        router.choose(text, feature) if text is not None else router.feature_default(feature)
    )
    chosen = TIER_RANK[tier]
    risk_rank = max(plan.contract_risk_rank, guard_rank)
    min_rank = plan.min_rank_by_risk[risk_rank]
    if chosen < min_rank:
        notes.append(
            f"risk_floor:{RISKS[risk_rank]} -> {TIERS[chosen]} raised to {TIERS[min_rank]}"
        )
        chosen = min_rank
    chosen, code = _apply_tier_cap(state, feature, chosen, min_rank, "kill_switch", notes)
    head = f"kill_switch:{feature} -> rules {rule_reason}"
    return _finish(
        prediction,
        feature,
        plan,
        TIERS[chosen],
        head,
        notes,
        code,
        router.policy_name,
        detectors,
        RISKS[risk_rank],
        False,
        None,
    )


def _finish(
    prediction: Prediction | None,
    feature: str | None,
    plan: _Plan,
    tier: str,
    head: str,
    notes: list[str],
    code: str,
    policy: str,
    detectors: tuple[str, ...],
    risk: str | None,
    abstain: bool,
    cost: float | None,
) -> RouteDecision:
    reason = head if not notes else head + "; " + "; ".join(notes)
    return RouteDecision(
        tier=tier,  # type: ignore[arg-type]
        model=plan.models[TIER_RANK[tier]],
        reason=reason,
        policy=policy,
        feature=feature,
        guards=detectors,
        reason_code=code,
        abstain=abstain,
        risk_floor=risk,  # type: ignore[arg-type]
        contract=plan.contract_name,
        expected_cost_usd=cost,
        model_version=prediction.model_version if prediction is not None else None,
        propensity=1.0,
        prediction=prediction,
    )
