"""Latent difficulty and the true per-tier outcome.

Difficulty is correlated with, not fixed by, what a classifier can see (intent, domain, length,
register, language, hard phrasing, risk), plus noise it cannot see. Each tier succeeds below its
own threshold, so truth is monotone by construction: nano ok => mini ok => full ok.
"""

from __future__ import annotations

import math
import random

from data.generator.texts import TextSample

INTENT_BASE = {
    "classify": 0.22,
    "transform": 0.27,
    "summarize": 0.31,
    "chat": 0.31,
    "generate_code": 0.41,
    "plan": 0.45,
    "review_policy": 0.46,
}
DOMAIN_ADJ = {
    "legal": 0.08,
    "health": 0.07,
    "finance": 0.06,
    "insurance": 0.05,
    "code": 0.04,
    "data": 0.03,
    "hr": 0.02,
    "ops": 0.02,
    "support": -0.03,
    "marketing": -0.02,
    "education": -0.02,
    "travel": -0.03,
    "ecommerce": -0.03,
    "general": -0.04,
}
REGISTER_ADJ = {
    "terse": 0.03,
    "chat": 0.02,
    "rambling": 0.04,
    "polite": -0.01,
    "imperative": -0.01,
    "question": 0.0,
}
RISK_ADJ = {"low": 0.0, "medium": 0.02, "high": 0.06}
THRESHOLDS = {"nano": 0.34, "mini": 0.55, "full": 0.75}
NOISE_SD = 0.11


def difficulty(sample: TextSample, rng: random.Random, noise_sd: float = NOISE_SD) -> float:
    d = (
        INTENT_BASE[sample.intent]
        + DOMAIN_ADJ.get(sample.domain, 0.0)
        + REGISTER_ADJ.get(sample.register, 0.0)
        + RISK_ADJ[sample.risk]
        + 0.07 * math.log10(max(sample.words, 5) / 40.0)
        + (0.05 if sample.hard else 0.0)
        + sample.family_difficulty
        + (0.06 if sample.language != "en" else 0.0)
        + (0.02 if sample.structured else 0.0)
        + rng.gauss(0.0, noise_sd)
    )
    return round(d, 4)


def tier_ok(d: float, thresholds: dict[str, float] = THRESHOLDS) -> dict[str, bool]:
    return {tier: d < limit for tier, limit in thresholds.items()}
