"""The text the guards read: capped in length and folded so that look-alike characters cannot hide.

Evasions this closes: full-width or Arabic-Indic digits in a card or phone number, zero-width and
other invisible format characters inside an e-mail address or a number, Unicode dashes between
digit groups, compatibility forms such as `＠` or ligatures. Steps, in order:

1. cap: a text over `max_chars` keeps its head and tail (three quarters / one quarter), so the
   work per request is bounded whatever the caller sends; the default equals the service's
   default body limit, so a request the service accepts is scanned whole;
2. one `str.translate`: format characters (Unicode category Cf: U+200B..U+200F, U+2060, U+FEFF,
   soft hyphen, bidi controls, tags) removed, every decimal digit (category Nd) to its ASCII
   digit, every dash (category Pd, and U+2212 minus) to `-`;
3. NFKC (full-width forms, compatibility characters, non-breaking spaces to plain ones).

ASCII text skips steps 2 and 3 (it is already in its folded form).
"""

from __future__ import annotations

import sys
import unicodedata
from functools import cache
from typing import Final

# Code points with no Nd, Cf or Pd character in Unicode 15/16 (checked against a full scan by
# tests/classifier/test_guard_text.py), skipped when the table is built: CJK and Hangul blocks,
# surrogates, private use, planes 2-13 and 15-16. Keeps building the table to ~40 ms.
_SKIP: Final = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xD800, 0xF8FF),
    (0x20000, 0xDFFFF),
    (0xE1000, 0x10FFFF),
)
MAX_CHARS: Final = 262_144
_HEAD_SHARE: Final = 0.75
_MINUS_SIGN: Final = 0x2212


def _fold(code: int) -> str | None | int:
    """What one code point becomes: None (dropped), an ASCII digit or dash, or itself."""
    char = chr(code)
    category = unicodedata.category(char)
    if category == "Cf":
        return None
    if category == "Nd" and code > 0x7F:
        return str(unicodedata.decimal(char))
    if (category == "Pd" and code != 0x2D) or code == _MINUS_SIGN:
        return "-"
    return code


def fold_table(*, full: bool = False) -> dict[int, str | None]:
    """The translate table of step 2; `full=True` scans every code point (for the test)."""
    table: dict[int, str | None] = {}
    code = 0x80
    skips = () if full else _SKIP
    ranges = iter(skips)
    next_skip = next(ranges, None)
    while code <= sys.maxunicode:
        if next_skip is not None and code == next_skip[0]:
            code = next_skip[1] + 1
            next_skip = next(ranges, None)
            continue
        folded = _fold(code)
        if folded != code:
            table[code] = folded  # type: ignore[assignment]
        code += 1
    return table


@cache
def _table() -> dict[int, str | None]:
    return fold_table()


def cap(text: str, max_chars: int = MAX_CHARS) -> str:
    """Head and tail of `text` within `max_chars` characters, joined by a newline."""
    if len(text) <= max_chars:
        return text
    head = int(max_chars * _HEAD_SHARE)
    tail = max_chars - head - 1
    return text[:head] + "\n" + text[len(text) - tail :]


def guard_text(text: str, max_chars: int = MAX_CHARS) -> str:
    """The capped, folded text every guard reads (see the module docstring)."""
    text = cap(text, max_chars)
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text.translate(_table()))


def warm() -> None:
    """Build the fold table now (start-up) instead of on the first non-ASCII request."""
    _table()
