"""The word-cache fast path gives the Rust tokenizer's ids, and the text window is bounded."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from classifier.textwindow import TextWindow
from classifier.tokenizer import TextEncoder

pytestmark = pytest.mark.slow

_WORDS = [
    "Hello",
    "world",
    "Summarize",
    "don't",
    "e-mail",
    "x_y",
    "C++",
    "naïve",
    "[UNK]",
    "[pad]",
    "re-write",
    "http://a.b/c?d=e",
    "1,000.5",
    "αβγ",
    "日本語",
    "CamelCase",
    "ALLCAPS",
    "a" * 120,
    "tab\there",
    "new\nline",
    "emoji🙂",
    "zero\u200bwidth",
]


def _texts(n: int = 3000) -> list[str]:
    rng = random.Random(3)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append("".join(rng.choice(string.printable) for _ in range(rng.randint(0, 200))))
        else:
            out.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 30))))
    return out


def test_word_cache_gives_identical_ids(tiny_bundle: Path) -> None:
    unbounded = TextWindow(head_chars=10**7, tail_chars=0, max_tokens=10**7)
    fast = TextEncoder.from_file(tiny_bundle / "tokenizer.json", unbounded)
    assert fast.word_cache
    for text in _texts():
        assert list(fast.encode(text)[0]) == fast.rust_ids(text), repr(text)
    assert fast._cache  # the fast path was actually taken


def test_window_keeps_head_and_tail() -> None:
    window = TextWindow(head_chars=50, tail_chars=30, max_tokens=10)
    text = "START " + "middle " * 100 + "END"
    cut, truncated = window.cut(text)
    assert truncated and cut.startswith("START") and cut.endswith("END")
    assert len(cut) <= 50 + 30 + 1
    assert window.cut("short") == ("short", False)
    ids, capped = window.cap(list(range(25)))
    assert capped and len(ids) == 10 and ids[0] == 0 and ids[-1] == 24
    with pytest.raises(ValueError):
        TextWindow(head_chars=0)


def test_word_cache_stays_within_its_byte_budget_and_keeps_new_words(tiny_bundle: Path) -> None:
    budget = 64 * 1024
    encoder = TextEncoder.from_file(tiny_bundle / "tokenizer.json", TextWindow(), word_cache=True)
    encoder._cache = type(encoder._cache)(budget)
    for start in range(0, 40_000, 100):
        encoder.encode(" ".join(f"w{n}x" for n in range(start, start + 100)))
        assert encoder._cache.nbytes <= budget
    # It evicts rather than freezing when full: a word seen last is cached, an early one is not.
    text = "zebra quokka"
    assert list(encoder.encode(text)[0]) == encoder.rust_ids(text)
    assert "quokka" in encoder._cache and "w0x" not in encoder._cache


def test_frequent_words_survive_turnover() -> None:
    from classifier.wordcache import WordCache

    cache = WordCache(4096)
    for n in range(2000):
        if cache.get("the") is None:
            cache.put("the", [1996])
        cache.put(f"rare{n}", [n + 1000])
        assert cache.nbytes <= 4096
    assert "the" in cache and "rare0" not in cache
