"""Scrub personal data from user-written corpora before the text is used or shown.

ShareGPT turns were written by real users: e-mail addresses, phone numbers and self-introduced
names are replaced by placeholders. Offline only (training and reports), and every quantifier is
bounded, so a hostile line costs linear time.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6}")
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}(?!\d)")
_NAME = re.compile(
    r"\b((?:[Mm]y name is|[Ii] am|I'm|[Tt]his is|[Ss]incerely,|[Rr]egards,|[Nn]ame:)\s{1,3})"
    r"([A-Z][a-z]{1,20}(?:\s[A-Z][a-z]{1,20}){0,2})"
)
_NOT_NAMES = frozenset(
    [
        "A",
        "An",
        "The",
        "I",
        "It",
        "This",
        "That",
        "Here",
        "There",
        "Not",
        "Going",
        "Trying",
        "Looking",
        "Writing",
        "Working",
        "Currently",
        "Interested",
        "Happy",
        "Sorry",
        "Sure",
        "Glad",
        "Ready",
        "Able",
        "Also",
        "Still",
        "Just",
        "Now",
        "Very",
        "So",
    ]
)


def _name(match: re.Match[str]) -> str:
    first = match.group(2).split()[0]
    return match.group(0) if first in _NOT_NAMES else match.group(1) + "[NAME]"


def scrub(text: str) -> str:
    """`text` with e-mails, phone numbers (7+ digits) and self-introduced names replaced."""
    text = _EMAIL.sub("[EMAIL]", text)
    text = _PHONE.sub(_phone, text)
    return _NAME.sub(_name, text)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone(match: re.Match[str]) -> str:
    """Seven or more digits, unless it is an ISO date."""
    found = match.group(0)
    if sum(ch.isdigit() for ch in found) < 7 or _DATE.fullmatch(found):
        return found
    return "[PHONE]"
