"""A bounded exact-match LRU of finished answers, bounded in entries and in bytes.

Keyed by bundle hash + switch version + a 128-bit BLAKE2b digest of the normalised text +
feature, so an entry can only ever be returned for the model that computed it, and a key costs
16 bytes whatever the text's length (keying on the text itself let 4,096 texts of 255 KB hold
~1 GB). The classifier is called on the same normalised text, so a hit is byte-for-byte the
answer a miss would have produced. Not shared across processes on purpose.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import threading
import unicodedata
from operator import itemgetter
from typing import Any

from cachetools import LRUCache

CacheKey = tuple[str, bytes, str | None]


def normalise(text: str) -> str:
    """NFC, whitespace runs collapsed, ends stripped: differences no tokenizer should see."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_digest(text: str) -> bytes:
    """16 bytes that stand for the text in a key (collisions: ~2^-64 at 2^32 texts)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def deep_size(obj: Any, _seen: set[int] | None = None) -> int:
    """Bytes held by `obj` and what it references (dicts, sequences, dataclasses, scalars).

    Objects shared with others (interned strings, small ints, label strings) count once per
    entry, so the sum over entries over-counts: the cache stays under its budget.
    """
    seen = _seen if _seen is not None else set()
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(item, seen) for item in obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        size += sum(deep_size(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    return size


# The key tuple, its digest and epoch strings, and cachetools' own per-entry bookkeeping.
_KEY_BYTES = 400


def entry_bytes(value: Any) -> int:
    return deep_size(value) + _KEY_BYTES


class DecisionCache:
    """LRU with hit/miss counts; `maxsize=0` turns it off (every lookup misses, nothing stored).

    At most `maxsize` entries and `max_bytes` bytes (as `entry_bytes` counts them); the least
    recently used entries go first when either bound is reached.
    """

    def __init__(self, maxsize: int, max_bytes: int = 64 << 20) -> None:
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        # Values are stored with their size, measured once in `put`.
        self._data: LRUCache[CacheKey, tuple[Any, int]] = LRUCache(
            maxsize=max(1, max_bytes), getsizeof=itemgetter(1)
        )
        # Classification runs in worker threads as well as on the event loop thread.
        self._lock = threading.Lock()

    @staticmethod
    def key(epoch: str, text: str, feature: str | None) -> CacheKey:
        return (epoch, text_digest(text), feature)

    def get(self, key: CacheKey) -> Any | None:
        with self._lock:
            stored = self._data.get(key)
            if stored is None:
                self.misses += 1
                return None
            self.hits += 1
            return stored[0]

    def put(self, key: CacheKey, value: Any) -> None:
        if self.maxsize <= 0:
            return
        size = entry_bytes(value)
        if size > self.max_bytes:
            return  # larger than the whole budget: not cached (cachetools would raise)
        with self._lock:
            self._data[key] = (value, size)
            while len(self._data) > self.maxsize:
                self._data.popitem()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """Bytes held, as `entry_bytes` counts them."""
        return int(self._data.currsize)

    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
