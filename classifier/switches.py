"""Operator overrides that win over the model, switchable at run time.

- `force_mini`: the emergency switch; every request goes to mini, whatever the model says.
- kill switches, per feature (`"*"` for all): stop trusting the model for that feature and fall
  back to the rule router.
- tier caps, per feature: never route that feature above a tier (e.g. a budget freeze).

Readers (the hot path) never lock: they read `Switches.state`, one immutable `SwitchState`, so a
decision sees one consistent set of switches. Writers build a new state under a lock and swap it
in; `version` counts the swaps so that metrics and admin responses can show what is in force.

Example:
    switches = Switches()
    switches.update(kill={"support_chat": True}, caps={"doc_summary": "mini"}, by="oncall")
    switches.state.is_killed("support_chat")  # True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from classifier.errors import InputError
from classifier.taxonomy import TIERS, Tier

ALL_FEATURES = "*"


@dataclass(frozen=True, slots=True)
class SwitchState:
    """One immutable set of switches; compare `version` to see whether anything changed."""

    force_mini: bool = False
    killed: frozenset[str] = frozenset()
    caps: Mapping[str, Tier] = field(default_factory=lambda: MappingProxyType({}))
    version: int = 0
    updated_at: float | None = None
    updated_by: str | None = None

    def is_killed(self, feature: str | None) -> bool:
        killed = self.killed
        return bool(killed) and (
            ALL_FEATURES in killed or (feature is not None and feature in killed)
        )

    def cap_for(self, feature: str | None) -> Tier | None:
        caps = self.caps
        if not caps:
            return None
        if feature is not None and feature in caps:
            return caps[feature]
        return caps.get(ALL_FEATURES)

    @property
    def idle(self) -> bool:
        """True when no switch is set: the decision can skip every override check."""
        return not (self.force_mini or self.killed or self.caps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "force_mini": self.force_mini,
            "killed": sorted(self.killed),
            "caps": dict(sorted(self.caps.items())),
            "version": self.version,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


def _check_feature(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InputError(
            f"feature name {name!r} is not a non-empty string; use a contract's name or '*'"
        )
    return name


def _check_tier(feature: str, tier: object, tiers: tuple[str, ...]) -> Tier | None:
    if tier is None:
        return None
    if tier not in tiers:
        raise InputError(
            f"cap for {feature!r} is {tier!r}; use one of {list(tiers)} or null to lift it"
        )
    return tier  # type: ignore[return-value]


class Switches:
    """Thread-safe holder of the current `SwitchState`; updates are atomic swaps."""

    def __init__(self, state: SwitchState | None = None, tiers: tuple[str, ...] = TIERS) -> None:
        self._lock = threading.Lock()
        self._state = state or SwitchState()
        self.tiers = tuple(tiers)  # the taxonomy's tiers: what a cap may name

    @property
    def state(self) -> SwitchState:
        return self._state

    def snapshot(self) -> dict[str, Any]:
        """A plain dict of what is in force, for `/metrics` and the admin endpoint."""
        return self._state.to_dict()

    def update(
        self,
        *,
        force_mini: bool | None = None,
        kill: Mapping[str, bool] | None = None,
        caps: Mapping[str, Tier | None] | None = None,
        by: str | None = None,
    ) -> SwitchState:
        """Change some switches, keep the rest; validates everything before anything changes.

        `kill` maps feature -> on/off; `caps` maps feature -> tier, or None to lift the cap.
        """
        if force_mini is not None and not isinstance(force_mini, bool):
            raise InputError(f"force_mini must be true or false, got {force_mini!r}")
        for feature, on in (kill or {}).items():
            if not isinstance(on, bool):
                raise InputError(f"kill[{feature!r}] must be true or false, got {on!r}")
        kill_changes = {_check_feature(f): on for f, on in (kill or {}).items()}
        cap_changes = {
            _check_feature(f): _check_tier(f, t, self.tiers) for f, t in (caps or {}).items()
        }
        with self._lock:
            old = self._state
            killed = set(old.killed)
            for feature, on in kill_changes.items():
                (killed.add if on else killed.discard)(feature)
            new_caps = dict(old.caps)
            for feature, tier in cap_changes.items():
                if tier is None:
                    new_caps.pop(feature, None)
                else:
                    new_caps[feature] = tier
            self._state = SwitchState(
                force_mini=old.force_mini if force_mini is None else force_mini,
                killed=frozenset(killed),
                caps=MappingProxyType(new_caps),
                version=old.version + 1,
                updated_at=time.time(),
                updated_by=by,
            )
            return self._state

    def reset(self, *, by: str | None = None) -> SwitchState:
        """Lift every switch (the version still advances, so the change is visible)."""
        with self._lock:
            self._state = SwitchState(
                version=self._state.version + 1, updated_at=time.time(), updated_by=by
            )
            return self._state

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], tiers: tuple[str, ...] = TIERS) -> Switches:
        """Build from `{"force_mini": bool, "killed": [...], "caps": {feature: tier}}`."""
        unknown = set(raw) - {"force_mini", "killed", "caps"}
        if unknown:
            raise InputError(f"unknown switch keys {sorted(unknown)}; use force_mini, killed, caps")
        switches = cls(tiers=tiers)
        killed = raw.get("killed") or []
        if isinstance(killed, str) or not isinstance(killed, list | tuple | set | frozenset):
            raise InputError(f"killed must be a list of feature names, got {killed!r}")
        caps = raw.get("caps") or {}
        if not isinstance(caps, Mapping):
            raise InputError(f"caps must map feature names to tiers, got {caps!r}")
        switches.update(
            force_mini=raw.get("force_mini", False),
            kill={feature: True for feature in killed},
            caps=caps,
        )
        return switches

    def __repr__(self) -> str:
        return f"Switches({self._state.to_dict()})"
