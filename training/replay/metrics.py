"""Scores of a policy pi[N, 3]: exact (expected outcomes per tier known) or off-policy estimates.

Exact: every metric is sum_i sum_t pi[i, t] * outcome[i, t] / N.

Estimate (no truth): self-normalised inverse propensity scoring (SNIPS). A logged record whose
first tier the policy would also have chosen counts with weight pi[i, t_i] / propensity_i;
the estimate is sum(w * y) / sum(w). Plain IPS (divided by N) is unbiased but noisy; SNIPS
trades a small bias for much less variance and is the headline. Confidence intervals are
percentile intervals of a Poisson bootstrap over records, the same resamples for every policy.

Quality-gap figures (RouteLLM, Ong et al. 2024), with quality = 1 - failure rate:
  PGR = (quality - quality(always-nano)) / (quality(always-full) - quality(always-nano));
  CPT(x) = smallest share of requests routed to full first at which a policy's threshold curve
  recovers x of the gap; APGR = area under PGR over that share in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from classifier.taxonomy import TIERS
from training.replay.costs import METRICS, Logged, Outcomes

RATE = {
    "cost_usd": "cost_per_1k_usd",
    "fail": "failure_rate",
    "hard_fail": "hard_failure_rate",
    "escalations": "escalations_per_1k",
    "retry_latency_ms": "retry_latency_ms",
    "attempts": "attempts_per_request",
}
PER_1K = {"cost_usd", "escalations"}


def _named(means: dict[str, float]) -> dict[str, float]:
    return {RATE[m]: v * (1000.0 if m in PER_1K else 1.0) for m, v in means.items()}


def _shares(pi: np.ndarray) -> dict[str, float]:
    shares = pi.mean(axis=0) if len(pi) else np.zeros(len(TIERS))
    return {f"share_{t}": float(s) for t, s in zip(TIERS, shares, strict=True)}


def score_exact(pi: np.ndarray, outcomes: Outcomes) -> dict[str, float]:
    """Expected totals and rates of a policy over the rows of `outcomes`."""
    n = len(pi)
    means = {m: float((pi * getattr(outcomes, m)).sum() / n) for m in METRICS}
    out = {"n": float(n), "cost_usd": means["cost_usd"] * n, **_named(means), **_shares(pi)}
    return out


def poisson_weights(n: int, resamples: int, seed: int = 0) -> np.ndarray:
    """[B, N] bootstrap multiplicities, shared by every policy so comparisons are paired."""
    return np.random.default_rng(seed).poisson(1.0, size=(resamples, n)).astype(np.float32)


def score_ips(
    pi: np.ndarray, logged: Logged, boot: np.ndarray | None = None, level: float = 0.95
) -> dict[str, Any]:
    """SNIPS estimates (+ plain IPS and bootstrap CIs) of the policy's rates from logged traces."""
    usable = np.isfinite(logged.propensity) & (logged.propensity > 0)
    n = len(pi)
    rows = np.flatnonzero(usable)
    t = logged.tier[rows].astype(np.intp)
    w = pi[rows, t] / logged.propensity[rows]
    out: dict[str, Any] = {
        "n": float(n),
        "n_used": float(len(rows)),
        "matched": float((pi[rows, t] > 0).sum()),
        "ess": float(w.sum() ** 2 / max((w**2).sum(), 1e-300)),
    }
    ci: dict[str, list[float]] = {}
    means: dict[str, float] = {}
    raw: dict[str, float] = {}
    alpha = (1.0 - level) / 2.0
    for m in METRICS:
        y = getattr(logged.outcomes, m)[rows, t]
        y = np.where(np.isfinite(y), y, 0.0)
        total_w = w.sum()
        means[m] = float((w * y).sum() / total_w) if total_w > 0 else float("nan")
        raw[m] = float((w * y).sum() / max(len(rows), 1))
        if boot is not None and total_w > 0:
            b = boot[:, rows]
            est = (b @ (w * y)) / np.maximum(b @ w, 1e-300)
            lo, hi = np.quantile(est, [alpha, 1 - alpha])
            scale = 1000.0 if m in PER_1K else 1.0
            ci[RATE[m]] = [float(lo) * scale, float(hi) * scale]
    out.update(_named(means))
    out["cost_usd"] = means["cost_usd"] * n
    out["ips_unnormalised"] = _named(raw)
    out["ci"] = ci
    out.update(_shares(pi))
    return out


def add_relative(scores: dict[str, dict[str, Any]], router_ms: dict[str, float]) -> None:
    """Added latency, savings vs always-full (valid only at <= its failure rate), and PGR."""
    full = scores.get("always_full")
    nano = scores.get("always_nano")
    for name, s in scores.items():
        s["router_latency_ms"] = router_ms.get(name, 0.0)
        s["added_latency_ms"] = s["router_latency_ms"] + s["retry_latency_ms"]
        if full is not None:
            s["savings_vs_full"] = 1.0 - s["cost_per_1k_usd"] / full["cost_per_1k_usd"]
            s["no_worse_than_full"] = bool(s["failure_rate"] <= full["failure_rate"] + 1e-12)
        if full is not None and nano is not None:
            s["pgr"] = pgr(s["failure_rate"], nano["failure_rate"], full["failure_rate"])


def pgr(failure: float, nano_failure: float, full_failure: float) -> float:
    gap = nano_failure - full_failure
    return float("nan") if gap <= 0 else (nano_failure - failure) / gap


def gap_figures(points: Sequence[tuple[float, float]]) -> dict[str, float]:
    """CPT(50%), CPT(80%) and APGR from (full share, PGR) points of one threshold sweep.

    Any point can be mixed at random with always-nano (share 0, PGR 0) and always-full
    (share 1, PGR 1), so both anchors are added; the curve is the running maximum of PGR over
    increasing share (more full calls never has to mean less quality), linearly interpolated.
    """
    pts = sorted(
        [(0.0, 0.0), (1.0, 1.0), *((float(s), float(p)) for s, p in points if np.isfinite(p))]
    )
    xs = np.array([p[0] for p in pts])
    ys = np.maximum.accumulate(np.array([p[1] for p in pts]))
    grid = np.linspace(0.0, 1.0, 1001)
    curve = np.interp(grid, xs, ys)
    out = {"apgr": float(np.trapezoid(curve, grid))}
    for target in (0.5, 0.8):
        reached = np.flatnonzero(curve >= target)
        out[f"cpt{int(target * 100)}"] = float(grid[reached[0]]) if len(reached) else float("nan")
    return out


def breakdown(pi: np.ndarray, outcomes: Outcomes, groups: Sequence[str]) -> dict[str, dict]:
    """Exact scores per group value (e.g. per feature)."""
    keys = np.asarray(groups)
    out = {}
    for g in sorted(set(groups)):
        idx = np.flatnonzero(keys == g)
        out[g] = score_exact(pi[idx], outcomes.subset(idx))
    return out


def breakdown_ips(pi: np.ndarray, logged: Logged, groups: Sequence[str]) -> dict[str, dict]:
    keys = np.asarray(groups)
    out = {}
    for g in sorted(set(groups)):
        idx = np.flatnonzero(keys == g)
        sub = Logged(
            logged.tier[idx],
            logged.propensity[idx],
            logged.outcomes.subset(idx),
            logged.observed_fail[idx],
        )
        out[g] = score_ips(pi[idx], sub)
    return out
