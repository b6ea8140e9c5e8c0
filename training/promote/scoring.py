"""Score one bundle on the gate's rows: head metrics and the learned policy's replayed routing.

The bundle runs through the serving runtime (classifier.runtime), and its predictions go
through the production decision (contracts, routing table, guards), so the numbers are what a
router would get from it. The routing replay gives the operating point under the shipped
contracts and a sweep of quality bars (the cost/failure curve of training.replay.run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifier.contracts import Contracts, RoutingTable
from classifier.rules import RuleRouter
from classifier.taxonomy import INTENTS, RISKS, TIERS
from training.evaluation.metrics import evaluate_probs
from training.promote.gate import REPLAY_PREFIX
from training.promote.rows import GateRows
from training.replay.policies import decide_tiers, one_hot, with_quality_bar
from training.replay.run import DEFAULT_BARS

REPLAY_KEYS = (
    "cost_per_1k_usd",
    "failure_rate",
    "hard_failure_rate",
    "escalations_per_1k",
    "share_nano",
    "share_mini",
    "share_full",
)
BATCH = 256


@dataclass(frozen=True)
class Policy:
    """What turns predictions into routes: the shipped contracts, table and rule fallback."""

    contracts: Contracts
    table: RoutingTable
    rules: RuleRouter
    bars: tuple[float, ...] = DEFAULT_BARS


@dataclass
class BundleScores:
    """One bundle on the gate's rows: flat metrics (heads + `replay_*`) and its sweep."""

    version: str
    bundle_hash: str
    metrics: dict[str, float]
    curve: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "bundle_hash": self.bundle_hash,
            "metrics": self.metrics,
            "curve": self.curve,
        }


def score_bundle(
    bundle_dir: Path, version: str, rows: GateRows, policy: Policy, *, n_bins: int = 15
) -> BundleScores:
    """Head metrics against the logged labels and the replayed routing of the learned policy."""
    from classifier.runtime import Classifier

    clf = Classifier.load(bundle_dir)
    texts, features = list(rows.data.text), list(rows.data.feature)
    preds = []
    for start in range(0, len(texts), BATCH):
        preds += clf.classify_batch(texts[start : start + BATCH])
    probs = {
        "intent": np.array([[p.intent_probs[k] for k in INTENTS] for p in preds]),
        "risk": np.array([[p.risk_probs[k] for k in RISKS] for p in preds]),
        "tier_ok": np.array([[p.tier_ok_probs[k] for k in TIERS] for p in preds]),
    }
    metrics = evaluate_probs(
        f"v{version}",
        probs,
        rows.data.intent,
        rows.data.risk,
        rows.data.tier_ok,
        tier_threshold=clf.manifest.tier_threshold,
        n_bins=n_bins,
    ).metrics()

    def route(contracts: Contracts) -> dict[str, Any]:
        tiers = decide_tiers(
            preds, texts, features, rows.guards, contracts, policy.table, policy.rules
        )
        return rows.score(one_hot(tiers))

    operating = route(policy.contracts)
    metrics |= {f"{REPLAY_PREFIX}{k}": float(operating[k]) for k in REPLAY_KEYS}
    curve = [{"quality_bar": -1.0, **_point(operating)}]  # the shipped contracts themselves
    for bar in policy.bars:
        curve.append({"quality_bar": bar, **_point(route(with_quality_bar(policy.contracts, bar)))})
    return BundleScores(version, clf.bundle_hash, metrics, curve)


def _point(score: dict[str, Any]) -> dict[str, float]:
    return {
        "cost_per_1k_usd": float(score["cost_per_1k_usd"]),
        "failure_rate": float(score["failure_rate"]),
    }
