"""The simulated production router: logging policy with exploration, then the escalation playbook.

Logging policy: with probability 1-epsilon the rule router's tier, otherwise a uniformly random
tier; route.propensity is the exact probability this mixture gave the logged first tier.

Playbook, per attempt at tier t:
  - transient error (rate `transient_rate`, any tier): retry t; a second error at t escalates
    (cause `error_x2`), or at full ends the trace with the error served.
  - t viable (truth): the attempt succeeds.
  - t not viable: it fails in the (request, tier)'s failure mode:
      schema     -> retry t once; a second schema failure escalates to the next tier
                    (`schema_fail_x2`); at full the trace ends failed. A retry sometimes passes
                    the checks with a bad answer (it becomes a silent failure).
      compliance -> escalate straight to full (`compliance_fail`) and mark the trace high-risk
                    (meta.risk_mark); at full the trace ends failed (fail closed).
      silent     -> passes schema and compliance; the user sees a bad answer.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from classifier.rules import RuleRouter
from data.generator.config import PROMPT_TOKENS, STRUCTURED_FEATURES, SimConfig
from data.generator.grammar import pick
from data.generator.texts import TextSample

NEXT_TIER: dict[str, str | None] = {"nano": "mini", "mini": "full", "full": None}


def _up(tier: str) -> str:
    """The tier above `tier`; only called after `_escalate` agreed, so never from the top."""
    above = NEXT_TIER[tier]
    assert above is not None
    return above


OUTPUT_MEDIAN = {
    "classify": 8,
    "plan": 450,
    "generate_code": 350,
    "review_policy": 300,
    "chat": 180,
}
TIER_OUTPUT = {"nano": 0.85, "mini": 1.0, "full": 1.15}
ERRORS = ("timeout", "rate_limited", "upstream_5xx", "connection_reset")


class FastRules:
    """Exactly `RuleRouter.choose`, with a plain-substring pre-check per keyword rule.

    A keyword rule can only match (as a whole word or as a substring) where the keyword occurs
    as a substring, so skipping rules none of whose keywords occur changes no decision; it
    saves the word-boundary regex scan over long pasted documents. A test checks agreement.
    """

    def __init__(self, router: RuleRouter) -> None:
        self.router = router
        self.rules = [(rule, tuple(rule.keywords)) for rule in router.config.rules]
        self.defaults = dict(router.config.feature_defaults)
        self.unknown = router.config.unknown_feature_tier

    def choose(self, text: str, feature: str | None) -> tuple[str, str]:
        lowered = text.lower()
        for rule, keywords in self.rules:
            if keywords and not any(k in lowered for k in keywords):
                continue
            if rule.matches(lowered, feature):
                return rule.tier, f"rule:{rule.name}"
        if feature in self.defaults:
            return self.defaults[feature], f"feature_default:{feature}"
        return self.unknown, "unknown_feature_default"


@dataclass
class Trace:
    """What the router logged for one request, plus what the user actually got."""

    tier: str
    reason: str
    propensity: float
    attempts: list[dict] = field(default_factory=list)
    escalations: list[dict] = field(default_factory=list)
    served_ok: bool = False  # the answer the user saw was good
    served_visible_failure: bool = False
    risk_mark: bool = False


class RouterSim:
    """Routes and plays out one request; all randomness comes from the caller's rng."""

    def __init__(
        self,
        config: SimConfig,
        epsilon: float = 0.1,
        transient_rate: float = 0.015,
        retry_silent_rate: float = 0.2,
    ) -> None:
        self.config = config
        self.epsilon = epsilon
        self.transient_rate = transient_rate
        self.retry_silent_rate = retry_silent_rate
        self.tiers = tuple(config.tiers)
        self.rules = FastRules(config.router)

    def first_tier(self, rng: random.Random, text: str, feature: str) -> tuple[str, str, float]:
        rule_tier, rule_reason = self.rules.choose(text, feature)
        explore = rng.random() < self.epsilon
        tier = pick(rng, self.tiers) if explore else rule_tier
        propensity = self.epsilon / len(self.tiers) + (1.0 - self.epsilon) * (tier == rule_tier)
        reason = f"explore:uniform(rule={rule_tier})" if explore else rule_reason
        return tier, reason, round(propensity, 6)

    def failure_mode(self, rng: random.Random, sample: TextSample, feature: str) -> str:
        p_schema = (
            0.12
            + (0.4 if feature in STRUCTURED_FEATURES else 0.0)
            + (0.15 if sample.structured else 0.0)
        )
        p_compliance = {"low": 0.02, "medium": 0.12, "high": 0.4}[sample.risk]
        x = rng.random() * max(1.0, p_schema + p_compliance + 0.25)
        if x < p_schema:
            return "schema"
        if x < p_schema + p_compliance:
            return "compliance"
        return "silent"

    def play(
        self, rng: random.Random, sample: TextSample, feature: str, ok: dict[str, bool]
    ) -> Trace:
        tier, reason, propensity = self.first_tier(rng, sample.text, feature)
        trace = Trace(tier, reason, propensity)
        in_tokens = len(sample.text) // 4 + PROMPT_TOKENS.get(feature, 300) + int(rng.random() * 40)
        modes: dict[str, str] = {}
        errors = schema_fails = 0
        while len(trace.attempts) < 8:
            if rng.random() < self.transient_rate:
                errors += 1
                trace.attempts.append(
                    self._attempt(rng, tier, sample, in_tokens, "error", pick(rng, ERRORS))
                )
                if errors < 2:
                    continue
                if not self._escalate(trace, tier, "error_x2"):
                    trace.served_visible_failure = True
                    return trace
                tier, errors, schema_fails = _up(tier), 0, 0
                continue
            if ok[tier]:
                trace.attempts.append(self._attempt(rng, tier, sample, in_tokens, "ok"))
                trace.served_ok = True
                return trace
            mode = modes.get(tier) or modes.setdefault(
                tier, self.failure_mode(rng, sample, feature)
            )
            if mode == "schema" and schema_fails == 1 and rng.random() < self.retry_silent_rate:
                mode = "silent"
            trace.attempts.append(self._attempt(rng, tier, sample, in_tokens, mode))
            if mode == "silent":
                return trace
            if mode == "compliance":
                trace.risk_mark = True
                if tier == "full" or not self._escalate(trace, tier, "compliance_fail", to="full"):
                    trace.served_visible_failure = True
                    return trace
                tier, errors, schema_fails = "full", 0, 0
                continue
            schema_fails += 1
            if schema_fails < 2:
                continue
            if not self._escalate(trace, tier, "schema_fail_x2"):
                trace.served_visible_failure = True
                return trace
            tier, errors, schema_fails = _up(tier), 0, 0
        trace.served_visible_failure = True
        return trace

    @staticmethod
    def _escalate(trace: Trace, tier: str, cause: str, to: str | None = None) -> bool:
        target = to or NEXT_TIER[tier]
        if target is None:
            return False
        trace.escalations.append({"from": tier, "to": target, "cause": cause})
        return True

    def _attempt(
        self,
        rng: random.Random,
        tier: str,
        sample: TextSample,
        in_tokens: int,
        outcome: str,
        error: str | None = None,
    ) -> dict:
        price = self.config.tiers[tier]
        if outcome == "error":
            out_tokens = 0
            latency = (
                30000.0
                if error == "timeout"
                else price.p50_latency_ms * (0.05 + rng.random() * 0.3)
            )
        else:
            out_tokens = self._output_tokens(rng, sample, in_tokens, tier)
            if outcome == "schema":
                out_tokens = max(1, int(out_tokens * (0.3 + 0.9 * rng.random())))
            scale = math.sqrt(0.5 + out_tokens / 400.0)
            latency = price.p50_latency_ms * scale * math.exp(rng.gauss(0.0, 0.35))
        cost = (in_tokens * price.input_per_mtok + out_tokens * price.output_per_mtok) / 1e6
        return {
            "tier": tier,
            "model": price.model,
            "schema_ok": outcome not in ("schema", "error"),
            "compliance_ok": outcome != "compliance",
            "latency_ms": round(latency, 1),
            "input_tokens": in_tokens,
            "output_tokens": out_tokens,
            "cost_usd": round(cost, 8),
            "error": error,
        }

    @staticmethod
    def _output_tokens(rng: random.Random, sample: TextSample, in_tokens: int, tier: str) -> int:
        text_tokens = len(sample.text) // 4
        if sample.intent == "summarize":
            median = min(60 + 0.08 * text_tokens, 600)
        elif sample.intent == "transform":
            median = min(20 + 0.9 * text_tokens, 4000)
        else:
            median = OUTPUT_MEDIAN[sample.intent]
        return max(1, int(median * TIER_OUTPUT[tier] * math.exp(rng.gauss(0.0, 0.4))))
