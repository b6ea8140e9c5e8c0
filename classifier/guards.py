"""Guardrails that raise the risk floor the same way for every tier and every policy.

Detectors: personal data (email, phone, payment card with Luhn, IBAN with the registry's structure
and mod-97, US SSN, UK National Insurance number), forbidden personalised advice (investment, tax,
medication dosage, legal strategy) and regulated language (guaranteed returns, risk-free, medical
claims, credit decisions). Each hit is named `category.detector` (e.g. `pii.card`) so that the
decision's reason says exactly what fired; `GuardResult.flags` gives the log schema's categories.

`scan` runs on every request and on untrusted text, so its cost is bounded twice: it reads a
capped, folded window of the text (`classifier.guard_text`: head and tail within 256 Ki
characters, look-alike digits, dashes and invisible characters folded), and every pattern runs
on RE2, whose time is linear in the input (`classifier.guard_pii` has the personal-data side).
Cheap pre-checks (is there an `@`? a run of digits? any lexicon anchor word?) skip whole detector
groups, so a clean text costs little (numbers in docs/decisions.md).

Example:
    scan("My card is 4111 1111 1111 1111").detectors  # ("pii.card",)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import re2

from classifier.guard_lexicons import LEXICONS
from classifier.guard_pii import (
    NUMBER_DETECTORS,
    PII_NAMES,
    Budget,
    has_email,
    has_number_run,
    iban_ok,
    luhn_ok,
)
from classifier.guard_text import MAX_CHARS, guard_text
from classifier.taxonomy import RISK_RANK, Risk
from classifier.words import words_of

__all__ = ["CLEAN", "GuardResult", "detector_names", "iban_ok", "luhn_ok", "scan"]

# What each category does to the risk floor. DESIGN section 3 files personal data, personalised
# advice and regulated decisions under `high`.
CATEGORY_FLOOR: Final[dict[str, Risk]] = {
    "pii": "high",
    "forbidden_advice": "high",
    "regulated_language": "high",
}


@dataclass(frozen=True, slots=True)
class GuardResult:
    """What the guards found in one text.

    `detectors`: detailed names in a stable order (`pii.email`, ...); `flags`: their categories
    (the log schema's `safety_flags`); `risk_floor`: the lowest risk the request may be treated
    as (`low` when nothing fired).
    """

    detectors: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    risk_floor: Risk = "low"

    @property
    def clean(self) -> bool:
        return not self.detectors

    def to_dict(self) -> dict[str, object]:
        return {
            "detectors": list(self.detectors),
            "flags": list(self.flags),
            "risk_floor": self.risk_floor,
        }


CLEAN: Final = GuardResult()


# --- lexicons --------------------------------------------------------------------------------


def _alternation(patterns: tuple[str, ...]) -> str:
    return "|".join(f"(?:{pattern})" for pattern in patterns)


# Patterns are written in lower case and run on the lower-cased text.
_LEXICON_DETECTORS: Final = tuple(
    (name, re2.compile(_alternation(patterns))) for name, _, patterns in LEXICONS
)


def _anchor_index() -> dict[str, tuple[tuple[str, int], ...]]:
    """Anchor word starts grouped by their first two letters, each with its detector's index."""
    index: dict[str, list[tuple[str, int]]] = {}
    for position, (_, anchors, _) in enumerate(LEXICONS):
        for anchor in anchors:
            index.setdefault(anchor[:2], []).append((anchor, position))
    return {key: tuple(entries) for key, entries in index.items()}


_ANCHORS: Final = _anchor_index()
_DIGITS: Final = "0123456789"


def _lexicon_candidates(lowered: str) -> set[int]:
    """Which lexicon detectors have an anchor word start in the text.

    One pass over the distinct words with a dict probe each is ~20x cheaper here than one regex
    alternation of all anchors, which `re` tries at every position of the text.
    """
    found: set[int] = set()
    for word in words_of(lowered):
        entries = _ANCHORS.get(word[:2])
        if entries is not None:
            for anchor, position in entries:
                if word.startswith(anchor):
                    found.add(position)
    return found


def scan(text: str, max_chars: int = MAX_CHARS) -> GuardResult:
    """Run every guard over `text`; returns CLEAN (a shared constant) when nothing fired.

    Reads `guard_text(text, max_chars)`: at most `max_chars` characters, head and tail.
    """
    window = guard_text(text, max_chars)
    data = window.encode("utf-8", "replace")
    found: list[str] = []
    if has_email(data, Budget()):
        found.append("pii.email")
    # `in` is a C-speed scan; most texts without digits skip every number-shaped detector.
    if any(digit in window for digit in _DIGITS) and has_number_run(data):
        for name, detector in NUMBER_DETECTORS:
            if detector(data, Budget()):
                found.append(name)
    lowered = window.lower()
    candidates = _lexicon_candidates(lowered)
    if candidates:
        lowered_data = lowered.encode("utf-8", "replace")
        for position, (name, pattern) in enumerate(_LEXICON_DETECTORS):
            if position in candidates and pattern.search(lowered_data) is not None:
                found.append(name)
    if not found:
        return CLEAN
    return _result(found)


def _result(found: list[str]) -> GuardResult:
    flags: list[str] = []
    floor: Risk = "low"
    for name in found:
        category = name.split(".", 1)[0]
        if category not in flags:
            flags.append(category)
            category_floor = CATEGORY_FLOOR[category]
            if RISK_RANK[category_floor] > RISK_RANK[floor]:
                floor = category_floor
    return GuardResult(detectors=tuple(found), flags=tuple(flags), risk_floor=floor)


def detector_names() -> tuple[str, ...]:
    """Every detector this module can report, for docs, metrics labels and tests."""
    return PII_NAMES + tuple(name for name, _, _ in LEXICONS)
