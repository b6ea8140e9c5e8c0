"""The bridge from a Prediction to a RouteDecision, tolerant of the decision layer's absence.

`classifier.decision` is looked up once at start-up; when it is not installed the response simply
carries no `route` (the prediction is still served). Contracts are loaded either way, because
they name the known features.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from classifier.prediction import Prediction
from classifier.routing import RouteDecision
from classifier.taxonomy import TIER_RANK, TIERS, Tier

log = logging.getLogger(__name__)


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # the module exists but is broken: a bug to surface, not a missing layer
        return None


class Decider:
    """Known features, guards and `decide`, bound once to the configured contracts and table."""

    def __init__(self, contracts_path: Path | None = None, table_path: Path | None = None) -> None:
        contracts_mod = _optional("classifier.contracts")
        self.contracts: Any = None
        self.table: Any = None
        self.known_features: frozenset[str] = frozenset()
        if contracts_mod is not None:
            self.contracts = contracts_mod.load_contracts(contracts_path)
            self.table = contracts_mod.load_routing_table(table_path)
            self.known_features = frozenset(self.contracts.names)
        guards_mod = _optional("classifier.guards")
        self._scan: Callable[[str], Any] | None = guards_mod.scan if guards_mod else None
        decision_mod = _optional("classifier.decision")
        self._decide: Callable[..., RouteDecision] | None = (
            decision_mod.decide if decision_mod and self.contracts is not None else None
        )
        switches_mod = _optional("classifier.switches")
        self.switches: Any = (
            switches_mod.Switches() if switches_mod and hasattr(switches_mod, "Switches") else None
        )
        if self._decide is None:
            log.warning("classifier.decision is not available: responses carry no route decision")

    def policy_version(self) -> int:
        """Changes whenever an operator switch changes; part of the decision cache key."""
        return self.switches.state.version if self.switches is not None else 0

    @property
    def available(self) -> bool:
        return self._decide is not None

    def is_known(self, feature: str | None) -> bool:
        return feature is not None and feature in self.known_features

    def decide(
        self, prediction: Prediction, feature: str | None, text: str
    ) -> RouteDecision | None:
        if self._decide is None:
            return None
        guard_result = self._scan(text) if self._scan is not None else None
        return self._decide(
            prediction, feature, self.contracts, self.table, guard_result, self.switches, text=text
        )

    def model_for(self, tier: Tier) -> str:
        return self.table.model(tier) if self.table is not None else tier


def escalate(
    decision: RouteDecision, reason: str, model_for: Callable[[Tier], str]
) -> RouteDecision:
    """One tier up (as the decision layer's own abstention does), keeping the reason visible.

    Used when the service's margins abstain but the decision layer did not; a decision that
    already abstained has already been escalated and is only annotated.
    """
    if decision.abstain:
        return replace(decision, reason=f"{decision.reason}; serving abstain: {reason}")
    rank = min(TIER_RANK[decision.tier] + 1, len(TIERS) - 1)
    target: Tier = TIERS[rank]
    note = f"serving abstain: {reason}; {decision.tier} -> {target}"
    return replace(
        decision,
        tier=target,
        model=model_for(target),
        reason=f"{decision.reason}; {note}",
        reason_code="abstain",
        abstain=True,
    )
