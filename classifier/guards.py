"""Guardrails that raise the risk floor the same way for every tier and every policy.

Detectors: personal data (email, phone, payment card with Luhn, IBAN with mod-97, US SSN, UK
National Insurance number), forbidden personalised advice (investment, tax, medication dosage,
legal strategy) and regulated language (guaranteed returns, risk-free, medical claims, credit
decisions). Each hit is named `category.detector` (e.g. `pii.card`) so that the decision's reason
says exactly what fired; `GuardResult.flags` gives the log schema's categories.

Cost matters because `scan` runs on every request: every pattern is compiled at import, and cheap
pre-checks (is there an `@`? a run of digits? any lexicon anchor word?) skip whole detector
groups, so a clean text costs little (numbers in docs/decisions.md). The whole text is scanned,
not the classifier's window: personal data in the tail of a long document still counts.

Example:
    scan("My card is 4111 1111 1111 1111").detectors  # ("pii.card",)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from classifier.guard_lexicons import LEXICONS
from classifier.taxonomy import RISK_RANK, Risk
from classifier.words import words_of

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


# --- checksums -------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """The Luhn check every payment card number passes (and 90% of random numbers fail)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check: move the first four characters to the end, letters to 10..35."""
    iban = iban.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34 or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


# --- personal data ---------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# International: + or 00, country code, groups of digits; 8-15 digits in all (E.164).
_PHONE_INTL = re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,5}\)?){2,6}(?![\w])")
# US: (NXX) NXX-XXXX with separators; a bare 10-digit run is an order or account number.
_PHONE_US = re.compile(
    r"(?<![\w#+\-])(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\)[ .\-]?|[2-9]\d{2}[ .\-])"
    r"[2-9]\d{2}[ .\-]\d{4}(?![\w\-])"
)
_CARD = re.compile(r"(?<![\d\-])\d(?:[ \-]?\d){12,18}(?![\d\-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"(?<![\d\-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d\-])")
_SSN_CUED = re.compile(
    r"\b(?:ssn|social security(?: number| no\.?)?)\W{0,3}(\d{9})\b", re.IGNORECASE
)
_NINO = re.compile(
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
    re.IGNORECASE,
)
# Pre-check: every number-shaped detector needs 6+ characters of digits and separators (a NINO
# has six digits, "12 34 56"); a text without such a run skips them all.
_DIGIT_RUN = re.compile(r"\d[\d \-().]{4,}\d")


def _digit_count(text: str) -> int:
    return sum(char.isdigit() for char in text)


def _has_email(text: str) -> bool:
    return "@" in text and _EMAIL.search(text) is not None


def _has_phone(text: str) -> bool:
    for match in _PHONE_INTL.finditer(text):
        if 8 <= _digit_count(match.group()) <= 15:
            return True
    return _PHONE_US.search(text) is not None


def _has_card(text: str) -> bool:
    for match in _CARD.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        # Issuer prefixes 2-6 (Mastercard 2-series, Amex, Visa, Mastercard, Discover/UnionPay).
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
            return True
    return False


def _has_iban(text: str) -> bool:
    return any(iban_ok(match.group()) for match in _IBAN.finditer(text))


def _has_national_id_us(text: str) -> bool:
    return _SSN.search(text) is not None or _SSN_CUED.search(text) is not None


def _has_national_id_uk(text: str) -> bool:
    return _NINO.search(text) is not None


# (name, detector); the order is the order names appear in a result.
_PII_DETECTORS: Final[tuple[tuple[str, Callable[[str], bool]], ...]] = (
    ("pii.email", _has_email),
    ("pii.phone", _has_phone),
    ("pii.card", _has_card),
    ("pii.iban", _has_iban),
    ("pii.ssn", _has_national_id_us),
    ("pii.uk_nino", _has_national_id_uk),
)

# --- lexicons --------------------------------------------------------------------------------


def _alternation(patterns: tuple[str, ...]) -> str:
    return "|".join(f"(?:{pattern})" for pattern in patterns)


# Patterns run on the lower-cased text (IGNORECASE is several times slower in `re`).
_LEXICON_DETECTORS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(_alternation(patterns))) for name, _, patterns in LEXICONS
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


def scan(text: str) -> GuardResult:
    """Run every guard over `text`; returns CLEAN (a shared constant) when nothing fired."""
    found: list[str] = []
    if "@" in text and _has_email(text):
        found.append("pii.email")
    # `in` is a C-speed scan; most texts without digits skip every number-shaped detector.
    if any(digit in text for digit in _DIGITS) and _DIGIT_RUN.search(text) is not None:
        for name, detector in _PII_DETECTORS[1:]:
            if detector(text):
                found.append(name)
    lowered = text.lower()
    candidates = _lexicon_candidates(lowered)
    if candidates:
        for position, (name, pattern) in enumerate(_LEXICON_DETECTORS):
            if position in candidates and pattern.search(lowered) is not None:
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
    return tuple(name for name, _ in _PII_DETECTORS) + tuple(name for name, _, _ in LEXICONS)
