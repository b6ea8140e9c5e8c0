"""The one seam for route decisions: every policy is a `Policy`, and everyone calls `decide`.

- `LearnedPolicy`: the model's route under contracts, guards and abstention margins; a feature
  whose kill switch is on falls back to the rule router.
- `RulesPolicy`: the team's rule router under the same guards, contract floors and switches
  (the rules arm of shadow and A/B serving).
- `FixedTierPolicy`: the always-nano / always-mini / always-full baselines.

`Policy.decide(text, feature, prediction)` runs `classifier.decision.decide_with`: the policy's
own choice (abstention included), then force_mini, the kill switch and the tier cap, so that an
operator's switch always has the last word. `needs_model(feature, state)` says whether a
prediction is needed at all: never under force_mini or the feature's kill switch (those switches
exist for when the model cannot be trusted), never for rules or fixed tiers. The service, the
offline replay and `tierwise classify` all decide through these objects.

Nothing here imports training or serving; a classifier is anything with `classify` (and
optionally `classify_batch`), so tests and evaluation can pass their own.

Example:
    policy = LearnedPolicy(classifier=Classifier.load(bundle))
    policy.route("Summarise this thread ...", "doc_summary").tier
    policy.decide(text, "doc_summary", prediction_made_elsewhere).reason
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from classifier.abstain import NO_MARGINS, Margins
from classifier.contracts import Contracts, RoutingTable, load_contracts, load_routing_table
from classifier.decision import LEARNED, Chooser, Fixed, Learned, Rules, decide_with
from classifier.errors import InputError
from classifier.guards import CLEAN, GuardResult, scan
from classifier.prediction import Prediction
from classifier.residency import check as check_residency
from classifier.routing import RouteDecision
from classifier.rules import RuleRouter
from classifier.switches import Switches, SwitchState
from classifier.taxonomy import TIERS, Tier


class ClassifierLike(Protocol):
    def classify(self, text: str, feature: str | None = None) -> Prediction: ...


class Policy:
    """Contracts, routing table, guards and switches bound once to one policy's choice.

    `switches` is shared by reference, so an admin update applies to the next decision; a
    caller that reads the switches once per request (the service) passes that state instead.
    """

    def __init__(
        self,
        choose: Chooser,
        contracts: Contracts | None = None,
        table: RoutingTable | None = None,
        *,
        switches: Switches | None = None,
        rules: RuleRouter | None = None,
        guard: Callable[[str], GuardResult] = scan,
    ) -> None:
        self.contracts = contracts if contracts is not None else load_contracts()
        taxonomy = self.contracts.taxonomy
        self.table = table if table is not None else load_routing_table(None, taxonomy)
        # Residency needs both files: an unknown region or a feature left with no endpoint is
        # refused here, before any decision (classifier.residency).
        check_residency(self.contracts, self.table)
        self.switches = switches if switches is not None else Switches(tiers=taxonomy.tiers)
        self.rules = rules  # the kill switch's fallback; None: the packaged rules
        self.guard = guard
        self._choose = choose

    @property
    def name(self) -> str:
        """The policy named in decisions, metrics and logs (`learned`, `rules`, `always_mini`)."""
        return self._choose.name

    def needs_model(self, feature: str | None, switches: SwitchState | None = None) -> bool:
        """Whether `decide` reads a Prediction for this feature under these switches."""
        state = switches if switches is not None else self.switches.state
        return self._choose.reads_model and not (state.force_mini or state.is_killed(feature))

    def decide(
        self,
        text: str | None,
        feature: str | None = None,
        prediction: Prediction | None = None,
        *,
        guards: GuardResult | None = None,
        switches: SwitchState | None = None,
        input_tokens: int | None = None,
        floor: Tier | None = None,
    ) -> RouteDecision:
        """The route for one request; `guards` and `switches` default to scanning `text` and to
        the bound switches (pass them when they were read already); `floor`: the conversation's
        tier floor, if it escalated earlier."""
        if guards is None:
            guards = self.guard(text) if text is not None else CLEAN
        return decide_with(
            self._choose,
            prediction,
            feature,
            self.contracts,
            self.table,
            guards,
            switches if switches is not None else self.switches,
            text=text,
            rules=self.rules,
            input_tokens=input_tokens,
            floor=floor,
        )

    def route(self, text: str, feature: str | None = None) -> RouteDecision:
        """Decide from the text alone (a policy that reads the model overrides this)."""
        return self.decide(text, feature)


class LearnedPolicy(Policy):
    """The model's route; `classifier` is needed only by `route` and `route_batch`.

    Under force_mini or a feature's kill switch the classifier is not called (the decision's
    `prediction` is None). `margins` are the operator's abstention margins (classifier.abstain).
    """

    def __init__(
        self,
        contracts: Contracts | None = None,
        table: RoutingTable | None = None,
        *,
        classifier: ClassifierLike | None = None,
        switches: Switches | None = None,
        rules: RuleRouter | None = None,
        guard: Callable[[str], GuardResult] = scan,
        margins: Margins = NO_MARGINS,
        name: str = LEARNED,
    ) -> None:
        choose = Learned(margins, name)
        super().__init__(choose, contracts, table, switches=switches, rules=rules, guard=guard)
        self.classifier = classifier

    def _model(self) -> ClassifierLike:
        if self.classifier is None:
            raise InputError(
                "this LearnedPolicy has no classifier; pass classifier=... or call "
                "decide(text, feature, prediction) with a prediction made elsewhere"
            )
        return self.classifier

    def route(self, text: str, feature: str | None = None) -> RouteDecision:
        """Classify (unless a switch says not to) and decide, under one read of the switches."""
        state = self.switches.state
        prediction = None
        if self.needs_model(feature, state):
            prediction = self._model().classify(text, feature=feature)
        return self.decide(text, feature, prediction, switches=state)

    def route_batch(
        self, texts: Sequence[str], features: Sequence[str | None] | None = None
    ) -> list[RouteDecision]:
        """One batched model call when the classifier offers `classify_batch`."""
        features = list(features) if features is not None else [None] * len(texts)
        if len(features) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(features)} features; pass one per text")
        model = self._model()
        batch = getattr(model, "classify_batch", None)
        if batch is None:
            return [self.route(t, f) for t, f in zip(texts, features, strict=True)]
        state = self.switches.state
        wanted = [i for i, f in enumerate(features) if self.needs_model(f, state)]
        predictions: list[Prediction | None] = [None] * len(texts)
        if wanted:
            made = batch([texts[i] for i in wanted], [features[i] for i in wanted])
            for index, prediction in zip(wanted, made, strict=True):
                predictions[index] = prediction
        return [
            self.decide(t, f, p, switches=state)
            for t, f, p in zip(texts, features, predictions, strict=True)
        ]


class RulesPolicy(Policy):
    """The rule router's route, with the guards, contract floors and switches of every policy."""

    def __init__(
        self,
        router: RuleRouter | None = None,
        contracts: Contracts | None = None,
        table: RoutingTable | None = None,
        *,
        switches: Switches | None = None,
        guard: Callable[[str], GuardResult] = scan,
    ) -> None:
        if table is None:
            taxonomy = contracts.taxonomy if contracts is not None else None
            table = load_routing_table(None, taxonomy) if taxonomy else load_routing_table()
        router = router if router is not None else RuleRouter.default(table.tier_models)
        super().__init__(Rules(router), contracts, table, switches=switches, guard=guard)


def _no_guards(_: str) -> GuardResult:
    return CLEAN


class FixedTierPolicy(Policy):
    """Always the same tier (switches still apply): the baselines of an evaluation."""

    def __init__(
        self,
        tier: Tier,
        contracts: Contracts | None = None,
        table: RoutingTable | None = None,
        *,
        switches: Switches | None = None,
    ) -> None:
        tiers = contracts.taxonomy.tiers if contracts is not None else TIERS
        if tier not in tiers:
            raise ValueError(f"tier {tier!r} is not one of {list(tiers)}")
        self.tier: Tier = tier
        super().__init__(Fixed(tier), contracts, table, switches=switches, guard=_no_guards)
