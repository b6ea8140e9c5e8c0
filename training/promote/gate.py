"""The promotion gate's checks: pure functions over both models' scores on the same rows.

A candidate takes `champion` only if every check passes:
- the chosen metric improves by more than `min_delta` in that metric's own direction (a lower
  ECE, cost or failure rate is an improvement; a metric with no direction is refused);
- no head's ECE (intent, risk, P(ok) of each tier) rises by more than `tolerance.ece`;
- the learned policy's replayed failure rate rises by at most `tolerance.failure`;
- its replayed cost at the champion's failure rate rises by at most `tolerance.cost` (a share).
  "At equal failures": each model's quality-bar sweep gives (failure rate, cost) points, and
  randomising between two points reaches any failure rate between them at the interpolated cost
  (the argument of training.replay.metrics.gap_figures), so each model's cheapest cost at the
  champion's failure rate is read off the lower envelope of its points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from classifier.errors import ConfigError
from training.config import PromoteConfig

HIGHER_IS_BETTER = ("accuracy", "macro_f1", "auc", "precision", "recall")
LOWER_IS_BETTER = (
    "ece",
    "brier",
    "cost_per_1k_usd",
    "failure_rate",
    "escalations_per_1k",
    "retry_latency_ms",
    "attempts_per_request",
)
ECE_KEYS = ("intent_ece", "risk_ece", "tier_ok_nano_ece", "tier_ok_mini_ece", "tier_ok_full_ece")
REPLAY_PREFIX = "replay_"


@dataclass(frozen=True)
class Check:
    """One bar of the gate: both values, the limit the candidate had to meet, and the verdict."""

    name: str
    candidate: float
    champion: float
    passed: bool
    rule: str

    def line(self) -> str:
        mark = "pass" if self.passed else "FAIL"
        return (
            f"[{mark}] {self.name}: candidate {_fmt(self.candidate)} vs champion "
            f"{_fmt(self.champion)}; {self.rule}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better; refuse a metric with no direction."""
    name = metric.removeprefix(REPLAY_PREFIX)
    for token in LOWER_IS_BETTER:
        if name == token or name.endswith(f"_{token}"):
            return -1
    for token in HIGHER_IS_BETTER:
        if name == token or name.endswith(f"_{token}") or f"_{token}_" in name:
            return 1
    raise ConfigError(
        f"promote.metric {metric!r} has no better direction (counts and shares are not "
        f"quality); choose one ending in {', '.join(HIGHER_IS_BETTER)} (higher is better) or "
        f"{', '.join(LOWER_IS_BETTER)} (lower is better), e.g. mean_macro_f1 or intent_ece"
    )


def cost_at_failure(points: Sequence[Mapping[str, float]], failure: float) -> float:
    """Cheapest cost per 1k among the points and their mixtures whose failure rate is at most
    `failure`; infinity when no mixture fails that rarely."""
    pts = [
        (float(p["failure_rate"]), float(p["cost_per_1k_usd"]))
        for p in points
        if math.isfinite(p["failure_rate"]) and math.isfinite(p["cost_per_1k_usd"])
    ]
    best = min((c for f, c in pts if f <= failure), default=math.inf)
    for f_lo, c_lo in pts:
        for f_hi, c_hi in pts:
            if f_lo < failure < f_hi:
                best = min(best, c_lo + (c_hi - c_lo) * (failure - f_lo) / (f_hi - f_lo))
    return best


def run_checks(
    candidate: Mapping[str, Any], champion: Mapping[str, Any], cfg: PromoteConfig
) -> list[Check]:
    """Every check of the gate, in order; `candidate`/`champion` are BundleScores.to_dict()."""
    cand, champ = candidate["metrics"], champion["metrics"]
    if cfg.metric not in cand:
        raise ConfigError(
            f"promote.metric {cfg.metric!r} is not a metric the gate measures; choose one of "
            f"{sorted(k for k in cand if _has_direction(k))}"
        )
    sign = direction(cfg.metric)
    gain = sign * (cand[cfg.metric] - champ[cfg.metric])
    better = "higher" if sign > 0 else "lower"
    checks = [
        Check(
            cfg.metric,
            cand[cfg.metric],
            champ[cfg.metric],
            math.isfinite(gain) and gain > cfg.min_delta,
            f"{better} is better; gain {_fmt(gain, signed=True)} must exceed "
            f"{_fmt(cfg.min_delta, signed=True)} (promote.min_delta)",
        )
    ]
    for key in ECE_KEYS:
        a, b = cand.get(key, math.nan), champ.get(key, math.nan)
        if not (math.isfinite(a) or math.isfinite(b)):
            continue  # no labels of this head on these rows: nothing to compare
        checks.append(
            Check(
                key,
                a,
                b,
                math.isfinite(a) and math.isfinite(b) and a <= b + cfg.tolerance.ece,
                f"calibration may worsen by at most {cfg.tolerance.ece:g} (promote.tolerance.ece)",
            )
        )
    failure = f"{REPLAY_PREFIX}failure_rate"
    a, b = cand[failure], champ[failure]
    checks.append(
        Check(
            failure,
            a,
            b,
            math.isfinite(a) and math.isfinite(b) and a <= b + cfg.tolerance.failure,
            f"the learned policy's replayed failure rate may rise by at most "
            f"{cfg.tolerance.failure:g} (promote.tolerance.failure)",
        )
    )
    a = cost_at_failure(candidate["curve"], b)
    c = cost_at_failure(champion["curve"], b)
    checks.append(
        Check(
            "cost_per_1k_usd_at_equal_failures",
            a,
            c,
            math.isfinite(a) and math.isfinite(c) and a <= c * (1.0 + cfg.tolerance.cost),
            f"replayed USD per 1k requests at the champion's failure rate ({_fmt(b)}) may "
            f"rise by at most {cfg.tolerance.cost:.0%} (promote.tolerance.cost)"
            + (
                "; the candidate reaches that failure rate at no quality bar"
                if a == math.inf
                else ""
            ),
        )
    )
    return checks


def _has_direction(metric: str) -> bool:
    try:
        direction(metric)
    except ConfigError:
        return False
    return True


def _fmt(value: float, *, signed: bool = False) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:+.4f}" if signed else f"{value:.4f}"
