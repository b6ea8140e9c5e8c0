"""Routing policies behind one protocol, so that serving and evaluation can swap them.

- `LearnedPolicy`: a classifier + guards + `decide()` under contracts, table and switches.
- `RuleRouter` (classifier.rules): the team's rules; already satisfies `Policy`.
- `FixedTierPolicy`: always-nano / always-mini / always-full baselines.

Nothing here imports training or serving; a classifier is anything with `classify` (and
optionally `classify_batch`), so tests and evaluation can pass their own.

Example:
    policy = LearnedPolicy(Classifier.load(bundle), load_contracts(), load_routing_table())
    policy.route("Summarise this thread ...", "doc_summary").tier
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from classifier.contracts import Contracts, RoutingTable, load_contracts, load_routing_table
from classifier.decision import LEARNED, decide
from classifier.guards import GuardResult, scan
from classifier.prediction import Prediction
from classifier.routing import RouteDecision
from classifier.rules import RuleRouter
from classifier.switches import Switches
from classifier.taxonomy import TIERS, Tier


@runtime_checkable
class Policy(Protocol):
    """Anything that routes one request."""

    @property
    def name(self) -> str: ...

    def route(self, text: str, feature: str | None = None) -> RouteDecision: ...


class ClassifierLike(Protocol):
    def classify(self, text: str, feature: str | None = None) -> Prediction: ...


class FixedTierPolicy:
    """Always the same tier: the always-nano/mini/full baselines of an evaluation."""

    def __init__(self, tier: Tier, tier_models: dict[str, str] | None = None) -> None:
        if tier not in TIERS:
            raise ValueError(f"tier {tier!r} is not one of {list(TIERS)}")
        self.tier: Tier = tier
        self.model = (tier_models or load_routing_table().tier_models).get(tier, tier)

    @property
    def name(self) -> str:
        return f"always_{self.tier}"

    def route(self, text: str, feature: str | None = None) -> RouteDecision:
        return RouteDecision(
            tier=self.tier,
            model=self.model,
            reason=f"fixed:{self.tier}",
            policy=self.name,
            feature=feature,
            reason_code="fixed",
            propensity=1.0,
        )


class LearnedPolicy:
    """Classifier + guards + decide(); the kill switch skips the model call entirely.

    `switches` is shared by reference, so an admin update applies to the next request. Under
    force_mini or a feature's kill switch the classifier is not called (the decision's
    `prediction` is None): those switches exist for when the model cannot be trusted.
    """

    def __init__(
        self,
        classifier: ClassifierLike,
        contracts: Contracts | None = None,
        table: RoutingTable | None = None,
        switches: Switches | None = None,
        rules: RuleRouter | None = None,
        guard: Callable[[str], GuardResult] = scan,
        name: str = LEARNED,
    ) -> None:
        self.classifier = classifier
        self.contracts = contracts if contracts is not None else load_contracts()
        self.table = table if table is not None else load_routing_table()
        self.switches = switches if switches is not None else Switches()
        self.rules = rules if rules is not None else RuleRouter.default(self.table.tier_models)
        self.guard = guard
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def route(self, text: str, feature: str | None = None) -> RouteDecision:
        """Classify and decide; under force_mini or a kill switch the model is not called."""
        state = self.switches.state
        if state.force_mini or state.is_killed(feature):
            return self.decide(text, feature, None)
        prediction = self.classifier.classify(text, feature=feature)
        return self.decide(text, feature, prediction)

    def decide(
        self, text: str, feature: str | None, prediction: Prediction | None
    ) -> RouteDecision:
        """Route with a prediction made elsewhere (a batch, a replay, a shadow run)."""
        return decide(
            prediction,
            feature,
            self.contracts,
            self.table,
            self.guard(text),
            self.switches,
            text=text,
            rules=self.rules,
            policy=self._name,
        )

    def route_batch(
        self, texts: Sequence[str], features: Sequence[str | None] | None = None
    ) -> list[RouteDecision]:
        """One batched model call when the classifier offers `classify_batch`."""
        features = list(features) if features is not None else [None] * len(texts)
        if len(features) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(features)} features; pass one per text")
        batch = getattr(self.classifier, "classify_batch", None)
        if batch is None:
            return [self.route(t, f) for t, f in zip(texts, features, strict=True)]
        predictions = batch(list(texts), features)
        return [self.decide(t, f, p) for t, f, p in zip(texts, features, predictions, strict=True)]
