"""How one route is decided: a policy's own choice, abstention, then the operator's switches.

Every route decision in tierwise goes through `decide_with` (classifier.policies binds it for
each policy), in this order; docs/decisions.md has a worked example:

1. `force_mini` (switch): mini (the taxonomy's `force_tier`), whatever the policy says; the
   model is not consulted.
2. The feature's kill switch: a policy that reads the model falls back to the rule router; the
   contract's and the guards' risk floors still apply (guards hold for every policy).
3. The policy's own choice:
   - learned (`Learned`): risk floor = max(contract risk profile, predicted risk, guard floor),
     mapped by `decision.risk_min_tier` to the lowest tier allowed; among allowed tiers with
     P(ok) >= quality bar, the lowest expected cost (with `decision.thresholds: tuned` and a
     bundle that carries tuning, the failure price is the bundle's, tuned on held-out replay for
     the contract's economics, with bar 0 and no contract abstention: classifier.tuning)
         price(in, out) + delay over budget + P(fail) x (failure_usd [+ review_usd if fail_closed]
                                                          + price and delay of the recovery attempt)
     where the recovery is the next tier (escalate), the same tier (retry) or none
     (fail_closed); no tier meets the bar: full, and the reason says so. Then abstention
     (classifier.abstain): when the model is unsure, one tier up, with the reason as a field.
   - rules (`Rules`): the rule router's tier, raised to the contract's and the guards' floors.
   - fixed (`Fixed`): one tier, the always-nano/mini/full baselines.
   Then the conversation's floor: a conversation that escalated earlier starts its next turns
   at that tier (serving passes it; reason code `conversation_floor`).
4. The feature's tier cap (switch) lowers the tier last, below the risk floor too (the reason
   says so): an operator's switch always has the last word.

Hot path: everything that depends only on (contracts, routing table, feature) is precomputed
once into a `_Plan` and cached on the Contracts object; a call does float arithmetic, three dict
reads and one string join. No pydantic, no I/O. Labels and tiers are the contracts' taxonomy
(classifier.taxonomy: any number of tiers, cheapest first); the table must price the same ones.

Example:
    decision = decide(prediction, "doc_summary", contracts, table, scan(text), switches, text=text)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from classifier.abstain import NO_MARGINS, Margins, abstention
from classifier.contracts import Contracts, FeatureContract, RoutingTable
from classifier.errors import ConfigError, InputError
from classifier.guards import CLEAN, GuardResult
from classifier.prediction import Prediction
from classifier.routing import RouteDecision
from classifier.rules import RuleRouter, reason_code_of
from classifier.switches import Switches, SwitchState
from classifier.taxonomy import Tier
from classifier.tuning import TierTuning, at_failure_price, contract_failure_price

LEARNED = "learned"
_IDLE = SwitchState()


@dataclass(frozen=True, slots=True)
class _Plan:
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
    taxonomy = contracts.taxonomy
    if table.taxonomy != taxonomy:
        raise ConfigError(
            f"routing table {table.source} prices the tiers of taxonomy {table.taxonomy.version!r}"
            f", the contracts {contracts.source} speak {taxonomy.version!r}: "
            f"{'; '.join(table.taxonomy.differences(taxonomy))}; load the table with "
            "load_routing_table(path, contracts.taxonomy)"
        )
    tiers = taxonomy.tiers
    top = len(tiers) - 1
    econ = contract.economics
    out_tokens = contract.typical_output_tokens
    specs = [table.tiers[tier] for tier in tiers]

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
        recovery = min(rank + 1, top) if contract.fallback == "escalate" else rank
        # The recovery runs after the failed attempt: the user waits for both.
        recovery_delay = specs[recovery].p50_latency_ms / 1000.0 * econ.delay_usd_per_s
        fail_in_rate.append(specs[recovery].input_per_mtok / 1e6)
        fail_fixed.append(base + out_usd(recovery) + recovery_delay)
    config = contracts.decision
    force = taxonomy.force_tier
    return _Plan(
        contract_name=name,
        tiers=tiers,
        risks=taxonomy.risks,
        tier_rank=dict(taxonomy.tier_rank),
        risk_rank=dict(taxonomy.risk_rank),
        guard_rank={
            floor: taxonomy.risk_rank[taxonomy.guard_risk(floor)]
            for floor in ("low", "medium", "high", *taxonomy.risks)
        },
        top=top,
        force_rank=taxonomy.tier_rank[force],
        force_reason=f"switch:force_mini (emergency override, everything goes to {force})",
        bar=contract.quality_bar,
        contract_risk_rank=taxonomy.risk_rank[contract.risk_profile],
        min_rank_by_risk=tuple(
            taxonomy.tier_rank[config.risk_min_tier[risk]] for risk in taxonomy.risks
        ),
        models=tuple(spec.model for spec in specs),
        in_rate=tuple(in_rate),
        fixed=tuple(fixed),
        fail_in_rate=tuple(fail_in_rate),
        fail_fixed=tuple(fail_fixed),
        typical_input_tokens=contract.typical_input_tokens,
        # a tuned price already carries the model's uncertainty: no contract abstention on top
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
    if len(p_ok) == 3:  # unrolled for the default three tiers: this runs on every request
        return (
            n * rate[0] + fixed[0] + (1.0 - p_ok[0]) * (f_fixed[0] + n * f_rate[0]),
            n * rate[1] + fixed[1] + (1.0 - p_ok[1]) * (f_fixed[1] + n * f_rate[1]),
            n * rate[2] + fixed[2] + (1.0 - p_ok[2]) * (f_fixed[2] + n * f_rate[2]),
        )
    return tuple(
        [n * rate[t] + fixed[t] + (1.0 - p) * (f_fixed[t] + n * f_rate[t])
         for t, p in enumerate(p_ok)]
    )  # fmt: skip


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


class Choice(NamedTuple):
    """A policy's own choice, before the tier cap; `abstain` is (kind, reason) when it fired."""

    rank: int
    head: str
    code: str
    policy: str
    risk_rank: int | None = None
    min_rank: int = 0
    costs: tuple[float, ...] | None = None
    abstain: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Learned:
    """The model's route: risk floor, quality bar, cheapest expected cost, then abstention."""

    margins: Margins = NO_MARGINS
    name: str = LEARNED
    reads_model: ClassVar[bool] = True

    def __call__(
        self,
        prediction: Prediction | None,
        plan: _Plan,
        guard_rank: int,
        notes: list[str],
        text: str | None,
        feature: str | None,
        input_tokens: int | None,
    ) -> Choice:
        if prediction is None:
            raise InputError(
                "decide() needs a Prediction unless force_mini or the feature's kill switch is "
                "on; classify the text first"
            )
        tiers = plan.tiers
        risk_rank = max(plan.contract_risk_rank, plan.risk_rank[prediction.risk], guard_rank)
        min_rank = plan.min_rank_by_risk[risk_rank]
        if min_rank > 0:
            source = (
                "guards"
                if guard_rank == risk_rank
                else ("contract" if plan.contract_risk_rank == risk_rank else "prediction")
            )
            notes.append(f"risk_floor:{plan.risks[risk_rank]} ({source}) -> min {tiers[min_rank]}")
        probs = prediction.tier_ok_probs
        if len(tiers) == 3:  # unrolled for the default three tiers: a third of the generic time
            t0, t1, t2 = tiers
            p_ok: tuple[float, ...] = (probs.get(t0, 0.0), probs.get(t1, 0.0), probs.get(t2, 0.0))
        else:
            p_ok = tuple([probs.get(t, 0.0) for t in tiers])
        tokens = (
            input_tokens if input_tokens is not None else _estimate_tokens(prediction, plan, text)
        )
        costs = expected_costs(plan, p_ok, tokens)
        bar = plan.bar
        chosen = -1
        for rank in range(min_rank, len(tiers)):
            if p_ok[rank] >= bar and (chosen < 0 or costs[rank] < costs[chosen]):
                chosen = rank
        if chosen < 0:
            chosen, code = plan.top, "no_tier_meets_bar"
            best = max(p_ok[min_rank:])
            head = f"no_tier_meets_bar: best P(ok) {best:.2f} < bar {bar:.2f} -> {tiers[-1]}"
        else:
            code = "cheapest_ok"
            head = (
                f"cheapest_ok:{tiers[chosen]} P(ok) {p_ok[chosen]:.2f} >= bar {bar:.2f}, "
                f"E[cost] ${costs[chosen]:.6f}"
            )
        if plan.tuned is not None:
            notes.append(
                f"tuned: failure priced ${plan.tuned[0]:g} (held-out replay, contract "
                f"${plan.tuned[1]:g})"
            )
        unsure = abstention(
            prediction,
            self.margins,
            code == "cheapest_ok",  # the contracts' margins apply only when a tier met the bar
            p_ok[chosen],
            bar,
            plan.min_intent_prob,
            plan.ok_margin,
        )
        if unsure is not None:
            target = min(chosen + 1, plan.top)
            notes.append(f"abstain: {unsure[1]}; {tiers[chosen]} -> {tiers[target]}")
            chosen, code = target, "abstain"
        return Choice(chosen, head, code, self.name, risk_rank, min_rank, costs, unsure)


@dataclass(frozen=True, slots=True)
class Rules:
    """The rule router's tier, raised to the contract's and the guards' risk floors.

    `kill_switch`: this is the fallback of a feature whose model was switched off.
    """

    router: RuleRouter
    kill_switch: bool = False
    reads_model: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return self.router.policy_name

    def __call__(
        self,
        prediction: Prediction | None,
        plan: _Plan,
        guard_rank: int,
        notes: list[str],
        text: str | None,
        feature: str | None,
        input_tokens: int | None,
    ) -> Choice:
        router = self.router
        tier, rule_reason = (
            router.choose(text, feature) if text is not None else router.feature_default(feature)
        )
        chosen = plan.tier_rank[tier]
        risk_rank = max(plan.contract_risk_rank, guard_rank)
        min_rank = plan.min_rank_by_risk[risk_rank]
        if chosen < min_rank:
            tiers = plan.tiers
            notes.append(
                f"risk_floor:{plan.risks[risk_rank]} -> {tiers[chosen]} raised to {tiers[min_rank]}"
            )
            chosen = min_rank
        if self.kill_switch:
            head, code = f"kill_switch:{feature} -> rules {rule_reason}", "kill_switch"
        else:
            head, code = f"rules {rule_reason}", reason_code_of(rule_reason)
        return Choice(chosen, head, code, self.name, risk_rank, min_rank)


@dataclass(frozen=True, slots=True)
class Fixed:
    """Always the same tier: the always-nano/mini/full baselines."""

    tier: Tier
    reads_model: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return f"always_{self.tier}"

    def __call__(
        self,
        prediction: Prediction | None,
        plan: _Plan,
        guard_rank: int,
        notes: list[str],
        text: str | None,
        feature: str | None,
        input_tokens: int | None,
    ) -> Choice:
        return Choice(plan.tier_rank[self.tier], f"fixed:{self.tier}", "fixed", self.name)


Chooser = Learned | Rules | Fixed  # what makes one policy differ from another
_LEARNED = Learned()


def decide_with(
    choose: Chooser,
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
    floor: Tier | None = None,
) -> RouteDecision:
    """The one path of every route decision: `choose`, then switches and cap (module docstring).

    `rules` is the kill switch's fallback (default: the packaged rules for this table).
    `floor` is the conversation's floor (serving/conversations.py): an earlier turn escalated
    to it, so this one starts there too; below the tier cap, so a cap still has the last word.
    `prediction` may be None only when `choose` does not read the model, or force_mini or the
    feature's kill switch is on (the model is not consulted then); otherwise an InputError.
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
        force = plan.force_rank
        choice = Choice(force, plan.force_reason, "force_mini", "force_mini")
        return _finish(prediction, feature, plan, choice, force, "force_mini", notes, detectors)
    guard_rank = plan.guard_rank[guard_result.risk_floor]
    if choose.reads_model and state.is_killed(feature):
        choose = Rules(rules if rules is not None else _default_rules(table), kill_switch=True)
    choice = choose(prediction, plan, guard_rank, notes, text, feature, input_tokens)
    rank, code = choice.rank, choice.code
    if floor is not None and plan.tier_rank.get(floor, -1) > rank:
        notes.append(f"conversation_floor: {plan.tiers[rank]} -> {floor} (escalated earlier)")
        rank, code = plan.tier_rank[floor], "conversation_floor"
    cap = state.cap_for(feature)
    if cap is not None and plan.tier_rank[cap] < rank:
        cap_rank = plan.tier_rank[cap]
        below = " (below risk floor)" if cap_rank < choice.min_rank else ""
        notes.append(f"tier_cap: {plan.tiers[rank]} -> {cap} (switch){below}")
        rank, code = cap_rank, "tier_cap"
    return _finish(prediction, feature, plan, choice, rank, code, notes, detectors)


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
    margins: Margins = NO_MARGINS,
) -> RouteDecision:
    """The learned policy's route for one classified request (`LearnedPolicy.decide` in one call).

    `text` lets the kill-switch fallback run the rule router's keyword rules (without it, the
    feature's default tier applies) and improves the token estimate of truncated inputs.
    `input_tokens`, when known (e.g. from the router's own tokenizer), replaces the estimate.
    `margins` are the operator's abstention margins (classifier.abstain), checked before the
    contracts' own.
    """
    choose = _LEARNED if policy == LEARNED and margins is NO_MARGINS else Learned(margins, policy)
    return decide_with(
        choose,
        prediction,
        feature,
        contracts,
        table,
        guard_result,
        switches,
        text=text,
        rules=rules,
        input_tokens=input_tokens,
    )


def _finish(
    prediction: Prediction | None,
    feature: str | None,
    plan: _Plan,
    choice: Choice,
    rank: int,
    code: str,
    notes: list[str],
    detectors: tuple[str, ...],
) -> RouteDecision:
    reason = choice.head if not notes else choice.head + "; " + "; ".join(notes)
    unsure = choice.abstain
    costs, risk_rank = choice.costs, choice.risk_rank
    # Positional, in RouteDecision's field order: a third cheaper than keywords, per request.
    return RouteDecision(
        plan.tiers[rank],  # tier  # type: ignore[arg-type]
        plan.models[rank],  # model
        reason,
        choice.policy,
        None,  # arm: set by serving
        feature,
        detectors,  # guards
        code,  # reason_code
        unsure is not None,  # abstain
        unsure[1] if unsure is not None else None,  # abstain_reason
        unsure[0] if unsure is not None else None,  # abstain_kind
        plan.risks[risk_rank] if risk_rank is not None else None,  # type: ignore[arg-type]
        plan.contract_name,  # contract
        costs[rank] if costs is not None else None,  # expected_cost_usd
        prediction.model_version if prediction is not None else None,
        1.0,  # propensity
        prediction,
    )
