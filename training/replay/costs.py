"""What each request would cost and how it would end, per first tier: exact replay or as logged.

Exact (simulator truth): the router playbook (data.generator.counterfactual) is played from
each first tier in turn, with the request's true per-tier viability, so failed attempts, retries
and escalations are priced exactly as the simulated production router would incur them. The
playbook's own randomness (transient errors, failure mode, token counts) is averaged over
`replays` draws per (request, first tier), seeded by the request id, so every policy that picks
the same tier for a request sees the same draws (common random numbers: differences between
policies are not sampling noise).

Logged (no truth): each record's own trace, priced from the routing table; it is the outcome of
the logged first tier only, which is what the inverse-propensity estimate (replay.metrics) needs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from classifier.contracts import RoutingTable
from classifier.logschema import LogRecord
from classifier.taxonomy import TIERS
from data.generator.counterfactual import PLAY_METRICS, play_from_each_tier
from data.generator.writer import Knobs
from training.ingest.labels import correction_timing

METRICS = PLAY_METRICS


@dataclass
class Outcomes:
    """Per request (rows) and first tier (columns nano, mini, full): expected outcome values.

    `fail`: the user got a bad answer or none (silent failure, failed trace, error);
    `hard_fail`: the trace ended with a visible failure (schema/compliance at full, errors);
    `retry_latency_ms`: latency of every attempt before the served one (what retries add).
    For logged outcomes only the logged tier's column is filled (NaN elsewhere).
    """

    cost_usd: np.ndarray
    fail: np.ndarray
    hard_fail: np.ndarray
    escalations: np.ndarray
    retry_latency_ms: np.ndarray
    attempts: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cost_usd)

    @classmethod
    def of(cls, columns: Mapping[str, np.ndarray]) -> Outcomes:
        """From one [N, 3] array per metric of METRICS (extra columns none)."""
        return cls(
            cost_usd=columns["cost_usd"],
            fail=columns["fail"],
            hard_fail=columns["hard_fail"],
            escalations=columns["escalations"],
            retry_latency_ms=columns["retry_latency_ms"],
            attempts=columns["attempts"],
        )

    def subset(self, index: np.ndarray) -> Outcomes:
        return Outcomes(
            **{m: getattr(self, m)[index] for m in METRICS},
            extra={k: v[index] for k, v in self.extra.items()},
        )


@dataclass(frozen=True)
class ReplayRequest:
    """What the playbook needs of one request (duck-types data.generator's TextSample)."""

    text: str
    feature: str
    intent: str
    risk: str
    structured: bool
    tier_ok: tuple[bool, bool, bool]
    request_id: str


def simulate_outcomes(
    requests: Sequence[ReplayRequest],
    table: RoutingTable,
    *,
    replays: int = 4,
    seed: int = 0,
    knobs: Knobs | None = None,
    rng_factory: Callable[[int], random.Random] = random.Random,
) -> Outcomes:
    """Play the playbook from every first tier for every request; means over `replays` draws.

    `rng_factory(seed)` makes each draw's generator (tests pass a constant one to get a fully
    deterministic, hand-checkable trace).
    """
    means = play_from_each_tier(
        requests, table, replays=replays, seed=seed, knobs=knobs, rng_factory=rng_factory
    )
    return Outcomes.of(means)


@dataclass
class Logged:
    """The logged first tier, its propensity, and the trace's outcome (one value per record)."""

    tier: np.ndarray  # int8 rank
    propensity: np.ndarray  # NaN when unknown
    outcomes: Outcomes  # only column `tier` is filled
    observed_fail: np.ndarray  # failed trace or a correction within the window


def logged_row(record: LogRecord, table: RoutingTable) -> tuple[float, ...]:
    """(cost, observed fail, hard fail, escalations, retry latency, attempts) of one record."""
    attempts = record.attempts
    cost = sum(table.price_usd(a.tier, a.input_tokens, a.output_tokens) for a in attempts)
    hard = bool(attempts) and not attempts[-1].ok
    corrected = correction_timing(record).within > 0
    retry_ms = sum(a.latency_ms for a in attempts[:-1])
    return (
        cost,
        float(hard or corrected),
        float(hard),
        float(len(record.escalations)),
        retry_ms,
        float(len(attempts)),
    )


def logged_outcomes(
    rows: np.ndarray, tier: np.ndarray, propensity: np.ndarray, true_fail: np.ndarray | None = None
) -> Logged:
    """Spread per-record values [N, 6] (from `logged_row`) into the logged tier's column.

    `fail` is the observed proxy (failed trace or a correction within 300 s) unless `true_fail`
    (from simulator truth) is given; the proxy is kept in `observed_fail` either way.
    """
    n = len(rows)
    cols = {}
    for k, metric in enumerate(METRICS):
        values = rows[:, k] if metric != "fail" or true_fail is None else true_fail
        matrix = np.full((n, len(TIERS)), np.nan)
        matrix[np.arange(n), tier] = values
        cols[metric] = matrix
    return Logged(tier.astype(np.int8), propensity, Outcomes.of(cols), rows[:, 1].copy())
