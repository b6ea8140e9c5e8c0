"""What each request would cost and how it would end, per first tier: exact replay or as logged.

Exact (simulator truth): the router playbook of `data.generator.router.RouterSim` is played from
each first tier in turn, with the request's true per-tier viability, so failed attempts, retries
and escalations are priced exactly as the simulated production router would incur them. The
playbook's own randomness (transient errors, failure mode, token counts) is averaged over
`replays` draws per (request, first tier), seeded by the request id, so every policy that picks
the same tier for a request sees the same draws (common random numbers: differences between
policies are not sampling noise).

Logged (no truth): each record's own trace, priced from the routing table; it is the outcome of
the logged first tier only, which is what the inverse-propensity estimate (replay_metrics) needs.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from classifier.contracts import RoutingTable
from classifier.logschema import LogRecord
from classifier.rules import RuleRouter
from classifier.taxonomy import TIERS
from data.generator.config import SimConfig, TierPrice
from data.generator.router import RouterSim
from data.generator.texts import STRUCTURED_FAMILIES
from data.generator.writer import Knobs
from training.ingest.labels import correction_timing

METRICS = ("cost_usd", "fail", "hard_fail", "escalations", "retry_latency_ms", "attempts")


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

    def subset(self, index: np.ndarray) -> Outcomes:
        return Outcomes(**{m: getattr(self, m)[index] for m in METRICS},
                        extra={k: v[index] for k, v in self.extra.items()})


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


def is_structured(template: str, intent: str, text: str) -> bool:
    """The generator's rule (texts.py): structured families, classification, or JSON asked for.

    The truth file does not carry the flag, so it is rebuilt from the template id; `JSON`
    anywhere in the text (not only the instruction) makes it a slight over-approximation.
    """
    family = template.split(".", 1)[-1]
    return family in STRUCTURED_FAMILIES or intent == "classify" or "JSON" in text


def sim_config(table: RoutingTable, rules: RuleRouter | None = None) -> SimConfig:
    """The simulator's configuration with this routing table's prices and models."""
    tiers = {
        t: TierPrice(spec.model, spec.input_per_mtok, spec.output_per_mtok, spec.p50_latency_ms)
        for t, spec in table.tiers.items()
    }
    router = rules or RuleRouter.default(table.tier_models)
    return SimConfig((), tiers, router, f"rules@{table.version}")


class _StartAt(RouterSim):
    """The playbook with the first tier imposed by the policy under evaluation."""

    start = "nano"

    def first_tier(self, rng: random.Random, text: str, feature: str) -> tuple[str, str, float]:
        return self.start, "replay", 1.0


def _seed(request_id: str, tier: str, draw: int, seed: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{request_id}:{tier}:{draw}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


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
    if replays < 1:
        raise ValueError("replays must be >= 1")
    knobs = knobs or Knobs()
    sim = _StartAt(sim_config(table), epsilon=0.0, transient_rate=knobs.transient_rate)
    n = len(requests)
    sums = {m: np.zeros((n, len(TIERS))) for m in METRICS}
    for i, req in enumerate(requests):
        ok = dict(zip(TIERS, req.tier_ok, strict=True))
        for t, tier in enumerate(TIERS):
            sim.start = tier
            for draw in range(replays):
                rng = rng_factory(_seed(req.request_id, tier, draw, seed))
                trace = sim.play(rng, req, req.feature, ok)  # type: ignore[arg-type]
                cost = sum(table.price_usd(a["tier"], a["input_tokens"], a["output_tokens"])
                           for a in trace.attempts)
                sums["cost_usd"][i, t] += cost
                sums["fail"][i, t] += not trace.served_ok
                sums["hard_fail"][i, t] += trace.served_visible_failure
                sums["escalations"][i, t] += len(trace.escalations)
                sums["retry_latency_ms"][i, t] += sum(a["latency_ms"] for a in trace.attempts[:-1])
                sums["attempts"][i, t] += len(trace.attempts)
    return Outcomes(**{m: v / replays for m, v in sums.items()})


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
    return (cost, float(hard or corrected), float(hard), float(len(record.escalations)),
            retry_ms, float(len(attempts)))


def logged_outcomes(rows: np.ndarray, tier: np.ndarray, propensity: np.ndarray,
                    true_fail: np.ndarray | None = None) -> Logged:
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
    return Logged(tier.astype(np.int8), propensity, Outcomes(**cols), rows[:, 1].copy())

