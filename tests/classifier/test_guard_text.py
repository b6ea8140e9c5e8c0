"""The guards' window: capped, invisible characters dropped, digits and dashes folded, NFKC."""

from __future__ import annotations

from classifier.guard_text import cap, fold_table, guard_text


def test_invisible_characters_are_removed() -> None:
    text = "ja\u200bne\u200c@\u200dexa\u2060mple\ufeff.com\u00ad \u202eevil\u202c"
    assert guard_text(text) == "jane@example.com evil"


def test_every_decimal_digit_becomes_ascii() -> None:
    assert guard_text("٠١٢٣٤٥٦٧٨٩ ۴۵ ४२ ０９ 𝟕") == "0123456789 45 42 09 7"


def test_dashes_and_spaces_are_folded() -> None:
    assert guard_text("4111\u20131111\u20141111\u22121111\u00a0x\u2009y") == (
        "4111-1111-1111-1111 x y"
    )


def test_ascii_text_is_returned_unchanged() -> None:
    text = "Plain ASCII, with digits 123 and @ signs."
    assert guard_text(text) is text


def test_cap_keeps_three_quarters_head_and_the_tail() -> None:
    text = "h" * 1000 + "m" * 1000 + "t" * 1000
    capped = cap(text, 400)
    assert len(capped) == 400
    assert capped.startswith("h" * 300) and capped.endswith("t" * 99)
    assert cap("short", 400) == "short"


def test_the_skipped_ranges_hold_nothing_to_fold() -> None:
    """The table skips CJK, Hangul, private use and empty planes to build fast; a scan of every
    code point (with this Python's Unicode data) must give the same table."""
    assert fold_table() == fold_table(full=True)
