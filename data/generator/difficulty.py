"""Latent difficulty of a request and the true per-tier outcome.

Difficulty is a documented function of what can be read in the text itself (`textprops`), so it
treats template and real texts alike, plus secondary intent and risk terms and Gaussian noise
that no reader of the text can predict:

    d = BASE + sum_k WEIGHTS[k] * f_k(props) + INTENT_ADJ[intent] + RISK_ADJ[risk] + N(0, NOISE_SD)

with the transforms f_k of `features()` (log-scaled counts, saturating caps). Tier t succeeds iff
d < THRESHOLDS[t], so truth is monotone by construction: nano ok => mini ok => full ok.
docs/generator.md ("Difficulty model") has the table of success rates per property;
`python -m data.generator.difficulty_table` regenerates it.

NOISE_SD = 0.11 is as large as the whole text-readable part (sd about 0.11 over default
traffic), so that two noise draws for the same text agree on the smallest viable tier only about
half the time, on "nano ok" two times in three and on "mini ok" five times in six (measured by
`difficulty_table`). That is the size of disagreement known in real "which model size solved
it" labels: expert judges agree with each other on the better of two answers about 63 % of the
time with ties and 81 % without (MT-Bench, Zheng et al. 2023); RouteLLM-style win-rate labels
inherit that noise, and re-running the same prompt on the same model changes the verdict often.
A smaller value would let a text classifier look better than any real one can; a much larger
one would make tier labels mostly noise.
"""

from __future__ import annotations

import math
import random
from typing import Final

from data.generator.textprops import TextProps, text_props

BASE: Final = 0.278
WEIGHTS: Final[dict[str, float]] = {
    "length": 0.035,  # log10(words / 40), clipped to [-1, 2.5]
    "steps": 0.065,  # log2(1 + steps), steps capped at 8
    "numbers": 0.03,  # log2(1 + numbers) / 6, numbers capped at 63
    "arithmetic": 0.04,  # arithmetic cues, capped at 4
    "constraints": 0.03,  # log2(1 + constraints), capped at 15
    "output_length": 0.045,  # -1 (one line) .. 2 (essay, 2,000 words)
    "structure": 0.025,  # structured-output kinds, capped at 3
    "specialist": 0.025,  # distinct legal / medical / finance terms, capped at 6
    "code": 0.03,  # log2(1 + code lines), capped at 255, + 1 if fenced
    "ambiguity": 0.10,  # 0..1
    "non_english": 0.06,  # 1 if the instruction is not in English
}
INTENT_ADJ: Final[dict[str, float]] = {
    "classify": -0.04,
    "transform": -0.02,
    "summarize": -0.01,
    "chat": 0.0,
    "generate_code": 0.07,
    "plan": 0.08,
    "review_policy": 0.09,
}
RISK_ADJ: Final[dict[str, float]] = {"low": 0.0, "medium": 0.02, "high": 0.05}
THRESHOLDS: Final[dict[str, float]] = {"nano": 0.34, "mini": 0.55, "full": 0.75}
NOISE_SD: Final = 0.11


def features(props: TextProps) -> dict[str, float]:
    """The transformed properties f_k, before weighting (keys as in WEIGHTS)."""
    return {
        "length": min(2.5, max(-1.0, math.log10(max(props.words, 4) / 40.0))),
        "steps": math.log2(1 + min(props.steps, 8)),
        "numbers": math.log2(1 + min(props.numbers, 63)) / 6.0,
        "arithmetic": float(min(props.arithmetic, 4)),
        "constraints": math.log2(1 + min(props.constraints, 15)),
        "output_length": float(props.output_length),
        "structure": float(min(props.structure, 3)),
        "specialist": float(min(props.specialist, 6)),
        "code": math.log2(1 + min(props.code_lines, 255)) + (1.0 if props.code_fences else 0.0),
        "ambiguity": props.ambiguity,
        "non_english": 0.0 if props.language == "en" else 1.0,
    }


def contributions(props: TextProps) -> dict[str, float]:
    """Each property's share of the latent difficulty (WEIGHTS[k] * f_k)."""
    return {k: WEIGHTS[k] * v for k, v in features(props).items()}


def latent(props: TextProps, intent: str, risk: str) -> float:
    """The noiseless part of difficulty: what a perfect reader of the text could know."""
    return BASE + sum(contributions(props).values()) + INTENT_ADJ[intent] + RISK_ADJ[risk]


def difficulty(
    text: str, intent: str, risk: str, rng: random.Random, noise_sd: float = NOISE_SD
) -> float:
    """Latent difficulty of one request: `latent` of its text plus one Gaussian noise draw."""
    return round(latent(text_props(text), intent, risk) + rng.gauss(0.0, noise_sd), 4)


def tier_ok(d: float, thresholds: dict[str, float] = THRESHOLDS) -> dict[str, bool]:
    return {tier: d < limit for tier, limit in thresholds.items()}
