"""The one value every router in tierwise returns: which tier, which model, and why."""

from __future__ import annotations

from dataclasses import dataclass, field

from classifier.taxonomy import Tier


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """A routing decision; `reason` is always set so that every decision can be explained."""

    tier: Tier
    model: str
    reason: str
    policy: str
    arm: str | None = None
    feature: str | None = None
    guards: tuple[str, ...] = field(default_factory=tuple)
