"""The one value every router in tierwise returns: which tier, which model, and why."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from classifier.prediction import Prediction
from classifier.taxonomy import Risk, Tier


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """A routing decision; `reason` is always set so that every decision can be explained.

    `reason` is for people (it may carry numbers); `reason_code` is a short, low-cardinality label
    for metrics (`cheapest_ok`, `no_tier_meets_bar`, `abstain`, `force_mini`, `kill_switch`,
    `tier_cap`, `rule`, `feature_default`, `unknown_feature`, `fixed`,
    `conversation_floor`). `guards` names the guard
    detectors that fired (`pii.email`, ...). `propensity` is the probability this policy gave the
    chosen tier (1.0 for the deterministic policies here), for off-policy evaluation.
    `abstain` is set when the learned policy did not trust the model and went one tier up;
    `abstain_reason` says why (for people) and `abstain_kind` which margins fired (for metrics:
    `intent`, `tier`, `intent+tier` for the operator's, `decision` for the contracts'). A switch
    or a cap applied afterwards keeps them: they say what the model's confidence asked for.
    `region` and `vendor` say where the chosen endpoint runs (routing table); `residency` the
    data-residency constraint that applied (None: none). Under reason_code
    `residency_fail_closed` no endpoint was allowed: `model` is empty, do not send the request.
    """

    tier: Tier
    model: str
    reason: str
    policy: str
    arm: str | None = None
    feature: str | None = None
    guards: tuple[str, ...] = field(default_factory=tuple)
    reason_code: str = ""
    abstain: bool = False
    abstain_reason: str | None = None
    abstain_kind: str | None = None
    risk_floor: Risk | None = None
    contract: str | None = None
    expected_cost_usd: float | None = None
    model_version: str | None = None
    propensity: float | None = None
    prediction: Prediction | None = None
    region: str | None = None
    vendor: str | None = None
    residency: str | None = None

    @property
    def safety_flags(self) -> tuple[str, ...]:
        """Guard categories (`pii`, `forbidden_advice`, `regulated_language`) for log schema v1."""
        seen: list[str] = []
        for name in self.guards:
            category = name.split(".", 1)[0]
            if category not in seen:
                seen.append(category)
        return tuple(seen)

    def with_arm(self, arm: str | None) -> RouteDecision:
        """The same decision labelled with an A/B or shadow arm."""
        return dataclasses.replace(self, arm=arm)

    def to_dict(self, *, include_prediction: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tier": self.tier,
            "model": self.model,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "policy": self.policy,
            "arm": self.arm,
            "feature": self.feature,
            "contract": self.contract,
            "guards": list(self.guards),
            "abstain": self.abstain,
            "abstain_reason": self.abstain_reason,
            "risk_floor": self.risk_floor,
            "expected_cost_usd": self.expected_cost_usd,
            "model_version": self.model_version,
            "propensity": self.propensity,
            "region": self.region,
            "vendor": self.vendor,
            "residency": self.residency,
        }
        if include_prediction:
            out["prediction"] = self.prediction.to_dict() if self.prediction is not None else None
        return out
