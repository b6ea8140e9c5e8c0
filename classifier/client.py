"""One client interface for routers: in process (`LocalClient`) or over HTTP (`HttpClient`).

A router asks for a route and always gets a tier back, or an explicit refusal: when the
classifier is slow or down, the `FailurePolicy` either fails open to a configured tier (the
answer says so, with the reason) or fails closed (`ClassifierUnavailable`, with the reason).
Input the classifier cannot use (empty text, a batch over the service's limit) is the caller's
error, not an outage: it raises `InputError` whatever the policy.

Switching between in-process and HTTP is one line:

    client = LocalClient.load("models/default", failure=FailurePolicy.fail_open("mini"))
    client = HttpClient("http://127.0.0.1:8000", failure=FailurePolicy.fail_open("mini"))
    routed = client.classify("Summarize this thread", feature="doc_summary")
    routed.tier, routed.reason, routed.failure   # failure is None when the classifier answered
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from classifier.errors import ClassifierUnavailable, ConfigError
from classifier.taxonomy import TIERS, Intent, Risk, Tier

FAIL_OPEN = "fail_open"

__all__ = [
    "FAIL_OPEN",
    "ClassifierUnavailable",
    "FailurePolicy",
    "RouteRequest",
    "Routed",
    "RoutingClient",
]


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """One item to route: `text`, or OpenAI-style chat `messages` (the last user turn counts)."""

    text: str | None = None
    messages: Sequence[Mapping[str, Any]] | None = None
    feature: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Routed:
    """What a router acts on: a tier, and why. `failure` is set when the policy chose the tier.

    Built from the classifier's decision (`classifier.decision.decide`, or the service's `route`)
    or, when the classifier did not answer and the policy fails open, from the policy; then
    `policy` is `fail_open`, `failure` says what went wrong and the prediction fields are empty.
    """

    tier: Tier
    reason: str
    reason_code: str
    policy: str
    model: str | None = None
    request_id: str | None = None
    feature: str | None = None
    intent: Intent | None = None
    risk: Risk | None = None
    tier_ok_probs: Mapping[str, float] = field(default_factory=dict)
    abstain: bool = False
    guards: tuple[str, ...] = ()
    contract: str | None = None
    model_version: str | None = None
    propensity: float | None = 1.0
    failure: str | None = None

    @property
    def failed_open(self) -> bool:
        return self.failure is not None

    @property
    def p_ok(self) -> float | None:
        """P(ok) of the chosen tier, when the classifier answered."""
        return self.tier_ok_probs.get(self.tier)

    @property
    def safety_flags(self) -> tuple[str, ...]:
        """Guard categories (`pii`, ...) as log schema v1 names them."""
        seen: list[str] = []
        for name in self.guards:
            category = name.split(".", 1)[0]
            if category not in seen:
                seen.append(category)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields, e.g. for a gateway's request metadata or a log's `meta`."""
        return {
            "tier": self.tier,
            "model": self.model,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "policy": self.policy,
            "request_id": self.request_id,
            "feature": self.feature,
            "intent": self.intent,
            "risk": self.risk,
            "tier_ok_probs": dict(self.tier_ok_probs),
            "p_ok": self.p_ok,
            "abstain": self.abstain,
            "guards": list(self.guards),
            "contract": self.contract,
            "model_version": self.model_version,
            "propensity": self.propensity,
            "failure": self.failure,
        }


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """What to do when the classifier does not answer: route to `tier` (open) or refuse (closed).

    Fail open when a wrong tier costs less than a refused request (most product features); fail
    closed when routing without a risk check is not allowed (a regulated feature).
    """

    mode: Literal["open", "closed"]
    tier: Tier | None = None
    tiers: tuple[str, ...] = field(default=TIERS, repr=False, compare=False)  # the taxonomy's

    def __post_init__(self) -> None:
        if self.mode == "open" and self.tier not in self.tiers:
            raise ConfigError(
                f"FailurePolicy.fail_open needs a tier, one of {list(self.tiers)}; "
                f"got {self.tier!r}"
            )
        if self.mode == "closed" and self.tier is not None:
            raise ConfigError("FailurePolicy.fail_closed takes no tier; use fail_open(tier)")
        if self.mode not in ("open", "closed"):
            raise ConfigError(f"FailurePolicy mode must be 'open' or 'closed', got {self.mode!r}")

    @classmethod
    def fail_open(cls, tier: Tier, tiers: tuple[str, ...] = TIERS) -> FailurePolicy:
        """Route to `tier` on failure; `tiers`: your taxonomy's (docs/taxonomy.md)."""
        return cls("open", tier, tiers)

    @classmethod
    def fail_closed(cls) -> FailurePolicy:
        return cls("closed")

    def apply(
        self,
        failure: str,
        *,
        request_id: str | None = None,
        feature: str | None = None,
        model: str | None = None,
        tier: str | None = None,
        note: str | None = None,
    ) -> Routed:
        """The route when the classifier failed with `failure`; raises when the policy is closed.

        `tier` replaces the policy's own when a constraint that needs no model (data residency)
        moved it; `note` says why, in the reason.
        """
        if self.mode == "closed" or self.tier is None:
            raise ClassifierUnavailable(failure)
        tier = tier if tier is not None else self.tier
        said = f"; {note}" if note else ""
        return Routed(
            tier=tier,
            reason=f"{FAIL_OPEN}:{tier} (classifier unavailable: {failure}){said}",
            reason_code=FAIL_OPEN,
            policy=FAIL_OPEN,
            model=model,
            request_id=request_id,
            feature=feature,
            propensity=1.0,
            failure=failure,
        )


@runtime_checkable
class RoutingClient(Protocol):
    """The interface both clients implement; a router depends on this, not on a transport.

    `deadline_ms` bounds one call (HTTP: the whole call; in process: accepted and not needed,
    the call runs inline in well under a millisecond). Batches keep their order.
    """

    failure: FailurePolicy

    def classify(
        self,
        text: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        feature: str | None = None,
        request_id: str | None = None,
        deadline_ms: float | None = None,
    ) -> Routed: ...

    async def aclassify(
        self,
        text: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        feature: str | None = None,
        request_id: str | None = None,
        deadline_ms: float | None = None,
    ) -> Routed: ...

    def classify_batch(
        self,
        items: Sequence[RouteRequest],
        *,
        feature: str | None = None,
        deadline_ms: float | None = None,
    ) -> list[Routed]: ...

    async def aclassify_batch(
        self,
        items: Sequence[RouteRequest],
        *,
        feature: str | None = None,
        deadline_ms: float | None = None,
    ) -> list[Routed]: ...

    def close(self) -> None: ...
