"""Online comparison of the learned policy with the rules: which policy serves a request, and why.

Modes (TIERWISE_POLICY_MODE):
- `learned`: the model decides (the default; a feature's kill switch still falls back to rules).
- `rules`: the rule router decides every request.
- `shadow`: both decide; `TIERWISE_SHADOW_SERVE` names the one served, the other is only logged
  and disagreements are counted.
- `ab`: a deterministic split on a keyed hash of `request_id`: a share
  (`TIERWISE_AB_LEARNED_SHARE`) goes to arm `learned`, the rest to arm `rules`. The same
  request_id always lands in the same arm, in every process, so a retry is not re-randomised.

Both arms are `classifier.policies` objects: the rules arm (`RulesPolicy`) gets the same guards,
contract risk floor and operator switches (force_mini, tier caps) as the learned one, through
the same `decide`: a comparison of policies, not of guardrails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from classifier.rules import RuleRouter

Mode = Literal["learned", "rules", "shadow", "ab"]
PolicyName = Literal["learned", "rules"]
_SCALE = float(1 << 64)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Which policy serves one request; `arm` is set only in ab mode.

    `arm_probability` is the chance that this request_id lands in its arm (1.0 outside ab).
    """

    served: PolicyName
    shadow: PolicyName | None = None
    arm: PolicyName | None = None
    arm_probability: float = 1.0


class Experiment:
    """Assigns requests to policies; pure and cheap (one blake2b of the request_id in ab mode)."""

    def __init__(
        self,
        mode: Mode = "learned",
        *,
        shadow_serve: PolicyName = "learned",
        learned_share: float = 0.5,
        salt: str = "",
    ) -> None:
        if mode not in ("learned", "rules", "shadow", "ab"):
            raise ValueError(f"mode {mode!r} is not one of learned, rules, shadow, ab")
        if not 0.0 <= learned_share <= 1.0:
            raise ValueError(f"learned_share {learned_share} is not within [0, 1]")
        self.mode = mode
        self.shadow_serve = shadow_serve
        self.learned_share = learned_share
        self._key = salt.encode()[:64]
        other: PolicyName = "rules" if shadow_serve == "learned" else "learned"
        if mode == "shadow":
            self._fixed: Assignment | None = Assignment(served=shadow_serve, shadow=other)
        elif mode == "ab":
            self._fixed = None
        else:
            self._fixed = Assignment(served=mode)  # type: ignore[arg-type]

    @property
    def needs_rules(self) -> bool:
        """True when some request is decided (or shadowed) by the rule router."""
        return self.mode != "learned"

    def bucket(self, request_id: str) -> float:
        """A uniform number in [0, 1) fixed by (salt, request_id)."""
        digest = hashlib.blake2b(request_id.encode(), digest_size=8, key=self._key).digest()
        return int.from_bytes(digest, "big") / _SCALE

    def assign(self, request_id: str) -> Assignment:
        if self._fixed is not None:
            return self._fixed
        share = self.learned_share
        if self.bucket(request_id) < share:
            return Assignment(served="learned", arm="learned", arm_probability=share)
        return Assignment(served="rules", arm="rules", arm_probability=1.0 - share)

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "shadow_serve": self.shadow_serve if self.mode == "shadow" else None,
            "ab_learned_share": self.learned_share if self.mode == "ab" else None,
        }


def load_rules(path: Path | None, tier_models: Mapping[str, str]) -> RuleRouter:
    return RuleRouter.from_yaml(path, tier_models) if path else RuleRouter.default(tier_models)
