"""Per-feature decision thresholds tuned on held-out replay, carried by the bundle.

`decide()` weighs a cheaper tier against a safer one with a price on failure:
E[cost] = price + P(fail) x (failure price + recovery). Written by hand, that price and the
quality bar are guesses about how the model's P(ok) turns into user-visible failures after the
router's retries and escalations. A bundle built by `tierwise train` carries the measurement
instead: for each product feature, the cost per request and the failure rate that `decide()`
reached on a held-out replay slice (never trained on, and not the evaluation slice) at each
failure price of a grid. The threshold for a contract is the grid price whose replayed
`cost + contract price x failures` was lowest, where the contract price of one failure is
`economics.failure_usd` (+ `review_usd` when it fails closed). So the contract keeps saying what
a failure costs the business, and the bundle says which setting of its own model meets that best.

Features with fewer than MIN_ROWS tuning rows, and unknown features, use the curve over all rows
("*"). A bundle without tuning (older formats) leaves the contracts' own bars in force.

Example:
    tuning = TierTuning.from_dict(manifest.tier_tuning)
    tuning.failure_price("support_chat", 0.03)  # e.g. 0.0075: the tuned failure price
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from classifier.contracts import Contracts, ContractsFile, FeatureContract

ALL = "*"
MIN_ROWS = 50  # below this a feature's own curve is too noisy; it uses the curve over all rows


@dataclass(frozen=True, slots=True)
class FeatureCurve:
    """Replayed mean cost (USD per request) and failure rate at each grid price."""

    cost_usd: tuple[float, ...]
    failure_rate: tuple[float, ...]
    rows: int


@dataclass(frozen=True)
class TierTuning:
    """Grid of failure prices and, per feature, what the decision did at each on held-out replay.

    `mode` is "exact" (simulator truth) or "estimate" (inverse-propensity on logged traces).
    """

    prices: tuple[float, ...]
    curves: Mapping[str, FeatureCurve]
    mode: str
    rows: int
    key: str = field(default="", compare=False)

    def failure_price(self, feature: str | None, contract_price: float) -> float | None:
        """The grid price minimising replayed cost + contract_price x failure rate.

        Ties (grid prices that routed the tuning rows identically) resolve to the middle of
        the tied prices. None when there is no usable curve.
        """
        curve = self.curves.get(feature) if feature is not None else None
        if curve is None or curve.rows < MIN_ROWS:
            curve = self.curves.get(ALL)
        if curve is None:
            return None
        objective = [
            c + contract_price * f for c, f in zip(curve.cost_usd, curve.failure_rate, strict=True)
        ]
        best = min(objective)
        tol = 1e-12 * max(1.0, abs(best))
        tied = [k for k, v in enumerate(objective) if v <= best + tol]
        return self.prices[tied[len(tied) // 2]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "prices": list(self.prices),
            "mode": self.mode,
            "rows": self.rows,
            "features": {
                name: {
                    "cost_usd": list(c.cost_usd),
                    "failure_rate": list(c.failure_rate),
                    "rows": c.rows,
                }
                for name, c in self.curves.items()
            },
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TierTuning:
        """Parse and check a manifest's `tier_tuning`; ValueError says what is wrong."""
        try:
            prices = tuple(float(p) for p in raw["prices"])
            curves = {
                str(name): FeatureCurve(
                    tuple(float(v) for v in c["cost_usd"]),
                    tuple(float(v) for v in c["failure_rate"]),
                    int(c["rows"]),
                )
                for name, c in raw["features"].items()
            }
            mode, rows = str(raw["mode"]), int(raw["rows"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"tier_tuning is malformed ({exc!r})") from exc
        if not prices or any(b <= a for a, b in zip(prices, prices[1:], strict=False)):
            raise ValueError("tier_tuning.prices must be a non-empty increasing list")
        for name, c in curves.items():
            values = (*c.cost_usd, *c.failure_rate)
            if len(c.cost_usd) != len(prices) or len(c.failure_rate) != len(prices):
                raise ValueError(f"tier_tuning.features.{name} needs one value per price")
            if not all(math.isfinite(v) and v >= 0 for v in values):
                raise ValueError(f"tier_tuning.features.{name} has negative or non-finite values")
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]
        return cls(prices, curves, mode, rows, digest)


def contract_failure_price(contract: FeatureContract) -> float:
    """What one failure costs under the contract: failure_usd + incident_usd (+ review_usd if
    fail_closed). Delay is not in it: it depends on the tier, so the plan prices it per tier."""
    econ = contract.economics
    review = econ.review_usd if contract.fallback == "fail_closed" else 0.0
    return econ.failure_usd + review + econ.incident_usd


def at_failure_price(contract: FeatureContract, price: float) -> FeatureContract:
    """The contract as a tuned decision runs it: failure priced at `price`, no hand-set bar.

    The bar goes to 0 because the tuned price already decides how much P(ok) a cheaper tier
    must keep; review and incident costs are scaled by the ratio of `price` to the contract's
    price of a failure and failure_usd takes the rest, so that they sum to `price`. Latency,
    risk floor and fallback stay.
    (A tuned decision does not abstain either: see `with_failure_price`.)
    """
    econ = contract.economics
    written = contract_failure_price(contract)
    # Each component scaled alike, so that the report can still say which one drove the price.
    scale = price / written if written > 0 else 0.0
    review = econ.review_usd * scale if contract.fallback == "fail_closed" else 0.0
    incident = econ.incident_usd * scale
    failure = price - review - incident  # the rest: exact when only failure_usd is set
    update = {"failure_usd": failure, "review_usd": review, "incident_usd": incident}
    return contract.model_copy(
        update={"quality_bar": 0.0, "economics": econ.model_copy(update=update)}
    )


def with_failure_price(contracts: Contracts, price: float) -> Contracts:
    """Every feature (and the default) run at one failure price, untuned.

    What the tuning replays at each grid price: `decide()` under these contracts makes exactly
    the decision a tuned bundle makes for a feature whose tuned price is `price`, abstention
    margins off (the tuned price was chosen on outcomes that already carry the model's
    uncertainty; escalating on top of it would pay for that uncertainty twice).
    """
    abstain = contracts.decision.abstain.model_copy(
        update={"min_intent_prob": 0.0, "ok_margin": 0.0}
    )
    parsed = ContractsFile.model_construct(
        decision=contracts.decision.model_copy(
            update={"thresholds": "contract", "abstain": abstain}
        ),
        default=at_failure_price(contracts.default, price),
        features={k: at_failure_price(v, price) for k, v in contracts.features.items()},
        surfaces=dict(contracts.surfaces),
    )
    return Contracts(parsed, f"{contracts.source} (failure price {price})")
