"""Personal-data detectors: linear-time candidates (RE2), then validation by maintained libraries.

Every pattern runs on RE2 (`google-re2`), whose match time is linear in the input: the
backtracking e-mail pattern this replaces took seconds per 16 KB on shapes like `a.a.a…@a-a-a…`.
RE2 has no look-around, so the context checks the old patterns made with it (no digit right
before a card number, no `#` before a phone number) are made on the bytes around each match.

Candidates are then validated: payment cards by issuer prefix and Luhn (`a Luhn check), IBANs by
the registry's per-country length and structure plus mod-97 (`stdnum.iban`), SSNs by the SSA's
rules (`stdnum.us.ssn`), phone numbers by their country's numbering plan (`phonenumbers`), so a
`00`-prefixed order number is not a phone number. A number that an order/invoice/ticket cue
introduces ("Order 415-555-2671", "ref: ...") is not read as a phone number either.

Looking at a candidate costs microseconds, so each detector has a budget per text (`Budget`);
a text that exhausts it (over a thousand number-shaped candidates of one kind) counts as holding
personal data: a guard fails closed. Detectors read the folded UTF-8 bytes of
`classifier.guard_text`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Final

import phonenumbers
import re2
from stdnum import iban as stdnum_iban
from stdnum import numdb
from stdnum.us import ssn as stdnum_ssn

# Per scan and detector: candidates looked at (each costs ~5-20 µs of Python and RE2 calls),
# library validations (phonenumbers, stdnum's IBAN and SSN rules: ~5-100 µs each) and cheap
# checks (Luhn, mod-97: ~2 µs). A detector that runs out of any of them fires: a guard fails
# closed, and a text with over a thousand number-shaped candidates of one kind is treated as
# holding personal data.
MAX_CANDIDATES: Final = 1024
MAX_VALIDATIONS: Final = 128
MAX_LUHN: Final = 2048


class Budget:
    """What one detector may still spend on one text; `False` from a method means "give up"."""

    __slots__ = ("candidates", "validations", "luhn")

    def __init__(self) -> None:
        self.candidates = MAX_CANDIDATES
        self.validations = MAX_VALIDATIONS
        self.luhn = MAX_LUHN

    def candidate(self) -> bool:
        self.candidates -= 1
        return self.candidates >= 0

    def validation(self) -> bool:
        self.validations -= 1
        return self.validations >= 0

    def luhn_check(self) -> bool:
        """Take one cheap check (Luhn, mod-97)."""
        self.luhn -= 1
        return self.luhn >= 0


def _compile(pattern: str) -> re2._Regexp:
    return re2.compile(pattern)


def _is_word(byte: int) -> bool:
    return byte == 0x5F or 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _before(data: bytes, start: int) -> int:
    return data[start - 1] if start > 0 else 0x20


def _after(data: bytes, end: int) -> int:
    return data[end] if end < len(data) else 0x20


_DIGIT: Final = frozenset(b"0123456789")
_NOT_DIGITS: Final = bytes(c for c in range(256) if c not in b"0123456789")

# --- e-mail ----------------------------------------------------------------------------------

_EMAIL: Final = _compile(r"[\pL\pN._%+\-]+@[\pL\pN\-]+(?:\.[\pL\pN\-]+)*\.\pL{2,}")


def has_email(data: bytes, budget: Budget) -> bool:
    return b"@" in data and _EMAIL.search(data) is not None


# --- phone -----------------------------------------------------------------------------------

# International: + or 00, a country code, groups of digits (E.164: 8-15 digits).
_PHONE_INTL: Final = _compile(r"(?:\+|00)[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,5}\)?){2,6}")
# US: (NXX) NXX-XXXX with separators; a bare 10-digit run is an order or account number.
_PHONE_US: Final = _compile(
    r"(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\)[ .\-]?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}"
)
# A number right after one of these words is an identifier, not a phone number. Runs with
# Python's `re` on at most _CUE_CHARS characters, written without adjacent overlapping
# repetitions, so its cost per candidate is small and bounded.
_CUE_CHARS: Final = 40
_NUMBER_CUE: Final = re.compile(
    r"\b(?:order|orders|invoice|inv|tracking|track|ref|reference|ticket|case|account|acct|po"
    r"|sku|serial|item|part|confirmation|booking|receipt|transaction|txn|shipment|parcel|id)"
    r"[\s.:#]*(?:(?:number|num|no|nr|id|code)[\s.:#]*)?$"
)


def _cued_identifier(data: bytes, start: int) -> bool:
    before = data[max(0, start - _CUE_CHARS) : start].decode("utf-8", "ignore").lower()
    return _NUMBER_CUE.search(before) is not None


def _valid_phone(number: str, region: str | None, budget: Budget) -> bool:
    if not budget.validation():
        return True
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(number, region)))
    except phonenumbers.NumberParseException:
        return False


def has_phone(data: bytes, budget: Budget) -> bool:
    for match in _PHONE_INTL.finditer(data):
        if not budget.candidate():
            return True
        start, end = match.span()
        before = _before(data, start)
        if _is_word(before) or before == 0x2B or _is_word(_after(data, end)):
            continue
        raw = match.group()
        digits = raw[1 if raw[0] == 0x2B else 2 :].translate(None, _NOT_DIGITS).decode()
        if (
            8 <= len(digits) <= 15
            and not _cued_identifier(data, start)
            and _valid_phone("+" + digits, None, budget)
        ):
            return True
    for match in _PHONE_US.finditer(data):
        if not budget.candidate():
            return True
        start, end = match.span()
        before, after = _before(data, start), _after(data, end)
        if _is_word(before) or before in b"#+-" or _is_word(after) or after == 0x2D:
            continue
        if not _cued_identifier(data, start) and _valid_phone(match.group().decode(), "US", budget):
            return True
    return False


# --- payment card ----------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """The Luhn check every card number passes (90% of random numbers fail).

    Hand-written rather than `stdnum.luhn.is_valid` because a scan may check thousands of
    windows and this is ~5x faster; tests check both agree.
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# Maximal runs of 13+ digits with single separators; windows of whole groups are checked below.
_DIGIT_GROUPS: Final = _compile(r"(?:\d[ .\-]?){12,}\d")
_GROUP_SPLIT: Final = re.compile(r"([ .\-])")
# Issuer prefixes 2-6 (Mastercard 2-series, Amex, Visa, Mastercard, Discover/UnionPay).
_ISSUER_DIGITS: Final = "23456"


def _card_windows(run: str) -> Iterator[str]:
    """Digit strings of 13-19 digits made of whole consecutive groups of `run`.

    Space and hyphen may mix (as printed on receipts); a window that uses dots uses only dots,
    so a list of decimals ("1.5 2.5 3.5 …") does not read as one number.
    """
    parts = _GROUP_SPLIT.split(run)
    groups, seps = parts[0::2], parts[1::2]
    for first in range(len(groups)):
        if groups[first][0] not in _ISSUER_DIGITS:
            continue
        digits, dotted, spaced = "", False, False
        for index in range(first, len(groups)):
            if index > first:
                sep = seps[index - 1]
                dotted |= sep == "."
                spaced |= sep != "."
                if dotted and spaced:
                    break
            digits += groups[index]
            if len(digits) > 19:
                break
            if len(digits) >= 13:
                yield digits


def has_card(data: bytes, budget: Budget) -> bool:
    for match in _DIGIT_GROUPS.finditer(data):
        if not budget.candidate():
            return True
        start, end = match.span()
        if end - start < 13 or _before(data, start) == 0x2D or _after(data, end) == 0x2D:
            continue
        for digits in _card_windows(match.group().decode()):
            if not budget.luhn_check() or luhn_ok(digits):
                return True
    return False


# --- IBAN ------------------------------------------------------------------------------------

# Alphanumeric tokens with single separators; an IBAN starts at a token like `GB82`/`de89`.
_IBAN_TOKENS: Final = _compile(r"(?i)\b[a-z]{2}\d{2}[a-z0-9]*(?:[ .\-][a-z0-9]+)*")
_IBAN_START: Final = re.compile(r"[a-z]{2}\d{2}")
_ALNUM: Final = re.compile(r"[a-z0-9]+")
_IBAN_DB: Final = numdb.get("iban")
_STRUCTURE_LENGTH: Final = re.compile(r"(\d+)!")


@cache
def iban_length(country: str) -> int | None:
    """The registry's IBAN length for a country code (None: no IBAN country)."""
    info = _IBAN_DB.info(country.upper())
    structure = info[0][1].get("bban") if info and len(info[0][0]) == 2 else None
    if not structure:
        return None
    return 4 + sum(int(n) for n in _STRUCTURE_LENGTH.findall(structure))


_BASE36: Final = {ord(c): str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def _mod97_ok(compact: str) -> bool:
    """ISO 7064 mod 97-10, the check every IBAN passes (~3 µs; stdnum's full check ~100 µs)."""
    digits = (compact[4:] + compact[:4]).translate(_BASE36)
    return digits.isdigit() and int(digits) % 97 == 1


def iban_ok(text: str) -> bool:
    """A whole IBAN (any case, spaces allowed) that passes the registry structure and mod-97."""
    compact = text.replace(" ", "").upper()
    return _mod97_ok(compact) and bool(stdnum_iban.is_valid(compact))


def has_iban(data: bytes, budget: Budget) -> bool:
    for match in _IBAN_TOKENS.finditer(data):
        if not budget.candidate():
            return True
        # Tokens are read lazily: every IBAN start still short of its length is extended by the
        # next token, and checked once it is long enough.
        pending: list[tuple[str, int]] = []
        for token_match in _ALNUM.finditer(match.group().decode().lower()):
            token = token_match.group()
            if _IBAN_START.match(token) is not None:
                length = iban_length(token[:2])
                if length is not None:
                    pending.append(("", length))
            extended = []
            for compact, length in pending:
                compact += token
                if len(compact) < length:
                    extended.append((compact, length))
                elif not budget.luhn_check() or (
                    _mod97_ok(compact[:length].upper())
                    and (not budget.validation() or iban_ok(compact[:length]))
                ):
                    return True
            pending = extended
    return False


# --- national identifiers --------------------------------------------------------------------

_SSN: Final = _compile(r"\d{3}-\d{2}-\d{4}")
_SSN_CUED: Final = _compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\W{0,3}(\d{3}[ \-]?\d{2}[ \-]?\d{4})\b"
)
_NINO: Final = _compile(r"(?i)\b[a-ceghj-pr-tw-z][a-ceghj-npr-tw-z] ?\d{2} ?\d{2} ?\d{2} ?[a-d]\b")
_NINO_NEVER: Final = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def has_ssn(data: bytes, budget: Budget) -> bool:
    for match in _SSN.finditer(data):
        if not budget.candidate():
            return True
        start, end = match.span()
        if _before(data, start) in _DIGIT or _before(data, start) == 0x2D:
            continue
        if _after(data, end) in _DIGIT or _after(data, end) == 0x2D:
            continue
        if not budget.validation() or stdnum_ssn.is_valid(match.group().decode()):
            return True
    for match in _SSN_CUED.finditer(data):
        if not budget.candidate():
            return True
        digits = match.group(1).decode().replace(" ", "").replace("-", "")
        if not budget.validation() or stdnum_ssn.is_valid(digits):
            return True
    return False


def has_uk_nino(data: bytes, budget: Budget) -> bool:
    for match in _NINO.finditer(data):
        if not budget.candidate() or match.group()[:2].decode().upper() not in _NINO_NEVER:
            return True
    return False


# Detectors that need a run of digits; the e-mail detector needs only an `@`.
_NUMBER_RUN: Final = _compile(r"\d[\d \-().]{4,}\d")


def has_number_run(data: bytes) -> bool:
    return _NUMBER_RUN.search(data) is not None


# (name, detector); the order is the order names appear in a result.
NUMBER_DETECTORS: Final[tuple[tuple[str, Callable[[bytes, Budget], bool]], ...]] = (
    ("pii.phone", has_phone),
    ("pii.card", has_card),
    ("pii.iban", has_iban),
    ("pii.ssn", has_ssn),
    ("pii.uk_nino", has_uk_nino),
)
PII_NAMES: Final = ("pii.email", *(name for name, _ in NUMBER_DETECTORS))
