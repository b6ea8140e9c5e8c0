"""How one route is decided: a policy's own choice, abstention, then the operator's switches.

Every route decision in tierwise goes through `decide_with` (classifier.policies binds it for
each policy), in this order; docs/decisions.md has a worked example:

1. `force_mini` (switch): mini (the taxonomy's `force_tier`), whatever the policy says; the
   model is not consulted.
2. The feature's kill switch: a policy that reads the model falls back to the rule router; the
   contract's and the guards' risk floors still apply (guards hold for every policy).
3. The policy's own choice:
   - learned (`Learned`): risk floor = max(contract risk profile, predicted risk, guard floor),
     mapped by `decision.risk_min_tier` to the lowest tier allowed; among allowed tiers within
     the feature's p95 latency budget (its surface) with P(ok) >= quality bar, the lowest
     expected cost (with `decision.thresholds: tuned` and a
     bundle that carries tuning, the failure price is the bundle's, tuned on held-out replay for
     the contract's economics, with bar 0 and no contract abstention: classifier.tuning)
         price(in, out) + delay over budget + P(fail) x (failure_usd + incident_usd [+ review_usd]
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

Data residency (classifier.residency) bounds every step, for every policy: the plan marks the
tiers with no endpoint in the allowed regions, the learned policy chooses, escalates and abstains
among allowed tiers only, a tier chosen outside them (rules, fixed, force_mini) moves up to the
next allowed tier, a cap down to the highest allowed tier under it, and with nothing allowed
left the decision fails closed (`residency_fail_closed`, empty model). The decision's
`residency` field says which constraint applied.

Hot path: everything that depends only on (contracts, routing table, feature) is precomputed
once into a `classifier.plan.Plan` and cached on the Contracts object; a call does float
arithmetic, three dict reads and one string join. No pydantic, no I/O. Labels and tiers are the
contracts' taxonomy (classifier.taxonomy: any number of tiers, cheapest first); the table must
price the same ones.

Example:
    decision = decide(prediction, "doc_summary", contracts, table, scan(text), switches, text=text)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from classifier.abstain import NO_MARGINS, Margins, abstention
from classifier.contracts import Contracts, RoutingTable
from classifier.errors import InputError
from classifier.guards import CLEAN, GuardResult
from classifier.plan import Plan, estimate_tokens, expected_costs, plan_for
from classifier.prediction import Prediction
from classifier.residency import FAIL_CLOSED
from classifier.routing import RouteDecision
from classifier.rules import RuleRouter, reason_code_of
from classifier.switches import Switches, SwitchState
from classifier.taxonomy import Tier

LEARNED = "learned"
_IDLE = SwitchState()


_DEFAULT_RULES: dict[RoutingTable, RuleRouter] = {}


def _default_rules(table: RoutingTable) -> RuleRouter:
    router = _DEFAULT_RULES.get(table)
    if router is None:
        router = _DEFAULT_RULES.setdefault(table, RuleRouter.default(table.tier_models))
    return router


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
        plan: Plan,
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
            input_tokens if input_tokens is not None else estimate_tokens(prediction, plan, text)
        )
        costs = expected_costs(plan, p_ok, tokens)
        bar = plan.bar
        chosen = -1
        eligible = plan.eligible  # allowed (residency) and within the p95 budget
        n = len(tiers)
        for rank in range(min_rank, n):
            if eligible[rank] and p_ok[rank] >= bar and (chosen < 0 or costs[rank] < costs[chosen]):
                chosen = rank
        if plan.p95_note is not None:
            notes.append(plan.p95_note)
        if chosen < 0:
            # The best allowed tier (the top one without residency), past the p95 budget too:
            # when no tier within it is good enough, quality outranks the tail. None from the
            # floor up: the seam fails closed on the disallowed top tier.
            best_allowed = plan.down[plan.top]
            chosen = best_allowed if best_allowed >= min_rank else plan.top
            code = "no_tier_meets_bar"
            allowed = plan.allowed
            best = max((p_ok[r] for r in range(min_rank, n) if allowed[r]), default=0.0)
            head = f"no_tier_meets_bar: best P(ok) {best:.2f} < bar {bar:.2f} -> {tiers[chosen]}"
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
            # one allowed tier up, past the p95 budget too: doubt outranks the tail
            target = plan.up[chosen + 1] if chosen < plan.top else chosen
            target = target if target >= 0 else chosen  # nothing allowed above: stay
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
        plan: Plan,
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
        plan: Plan,
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
    Under residency a floor without an allowed endpoint moves up like any other tier.
    `prediction` may be None only when `choose` does not read the model, or force_mini or the
    feature's kill switch is on (the model is not consulted then); otherwise an InputError.
    """
    state = switches.state if isinstance(switches, Switches) else (switches or _IDLE)
    tuning = prediction.tier_tuning if prediction is not None else None
    if guard_result is None:
        guard_result = CLEAN
    detectors = guard_result.detectors
    plan = plan_for(contracts, table, feature, tuning, detectors)
    notes: list[str] = []
    if plan.contract_name == "default":
        notes.append(f"contract:default (no contract for feature {feature!r})")
    if detectors:
        notes.append("guards:" + ",".join(detectors))
    if plan.residency is not None:
        notes.append(f"residency: {plan.residency}")
    if state.force_mini:
        force = plan.force_rank
        choice = Choice(force, plan.force_reason, "force_mini", "force_mini")
        rank = _within(plan, force, notes)
        code = "force_mini" if rank >= 0 else FAIL_CLOSED
        return _finish(prediction, feature, plan, choice, rank, code, notes, detectors)
    guard_rank = plan.guard_rank[guard_result.risk_floor]
    if choose.reads_model and state.is_killed(feature):
        choose = Rules(rules if rules is not None else _default_rules(table), kill_switch=True)
    choice = choose(prediction, plan, guard_rank, notes, text, feature, input_tokens)
    rank, code = choice.rank, choice.code
    if floor is not None and plan.tier_rank.get(floor, -1) > rank:
        notes.append(f"conversation_floor: {plan.tiers[rank]} -> {floor} (escalated earlier)")
        rank, code = plan.tier_rank[floor], "conversation_floor"
    if not plan.allowed[rank]:  # residency: the next allowed tier up, or none
        wanted, rank = rank, _within(plan, rank, notes)
        if rank < 0:  # the reason names the tier that had no endpoint (the floor's, if any)
            choice = choice._replace(rank=wanted)
            return _finish(prediction, feature, plan, choice, rank, FAIL_CLOSED, notes, detectors)
    cap = state.cap_for(feature)
    cap_rank = plan.tier_rank[cap] if cap is not None else rank
    if cap_rank < rank:
        below = " (below risk floor)" if cap_rank < choice.min_rank else ""
        capped = plan.down[cap_rank]
        if capped != cap_rank:
            below += f" (no endpoint for {cap} in the allowed regions"
            below += f": {plan.tiers[capped]})" if capped >= 0 else ": none left)"
        notes.append(f"tier_cap: {plan.tiers[rank]} -> {cap} (switch){below}")
        rank, code = capped, ("tier_cap" if capped >= 0 else FAIL_CLOSED)
    return _finish(prediction, feature, plan, choice, rank, code, notes, detectors)


def _within(plan: Plan, rank: int, notes: list[str]) -> int:
    """`rank`, or the next allowed tier up under residency; -1 when none is left."""
    if plan.allowed[rank]:
        return rank
    to = plan.up[rank]
    tiers = plan.tiers
    if to >= 0:
        notes.append(f"residency: no endpoint for {tiers[rank]} -> {tiers[to]}")
    else:
        notes.append(f"residency: no endpoint for {tiers[rank]} or above: fail closed")
    return to


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
    plan: Plan,
    choice: Choice,
    rank: int,
    code: str,
    notes: list[str],
    detectors: tuple[str, ...],
) -> RouteDecision:
    head = choice.head
    if rank < 0:  # residency left no endpoint: the router must not send this request
        head = (
            f"{FAIL_CLOSED}: no allowed endpoint for {plan.tiers[choice.rank]} ({plan.residency})"
        )
        rank, model, region, vendor = choice.rank, "", None, None
    else:
        model, region, vendor = plan.models[rank], plan.regions[rank], plan.vendors[rank]
    reason = head if not notes else head + "; " + "; ".join(notes)
    unsure = choice.abstain
    costs, risk_rank = choice.costs, choice.risk_rank
    # Positional, in RouteDecision's field order: a third cheaper than keywords, per request.
    return RouteDecision(
        plan.tiers[rank],  # tier
        model,
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
        region,
        vendor,
        plan.residency,  # residency: the constraint that applied
    )
