"""A word -> token ids cache bounded in bytes, at the cost of a plain dict lookup per word.

The tokenizer looks up every word of every request here, so a general LRU (`cachetools`: ~0.5 µs
per hit in Python, ~15 µs per 40-token request here) costs more than it saves. Two generations of
plain dicts do the same job: new words go into the young one; when it reaches half the budget it
becomes the old one and the previous old one is dropped; a hit in the old one moves the word back
into the young one. Frequent words survive every turnover, rare ones age out, and the whole
cache never holds more than `max_bytes` (as counted by `entry_bytes`).
"""

from __future__ import annotations

import sys
from typing import Final

# Per entry beyond key and value: a dict slot (hash, key and value pointers) at 2/3 load, plus
# its index. With every id counted as its own int object, `entry_bytes` is an upper bound: ~1.6x
# what tracemalloc measured for 50,000 words of 1-4 ids.
_SLOT_BYTES: Final = 64
# Ids above 256 are separate int objects of 28 bytes each (small ints are shared).
_INT_BYTES: Final = 28


def entry_bytes(word: str, ids: list[int]) -> int:
    """Memory held by one entry: the key, the list, its int objects and the dict slot."""
    return sys.getsizeof(word) + sys.getsizeof(ids) + _INT_BYTES * len(ids) + _SLOT_BYTES


class WordCache:
    """Two-generation word cache within `max_bytes`; words over `max_word_chars` are not kept."""

    def __init__(self, max_bytes: int = 16 << 20, max_word_chars: int = 48) -> None:
        if max_bytes < 1024:
            raise ValueError(f"word cache needs at least 1024 bytes, got {max_bytes}")
        self.max_bytes = max_bytes
        self.max_word_chars = max_word_chars
        self._half = max_bytes // 2
        self._young: dict[str, list[int]] = {}
        self._old: dict[str, list[int]] = {}
        self._young_bytes = 0
        self._old_bytes = 0

    def get(self, word: str) -> list[int] | None:
        ids = self._young.get(word)
        if ids is None:
            ids = self._old.get(word)
            if ids is not None:
                self._add(word, ids)
        return ids

    def put(self, word: str, ids: list[int]) -> None:
        if len(word) <= self.max_word_chars:
            self._add(word, ids)

    def _add(self, word: str, ids: list[int]) -> None:
        size = entry_bytes(word, ids)
        if self._young_bytes + size > self._half:
            self._old, self._old_bytes = self._young, self._young_bytes
            self._young, self._young_bytes = {}, 0
        self._young[word] = ids
        self._young_bytes += size

    @property
    def young(self) -> dict[str, list[int]]:
        """The young generation, for callers that read it directly on a hot path (read only)."""
        return self._young

    @property
    def nbytes(self) -> int:
        """Bytes held, as counted by `entry_bytes` (an entry in both generations counts twice)."""
        return self._young_bytes + self._old_bytes

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def __contains__(self, word: str) -> bool:
        return word in self._young or word in self._old
