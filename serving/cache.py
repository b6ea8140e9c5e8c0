"""A bounded exact-match LRU of finished answers.

Keyed by bundle hash + normalised text + feature, so an entry can only ever be returned for the
model that computed it; the classifier is called on the same normalised text, so a hit is
byte-for-byte the answer a miss would have produced. Not shared across processes on purpose.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from typing import Any

CacheKey = tuple[str, str, str | None]


def normalise(text: str) -> str:
    """NFC, whitespace runs collapsed, ends stripped: differences no tokenizer should see."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class DecisionCache:
    """LRU with hit/miss counts; `maxsize=0` turns it off (every lookup misses, nothing stored)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[CacheKey, Any] = OrderedDict()
        # Handlers run on one event loop thread, but batch and reload code may touch the cache
        # from worker threads; the lock is uncontended on the hot path (~0.1 µs).
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> Any | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: CacheKey, value: Any) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
