"""The classifier's answer for one text: a small frozen value, cheap to build on the hot path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from classifier.taxonomy import Intent, Risk, Tier

if TYPE_CHECKING:
    from classifier.tuning import TierTuning


@dataclass(frozen=True, slots=True)
class Prediction:
    """Labels with calibrated probabilities, plus the provenance needed to replay the decision.

    `tier_ok_probs` holds P(tier would succeed) per tier, monotone non-decreasing nano -> full;
    `tier` is the smallest tier whose probability reaches the bundle's threshold.
    `abstain` is the model's own "I am not sure": the top intent probability, its margin over
    the runner-up, or the top risk probability fell below the bundle's abstention thresholds
    (chosen on held-out real text); `abstain_reason` says which. A caller may escalate, ask a
    human, or fall back to rules; `decide()` applies the contracts' own bars on top.
    `tier_tuning` is the bundle's decision tuning (classifier.tuning), shared by every prediction
    of a bundle so that any caller of `decide()` uses the thresholds of the model it asks.
    """

    intent: Intent
    intent_probs: dict[str, float]
    risk: Risk
    risk_probs: dict[str, float]
    tier: Tier
    tier_ok_probs: dict[str, float]
    model_version: str
    bundle_hash: str
    taxonomy_version: str
    tokens_used: int
    truncated: bool
    intent_margin: float = 1.0
    abstain: bool = False
    abstain_reason: str | None = None
    # one object per bundle: a cache entry holding a prediction does not own it (serving/cache.py)
    tier_tuning: TierTuning | None = field(
        default=None, repr=False, compare=False, metadata={"shared": True}
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "intent_probs": self.intent_probs,
            "risk": self.risk,
            "risk_probs": self.risk_probs,
            "tier": self.tier,
            "tier_ok_probs": self.tier_ok_probs,
            "model_version": self.model_version,
            "bundle_hash": self.bundle_hash,
            "taxonomy_version": self.taxonomy_version,
            "tokens_used": self.tokens_used,
            "truncated": self.truncated,
            "intent_margin": self.intent_margin,
            "abstain": self.abstain,
            "abstain_reason": self.abstain_reason,
        }
