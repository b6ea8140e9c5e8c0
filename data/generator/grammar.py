"""A tiny phrase grammar: `[a|b|]` picks one alternative (empty = optional), `{slot}` fills in.

Frames written this way multiply: "[give me|write] a [short |quick |]summary of {doc}" is six
phrasings before any slot is filled, which is how a few hundred lines of vocabulary become
thousands of distinct texts. Templates are parsed once and cached.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

Part = str | tuple  # str literal, ("slot", name) or ("alt", (parts, parts, ...))
SlotValue = str | Callable[[random.Random], str]


def _parse(text: str, pos: int, stop: str) -> tuple[list[Part], int]:
    parts: list[Part] = []
    buf: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch in stop:
            break
        if ch == "[":
            if buf:
                parts.append("".join(buf))
                buf = []
            alts = []
            pos += 1
            while True:
                alt, pos = _parse(text, pos, "|]")
                alts.append(tuple(alt))
                if pos >= len(text):
                    raise ValueError(f"unclosed '[' in template {text!r}")
                if text[pos] == "]":
                    pos += 1
                    break
                pos += 1
            parts.append(("alt", tuple(alts)))
            continue
        if ch == "{":
            end = text.index("}", pos)
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(("slot", text[pos + 1 : end]))
            pos = end + 1
            continue
        buf.append(ch)
        pos += 1
    if buf:
        parts.append("".join(buf))
    return parts, pos


@lru_cache(maxsize=8192)
def parse(template: str) -> tuple[Part, ...]:
    parts, pos = _parse(template, 0, "")
    if pos != len(template):
        raise ValueError(f"unbalanced brackets in template {template!r}")
    return tuple(parts)


def _render(
    parts: tuple[Part, ...],
    rng: random.Random,
    slots: Mapping[str, SlotValue],
    memo: dict[str, str],
    out: list[str],
) -> None:
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part[0] == "alt":
            alts = part[1]
            _render(alts[int(rng.random() * len(alts))], rng, slots, memo, out)
        else:
            name = part[1]
            value = memo.get(name)
            if value is None:
                filler = slots.get(name)
                if filler is None:
                    raise KeyError(f"template slot {{{name}}} has no filler")
                value = filler if isinstance(filler, str) else filler(rng)
                memo[name] = value
            out.append(value)


def render(
    template: str,
    rng: random.Random,
    slots: Mapping[str, SlotValue],
    memo: dict[str, str] | None = None,
) -> str:
    """Expand `template`; a slot used twice gets the same value (memo is per text)."""
    out: list[str] = []
    _render(parse(template), rng, slots, {} if memo is None else memo, out)
    return "".join(out)


def pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


def weighted(rng: random.Random, items: Sequence[Any], cum_weights: Sequence[float]) -> Any:
    """Pick from `items` with precomputed cumulative weights (cheaper than rng.choices)."""
    x = rng.random() * cum_weights[-1]
    lo, hi = 0, len(cum_weights) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum_weights[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return items[lo]


def cumulative(weights) -> tuple[float, ...]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return tuple(out)


def ri(rng: random.Random, lo: int, hi: int) -> int:
    """rng.randint without its argument checks (a third of the cost on the hot path)."""
    return lo + int(rng.random() * (hi - lo + 1))
