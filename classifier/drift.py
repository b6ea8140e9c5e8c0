"""Drift: rolling statistics of what the model sees and says, compared with its training data.

Signals (each a distribution, compared by the population stability index, PSI):
`tokens` (tokens the model read, binned), `confidence` (top intent probability, binned),
`intent`, `risk` and `tier` (the predicted label mix). Rates (compared by difference):
`abstain` (the learned policy's abstention rate) and `failure:<tier>` (feedback: the first
attempt at that tier failed). The bundle carries the same statistics of a sample of its
training data (manifest `reference_stats`, written by training.export; older bundles have
none, and then only the live figures are shown).

`DriftStats.observe` runs on every request: a bisect over 7 edges and five list increments, no
allocation; the window is kept in `segments` parts, so the oldest part is dropped whole (O(1)
amortised) and the figures always cover the last `window` to `window * (1 - 1/segments)`
requests. `compare` (PSI) runs at scrape or report time, never per request.

Example:
    stats = DriftStats(INTENTS, RISKS, TIERS)
    stats.observe(prediction, abstained=False)
    compare(manifest_reference, stats.summary())["psi"]["intent"]
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from classifier.prediction import Prediction

TOKEN_EDGES: Final = (8, 16, 32, 64, 128, 256, 512)  # upper bounds; the last bin is open
CONFIDENCE_EDGES: Final = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
HISTOGRAMS: Final = ("tokens", "confidence")
LABELLED: Final = ("intent", "risk", "tier")
SIGNALS: Final = HISTOGRAMS + LABELLED
REFERENCE_VERSION: Final = 1
_EPS = 1e-4  # floor for an empty bin's share, so a bin seen on one side only stays finite


class _Part:
    """Counts of one segment of the window."""

    __slots__ = ("n", "tokens", "confidence", "intent", "risk", "tier", "abstain", "outcomes")

    def __init__(self, sizes: tuple[int, int, int]) -> None:
        self.n = 0
        self.tokens = [0] * (len(TOKEN_EDGES) + 1)
        self.confidence = [0] * (len(CONFIDENCE_EDGES) + 1)
        self.intent, self.risk, self.tier = ([0] * size for size in sizes)
        self.abstain = 0
        self.outcomes = [[0, 0] for _ in range(sizes[2])]  # per tier: (attempts, failures)


class DriftStats:
    """Rolling counts over the last `window` predictions (and feedback outcomes)."""

    def __init__(
        self,
        intents: Sequence[str],
        risks: Sequence[str],
        tiers: Sequence[str],
        *,
        window: int = 20_000,
        segments: int = 4,
    ) -> None:
        if window < segments or segments < 2:
            raise ValueError(f"window {window} must be >= segments {segments} >= 2")
        self.labels = {"intent": tuple(intents), "risk": tuple(risks), "tier": tuple(tiers)}
        self._index = {k: {name: i for i, name in enumerate(v)} for k, v in self.labels.items()}
        self._intent, self._risk, self._tier = (self._index[k] for k in LABELLED)
        self._sizes = (len(intents), len(risks), len(tiers))
        self._per_part = window // segments
        self._parts: deque[_Part] = deque(maxlen=segments)
        self._now = _Part(self._sizes)
        self._parts.append(self._now)

    def _current(self) -> _Part:
        now = self._now
        if now.n >= self._per_part:
            now = self._now = _Part(self._sizes)
            self._parts.append(now)  # the deque drops the oldest part
        return now

    def observe(self, p: Prediction, abstained: bool) -> None:
        """One prediction (hot path: constant work, no allocation between part changes)."""
        now = self._current()
        now.n += 1
        now.tokens[bisect_right(TOKEN_EDGES, p.tokens_used)] += 1
        now.confidence[bisect_right(CONFIDENCE_EDGES, p.intent_probs.get(p.intent, 0.0))] += 1
        now.intent[self._intent.get(p.intent, 0)] += 1
        now.risk[self._risk.get(p.risk, 0)] += 1
        now.tier[self._tier.get(p.tier, 0)] += 1
        if abstained:
            now.abstain += 1

    def observe_outcome(self, tier: str, failed: bool) -> None:
        """One feedback outcome: whether the first attempt, at `tier`, failed."""
        index = self._tier.get(tier)
        if index is not None:
            counts = self._now.outcomes[index]
            counts[0] += 1
            counts[1] += failed

    def summary(self) -> dict[str, Any]:
        """The window's figures in the reference's shape (shares, rates, counts)."""
        parts = list(self._parts)
        n = sum(part.n for part in parts)
        out: dict[str, Any] = {"version": REFERENCE_VERSION, "n": n}
        edges = {"tokens": list(TOKEN_EDGES), "confidence": list(CONFIDENCE_EDGES)}
        out["edges"] = edges
        shares: dict[str, Any] = {}
        for name in SIGNALS:
            summed = [sum(c) for c in zip(*(getattr(p, name) for p in parts), strict=True)]
            if name in HISTOGRAMS:
                shares[name] = _shares(summed)
            else:
                shares[name] = dict(zip(self.labels[name], _shares(summed), strict=True))
        out["shares"] = shares
        failures: dict[str, float | None] = {}
        attempts: dict[str, int] = {}
        for i, tier in enumerate(self.labels["tier"]):
            tried = sum(part.outcomes[i][0] for part in parts)
            failed = sum(part.outcomes[i][1] for part in parts)
            attempts[tier] = tried
            failures[tier] = failed / tried if tried else None
        abstained = sum(part.abstain for part in parts)
        out["rates"] = {"abstain": abstained / n if n else None, "failure": failures}
        out["outcomes"] = attempts
        return out


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two share vectors (0: same; > 0.2: a real shift)."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _EPS), max(a, _EPS)
        total += (a - e) * math.log(a / e)
    return total


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When drift counts as crossed: PSI over `psi`, a rate moved by more than `rate`, with at
    least `min_requests` in the window (fewer: nothing is judged, the figures are noise) and,
    for a tier's failure rate, `min_outcomes` feedback outcomes at that tier."""

    psi: float = 0.2
    rate: float = 0.1
    min_requests: int = 500
    min_outcomes: int = 100


DEFAULT_THRESHOLDS: Final = Thresholds()


def compare(
    reference: Mapping[str, Any] | None,
    live: Mapping[str, Any],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """PSI per signal and rate differences, and which crossed `thresholds` (None: no reference)."""
    report: dict[str, Any] = {"n": live["n"], "psi": {}, "rates": {}, "crossed": []}
    if reference is None:
        report["reference"] = None
        return report
    report["reference"] = {"n": reference.get("n")}
    judged = live["n"] >= thresholds.min_requests
    ref_shares, live_shares = reference.get("shares", {}), live["shares"]
    for name in SIGNALS:
        if name not in ref_shares:
            continue
        ref, now = ref_shares[name], live_shares[name]
        if isinstance(ref, Mapping):  # labels: compare by name, so a renamed label shows
            names = sorted(set(ref) | set(now))
            value = psi([ref.get(k, 0.0) for k in names], [now.get(k, 0.0) for k in names])
        elif len(ref) == len(now) and reference.get("edges", {}).get(name) == live["edges"][name]:
            value = psi(ref, now)
        else:
            continue  # other bins: not comparable
        report["psi"][name] = round(value, 6)
        if judged and value > thresholds.psi:
            report["crossed"].append(f"psi:{name}")
    ref_rates, live_rates = reference.get("rates", {}), live["rates"]
    pairs = [("abstain", ref_rates.get("abstain"), live_rates["abstain"], judged)]
    for tier, now in live_rates["failure"].items():
        enough = live.get("outcomes", {}).get(tier, 0) >= thresholds.min_outcomes
        pairs.append((f"failure:{tier}", ref_rates.get("failure", {}).get(tier), now, enough))
    for name, ref_rate, now_rate, enough in pairs:
        report["rates"][name] = {"reference": ref_rate, "live": now_rate}
        known = enough and ref_rate is not None and now_rate is not None
        if known and abs(now_rate - ref_rate) > thresholds.rate:  # type: ignore[operator]
            report["crossed"].append(f"rate:{name}")
    return report
