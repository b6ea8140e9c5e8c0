"""The simulator asked "what if": the router playbook from a first tier of the caller's choice,
and each tier's true chance of success for a text.

The offline replay (training.replay) scores a routing policy by playing the simulated production
router (`router.RouterSim`) from the tier the policy picks, with the request's true per-tier
viability; both the playbook and the difficulty model live here, so the replay reads them rather
than copying them.

Example:
    means = play_from_each_tier(requests, table, replays=4, seed=0)
    means["cost_usd"][i, 1]  # mean cost of request i when the policy starts it at mini
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from classifier.contracts import RoutingTable
from classifier.rules import RuleRouter
from classifier.taxonomy import TIERS
from data.generator.config import SimConfig, TierPrice
from data.generator.difficulty import NOISE_SD, THRESHOLDS, latent
from data.generator.router import RouterSim
from data.generator.textprops import text_props
from data.generator.texts import STRUCTURED_FAMILIES
from data.generator.writer import Knobs

# What one playbook run costs and how it ends, averaged per (request, first tier).
PLAY_METRICS = ("cost_usd", "fail", "hard_fail", "escalations", "retry_latency_ms", "attempts")


class PlayedRequest(Protocol):
    """What the playbook reads of a request (data.generator's TextSample has it all)."""

    @property
    def text(self) -> str: ...

    @property
    def feature(self) -> str: ...

    @property
    def intent(self) -> str: ...

    @property
    def risk(self) -> str: ...

    @property
    def structured(self) -> bool: ...

    @property
    def tier_ok(self) -> tuple[bool, bool, bool]: ...

    @property
    def request_id(self) -> str: ...


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


def play_from_each_tier(
    requests: Sequence[PlayedRequest],
    table: RoutingTable,
    *,
    replays: int = 4,
    seed: int = 0,
    knobs: Knobs | None = None,
    rng_factory: Callable[[int], random.Random] = random.Random,
) -> dict[str, np.ndarray]:
    """[N, 3] means of each of PLAY_METRICS, playing every request from every first tier.

    The playbook's own randomness (transient errors, failure mode, token counts) is averaged
    over `replays` draws, seeded by the request id, so every policy that picks the same tier
    for a request sees the same draws. `rng_factory(seed)` makes each draw's generator (tests
    pass a constant one to get a hand-checkable trace).
    """
    if replays < 1:
        raise ValueError("replays must be >= 1")
    knobs = knobs or Knobs()
    sim = _StartAt(sim_config(table), epsilon=0.0, transient_rate=knobs.transient_rate)
    sums = {m: np.zeros((len(requests), len(TIERS))) for m in PLAY_METRICS}
    for i, req in enumerate(requests):
        ok = dict(zip(TIERS, req.tier_ok, strict=True))
        for t, tier in enumerate(TIERS):
            sim.start = tier
            for draw in range(replays):
                rng = rng_factory(_seed(req.request_id, tier, draw, seed))
                trace = sim.play(rng, req, req.feature, ok)  # type: ignore[arg-type]
                cost = sum(
                    table.price_usd(a["tier"], a["input_tokens"], a["output_tokens"])
                    for a in trace.attempts
                )
                sums["cost_usd"][i, t] += cost
                sums["fail"][i, t] += not trace.served_ok
                sums["hard_fail"][i, t] += trace.served_visible_failure
                sums["escalations"][i, t] += len(trace.escalations)
                sums["retry_latency_ms"][i, t] += sum(a["latency_ms"] for a in trace.attempts[:-1])
                sums["attempts"][i, t] += len(trace.attempts)
    return {m: v / replays for m, v in sums.items()}


def true_ok_probs(texts: Sequence[str], intents: Sequence[str], risks: Sequence[str]) -> np.ndarray:
    """[N, 3] P(ok | tier) from the simulator's noiseless difficulty of each text: the best any
    reader of the text could do (the replay's "perfect reader")."""
    cuts = [THRESHOLDS[t] for t in TIERS]
    out = np.empty((len(texts), len(TIERS)))
    for i, (text, intent, risk) in enumerate(zip(texts, intents, risks, strict=True)):
        d = latent(text_props(text), intent, risk)
        out[i] = [0.5 * (1.0 + math.erf((c - d) / (NOISE_SD * math.sqrt(2.0)))) for c in cuts]
    return out
