"""Online comparison and progressive rollout: which policy serves a request, and why.

Modes (TIERWISE_POLICY_MODE):
- `learned`: the model decides (the default; a feature's kill switch still falls back to rules).
- `rules`: the rule router decides every request.
- `shadow`: both decide; `TIERWISE_SHADOW_SERVE` names the one served, the other is only logged
  and disagreements are counted.
- `ab` (the progressive rollout): a deterministic split on a keyed hash of the request's unit key
  (user id, else conversation id, else request id): a share goes to arm `learned`, the rest to
  arm `rules`. The share is per feature (`feature_shares`, else `TIERWISE_AB_LEARNED_SHARE`).

The split is sticky: the same unit key always lands in the same bucket, in every process, so
a conversation (or a user) is never split across policies, and a retry is not re-randomised.
The bucket does not depend on the feature or the share, so raising a feature's share from 10 %
to 20 % keeps the first 10 % on `learned` and moves only new units over.

`shadow_rate` samples units (by a second keyed hash) on which the policy not served is decided
too and logged as the shadow; default 1.0 in shadow mode, 0 in the others (the playbook's
10-20 % is `0.1`-`0.2`).

Both arms are `classifier.policies` objects: the rules arm (`RulesPolicy`) gets the same guards,
contract risk floor and operator switches (force_mini, tier caps) as the learned one, through
the same `decide`: a comparison of policies, not of guardrails.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from classifier.rules import RuleRouter

Mode = Literal["learned", "rules", "shadow", "ab"]
PolicyName = Literal["learned", "rules"]
KeyKind = Literal["user", "conversation", "request"]
ALL_FEATURES = "*"
_SCALE = float(1 << 64)
_SHADOW_DOMAIN = b"shadow:"


def check_share(value: object, key: str) -> float:
    """A share is a number within [0, 1]; the error names the key so the fix is obvious."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key}: {value!r} is not a number; use a share within [0, 1]")
    share = float(value)
    if math.isnan(share) or not 0.0 <= share <= 1.0:
        raise ValueError(f"{key}: {value!r} is not within [0, 1]; use a share such as 0.1")
    return share


def unit_key(
    user_id: str | None, conversation_id: str | None, request_id: str
) -> tuple[str, KeyKind]:
    """The key a request is assigned by: the broadest one the caller sent.

    A request id is used as it is (the split of requests without a user or conversation is the
    one earlier versions made); the others are prefixed so that the three never collide.
    """
    if user_id:
        return "u:" + user_id, "user"
    if conversation_id:
        return "c:" + conversation_id, "conversation"
    return request_id, "request"


@dataclass(frozen=True, slots=True)
class Assignment:
    """Which policy serves one request; `arm` is set only in ab mode.

    `arm_probability` is the chance that this unit lands in its arm (1.0 outside ab).
    """

    served: PolicyName
    shadow: PolicyName | None = None
    arm: PolicyName | None = None
    arm_probability: float = 1.0


def _other(policy: PolicyName) -> PolicyName:
    return "rules" if policy == "learned" else "learned"


class Experiment:
    """Assigns requests to policies; pure and cheap (a blake2b of the unit key in ab mode)."""

    def __init__(
        self,
        mode: Mode = "learned",
        *,
        shadow_serve: PolicyName = "learned",
        learned_share: float = 0.5,
        salt: str = "",
        feature_shares: Mapping[str, float] | None = None,
        shadow_rate: float | None = None,
        sticky_escalation: bool = True,
    ) -> None:
        if mode not in ("learned", "rules", "shadow", "ab"):
            raise ValueError(f"mode: {mode!r} is not one of learned, rules, shadow, ab")
        if shadow_serve not in ("learned", "rules"):
            raise ValueError(f"shadow_serve: {shadow_serve!r} is not one of learned, rules")
        if not isinstance(sticky_escalation, bool):
            raise ValueError(f"sticky_escalation: {sticky_escalation!r} is not true or false")
        self.mode = mode
        self.shadow_serve: PolicyName = shadow_serve
        self.learned_share = check_share(learned_share, "ab_learned_share")
        shares = {
            str(f): check_share(v, f"feature_shares.{f}") for f, v in (feature_shares or {}).items()
        }
        self.feature_shares: Mapping[str, float] = MappingProxyType(dict(sorted(shares.items())))
        self.shadow_rate_set = shadow_rate
        default_rate = 1.0 if mode == "shadow" else 0.0
        self.shadow_rate = (
            default_rate if shadow_rate is None else check_share(shadow_rate, "shadow_rate")
        )
        self.sticky_escalation = sticky_escalation
        self._key = salt.encode()[:64]
        self._served: PolicyName = "learned"
        if mode == "shadow":
            self._served = shadow_serve
        elif mode == "rules":
            self._served = "rules"
        # Every request gets the same assignment unless a hash decides something.
        self._fixed: Assignment | None = None
        if mode != "ab" and self.shadow_rate in (0.0, 1.0):
            shadow = _other(self._served) if self.shadow_rate == 1.0 else None
            self._fixed = Assignment(served=self._served, shadow=shadow)

    @property
    def needs_rules(self) -> bool:
        """True when some request is decided (or shadowed) by the rule router."""
        return self.mode != "learned" or self.shadow_rate > 0.0

    def bucket(self, key: str, domain: bytes = b"") -> float:
        """A uniform number in [0, 1) fixed by (salt, domain, key)."""
        digest = hashlib.blake2b(domain + key.encode(), digest_size=8, key=self._key).digest()
        return int.from_bytes(digest, "big") / _SCALE

    def share_for(self, feature: str | None) -> float:
        """The share of units whose requests for `feature` the learned policy serves."""
        if self.mode != "ab":
            return 1.0 if self._served == "learned" else 0.0
        if feature is not None:
            share = self.feature_shares.get(feature)
            if share is not None:
                return share
        return self.feature_shares.get(ALL_FEATURES, self.learned_share)

    def assign(self, key: str, feature: str | None = None) -> Assignment:
        """The assignment of one request; `key` is its unit key (`unit_key`)."""
        fixed = self._fixed
        if fixed is not None:
            return fixed
        if self.mode == "ab":
            share = self.share_for(feature)
            if self.bucket(key) < share:
                served: PolicyName = "learned"
                probability = share
            else:
                served, probability = "rules", 1.0 - share
            arm: PolicyName | None = served
        else:
            served, arm, probability = self._served, None, 1.0
        rate = self.shadow_rate
        sampled = rate >= 1.0 or (rate > 0.0 and self.bucket(key, _SHADOW_DOMAIN) < rate)
        shadow = _other(served) if sampled else None
        return Assignment(served=served, shadow=shadow, arm=arm, arm_probability=probability)

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "shadow_serve": self.shadow_serve if self.mode == "shadow" else None,
            "ab_learned_share": self.learned_share if self.mode == "ab" else None,
            "feature_shares": dict(self.feature_shares) if self.mode == "ab" else None,
            "shadow_rate": self.shadow_rate,
            "sticky_escalation": self.sticky_escalation,
        }


def load_rules(path: Path | None, tier_models: Mapping[str, str]) -> RuleRouter:
    return RuleRouter.from_yaml(path, tier_models) if path else RuleRouter.default(tier_models)


def from_settings(settings: Any, known_features: frozenset[str] = frozenset()) -> Experiment:
    """The experiment the TIERWISE_ settings configure; a feature share for a feature without
    a contract is refused at start-up, naming the key (a typo would otherwise match nothing)."""
    shares = settings.ab_feature_shares
    if known_features:
        unknown = sorted(f for f in shares if f != ALL_FEATURES and f not in known_features)
        if unknown:
            raise ValueError(
                f"TIERWISE_AB_FEATURE_SHARES: no contract for feature(s) {unknown}; use one of "
                f"{sorted(known_features)} or '*'"
            )
    return Experiment(
        settings.policy_mode,
        shadow_serve=settings.shadow_serve,
        learned_share=settings.ab_learned_share,
        salt=settings.ab_salt,
        feature_shares=shares,
        shadow_rate=settings.shadow_rate,
        sticky_escalation=settings.sticky_escalation,
    )


OVERRIDE_KEYS = ("mode", "shadow_serve", "ab_learned_share", "feature_shares", "shadow_rate",
                 "sticky_escalation")  # fmt: skip


def merge_override(
    base: dict[str, Any] | None, change: dict[str, Any] | None, settings: Any
) -> dict[str, Any] | None:
    """The experiment saved after an admin change: `change`'s keys over `base` (None: the
    TIERWISE_ settings); a feature share set to None is removed (back to the default share)."""
    if not change:
        return base
    merged = base or {
        "mode": settings.policy_mode,
        "shadow_serve": settings.shadow_serve,
        "ab_learned_share": settings.ab_learned_share,
        "feature_shares": dict(settings.ab_feature_shares),
        "shadow_rate": settings.shadow_rate,
        "sticky_escalation": settings.sticky_escalation,
    }
    new = {k: v for k, v in change.items() if v is not None and k != "feature_shares"}
    shares = dict(merged.get("feature_shares") or {})
    for feature, share in (change.get("feature_shares") or {}).items():
        if share is None:
            shares.pop(feature, None)
        else:
            shares[feature] = share
    return {**merged, **new, "feature_shares": dict(sorted(shares.items()))}


def from_override(override: dict[str, Any] | None, settings: Any) -> Experiment | None:
    """The experiment a saved override describes; errors name the key (`experiment.<key>`)."""
    if override is None:
        return None
    unknown = set(override) - set(OVERRIDE_KEYS)
    if unknown:
        raise ValueError(f"unknown experiment keys {sorted(unknown)}")
    shares = override.get("feature_shares") or {}
    if not isinstance(shares, dict):
        raise ValueError(f"experiment.feature_shares: {shares!r} is not a mapping")
    try:
        return Experiment(
            override["mode"],
            shadow_serve=override["shadow_serve"],
            learned_share=override["ab_learned_share"],
            salt=settings.ab_salt,
            feature_shares=shares,
            shadow_rate=override.get("shadow_rate"),
            sticky_escalation=override.get("sticky_escalation", settings.sticky_escalation),
        )
    except ValueError as exc:
        raise ValueError(f"experiment.{exc}") from exc
