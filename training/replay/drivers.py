"""Which cost drove each feature's tier: the error economics of the learned decision, explained.

Two honest, simple numbers per feature, both from the production decision on the held-out
requests (the same plan the service uses, classifier.plan):

- `share`: of the expected cost at the chosen tier (classifier.plan.cost_parts, summed over the
  feature's requests), the part each component is: price (tokens, with the recovery attempt's),
  delay (over the p50 budget, and the recovery's wait), failure, review, incident.
- `moved`: against failure-only pricing (token price + failure_usd, no review, incident, delay
  or p95 budget), the fraction of the feature's requests whose tier changes when that one
  component is added back (`p95` = the surface's p95 budget). `driver` is the component that
  moved the most requests; `failure` when none moved any (the price of a failure against the
  price of the call decided alone).

Example:
    drivers = cost_drivers(preds, texts, features, guards, contracts, table, chosen, rules)
    drivers["policy_review"]["driver"]  # "incident"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from classifier.contracts import Contracts, ContractsFile, FeatureContract, RoutingTable
from classifier.economics import COMPONENTS, cost_parts
from classifier.guards import GuardResult
from classifier.plan import estimate_tokens, plan_for
from classifier.prediction import Prediction
from classifier.rules import RuleRouter
from training.replay.policies import decide_tiers

ADDED = ("review", "incident", "delay", "p95")  # what failure-only pricing leaves out


def with_components(contracts: Contracts, keep: Iterable[str]) -> Contracts:
    """The contracts priced with failure_usd and the token price plus only the components in
    `keep` (of ADDED); the others are zeroed (the p95 budget is dropped)."""
    kept = set(keep)

    def change(c: FeatureContract) -> FeatureContract:
        econ = c.economics.model_copy(
            update={
                "review_usd": c.economics.review_usd if "review" in kept else 0.0,
                "incident_usd": c.economics.incident_usd if "incident" in kept else 0.0,
                "delay_usd_per_s": c.economics.delay_usd_per_s if "delay" in kept else 0.0,
            }
        )
        update: dict[str, object] = {"economics": econ}
        if "p95" not in kept:  # no surface, no p95 budget: the p50 budget stays (it is priced)
            update |= {"surface": None, "p95_budget_ms": None}
        return c.model_copy(update=update)

    parsed = ContractsFile.model_construct(
        decision=contracts.decision,
        default=change(contracts.default),
        features={k: change(v) for k, v in contracts.features.items()},
        residency=contracts.residency,
        surfaces=dict(contracts.surfaces),
    )
    return Contracts(parsed, f"{contracts.source} (failure + {sorted(kept)})", contracts.taxonomy)


def cost_drivers(
    predictions: Sequence[Prediction],
    texts: Sequence[str],
    features: Sequence[str],
    guards: Sequence[GuardResult],
    contracts: Contracts,
    table: RoutingTable,
    chosen: np.ndarray,
    rules: RuleRouter | None = None,
) -> dict[str, dict[str, Any]]:
    """Per feature: requests, component shares at the `chosen` tiers, `moved`, `driver`."""
    feats = np.asarray(features, dtype=object)
    sums: dict[str, dict[str, float]] = {}
    for p, text, feature, guard, rank in zip(
        predictions, texts, features, guards, chosen, strict=True
    ):
        plan = plan_for(contracts, table, feature, p.tier_tuning, guard.detectors)
        p_ok = tuple(p.tier_ok_probs.get(t, 0.0) for t in plan.tiers)
        parts = cost_parts(plan, p_ok, estimate_tokens(p, plan, text))[int(rank)]
        acc = sums.setdefault(feature, dict.fromkeys(COMPONENTS, 0.0))
        for name in COMPONENTS:
            acc[name] += parts[name]

    def tiers(c: Contracts) -> np.ndarray:
        return decide_tiers(predictions, texts, features, guards, c, table, rules)

    base = tiers(with_components(contracts, ()))
    moved_by = {c: tiers(with_components(contracts, (c,))) != base for c in ADDED}
    out: dict[str, dict[str, Any]] = {}
    for feature, acc in sorted(sums.items()):
        mask = feats == feature
        total = sum(acc.values())
        moved = {c: float(moved_by[c][mask].mean()) for c in ADDED}
        top = max(ADDED, key=lambda c: moved[c])
        out[feature] = {
            "requests": int(mask.sum()),
            "share": {k: (v / total if total > 0 else 0.0) for k, v in acc.items()},
            "moved": moved,
            "moved_all": float((np.asarray(chosen) != base)[mask].mean()),
            "driver": top if moved[top] > 0 else "failure",
        }
    return out


def drivers_section(drivers: dict[str, dict[str, Any]]) -> list[str]:
    """The report's table: one row per feature, the driver first."""
    if not drivers:
        return []
    out = [
        "## Which cost drove each feature's tier (learned policy)",
        "",
        "Share of the expected cost at the chosen tier per component, and the share of the "
        "feature's requests whose tier changes, against pricing by token price and failure_usd "
        "alone, when one component is added back (p95 = the surface's p95 budget). Driver: the "
        "component that moved the most requests; `failure` when none moved any. "
        "Definitions: docs/decisions.md (Error economics).",
        "",
        "| feature | n | driver | "
        + " | ".join(f"{c} share" for c in COMPONENTS)
        + " | "
        + " | ".join(f"moved by {c}" for c in ADDED)
        + " |",
        "| --- | ---: | --- |" + " ---: |" * (len(COMPONENTS) + len(ADDED)),
    ]
    for feature, d in drivers.items():
        shares = " | ".join(f"{d['share'][c]:.0%}" for c in COMPONENTS)
        moved = " | ".join(f"{d['moved'][c]:.1%}" for c in ADDED)
        out.append(f"| {feature} | {d['requests']} | **{d['driver']}** | {shares} | {moved} |")
    return [*out, ""]
