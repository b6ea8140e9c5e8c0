"""The replay report's vocabulary: policy order and labels, and how numbers and curve knobs are
written, shared by the markdown report, its tier section and the figure."""

from __future__ import annotations

import math
from typing import Any

ORDER = (
    "oracle",
    "perfect_reader",
    "learned",
    "knn",
    "rules",
    "random_matched",
    "prompt_length",
    "keyword",
    "always_nano",
    "always_mini",
    "always_full",
    "strongest_allowed",
)
LABEL = {
    "oracle": "oracle (cheapest viable tier)",
    "perfect_reader": "perfect reader (best possible tier head)",
    "learned": "learned (bundle + decision)",
    "knn": "kNN router (same embeddings)",
    "rules": "rules (today's router)",
    "random_matched": "random at learned's cost",
    "prompt_length": "prompt length at learned's cost",
    "keyword": "keyword router at learned's cost",
    "always_nano": "always nano",
    "always_mini": "always mini",
    "always_full": "always full",
    "strongest_allowed": "strongest tier each contract allows",
}
FEATURE_POLICIES = ("rules", "learned", "knn", "oracle", "always_full")


def number(value: Any, fmt: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, fmt)


def interval(s: dict[str, Any], key: str, fmt: str) -> str:
    interval = s.get("ci", {}).get(key)
    return "" if not interval else f" [{number(interval[0], fmt)}, {number(interval[1], fmt)}]"


def knob(point: dict[str, Any]) -> str:
    if "quality_bar" in point:
        return f"{point['quality_bar']:.2f}"
    if "failure_usd" in point:
        return f"{point['failure_usd']:.4g}"
    if "lo_keywords" in point:
        return f"{point['lo_keywords']:.0f} / {point['hi_keywords']:.0f}"
    return f"{point['lo_chars']:,.0f} / {point['hi_chars']:,.0f}"


KNOB = {
    "quality_bar": "bar",
    "failure_usd": "failure price (USD, every feature)",
    "lo_keywords": "nano below / full from (keywords)",
    "lo_chars": "nano below / full from (chars)",
}


def knob_name(curve: list[dict[str, Any]]) -> str:
    return next((v for k, v in KNOB.items() if curve and k in curve[0]), "knob")


def policies(result: Any) -> list[str]:
    return [p for p in ORDER if p in result.scores]
