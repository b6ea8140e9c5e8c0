"""The label sets every part of tierwise agrees on (DESIGN section 3).

Bumping TAXONOMY_VERSION is how a bundle, a log record and a response say which label set
they speak; a bundle built for another taxonomy is refused at load time.
"""

from __future__ import annotations

from typing import Final, Literal

TAXONOMY_VERSION: Final = "1"

INTENTS: Final = (
    "summarize",
    "transform",
    "classify",
    "plan",
    "generate_code",
    "review_policy",
    "chat",
)
RISKS: Final = ("low", "medium", "high")
TIERS: Final = ("nano", "mini", "full")

Intent = Literal[
    "summarize", "transform", "classify", "plan", "generate_code", "review_policy", "chat"
]
Risk = Literal["low", "medium", "high"]
Tier = Literal["nano", "mini", "full"]

TIER_RANK: Final = {tier: rank for rank, tier in enumerate(TIERS)}
RISK_RANK: Final = {risk: rank for rank, risk in enumerate(RISKS)}
