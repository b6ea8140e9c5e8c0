"""A bounded exact-match LRU of finished answers, bounded in entries and in bytes.

Keyed by bundle hash + switch version + a 128-bit BLAKE2b digest of the normalised text +
feature, so an entry can only ever be returned for the model that computed it, and a key costs
16 bytes whatever the text's length (keying on the text itself let 4,096 texts of 255 KB hold
~1 GB). The classifier is called on the same normalised text, so a hit is byte-for-byte the
answer a miss would have produced. Not shared across processes on purpose.
"""

from __future__ import annotations

import dataclasses
import functools
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


# A dataclass field with this metadata references an object that outlives any cache entry (the
# bundle's tier tuning, shared by every prediction of the bundle): an entry does not hold it.
SHARED = "shared"
_SEQUENCES = (list, tuple, set, frozenset)
_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})  # nothing inside


@functools.cache
def _owned_fields(cls: type) -> tuple[str, ...] | None:
    """The fields an entry owns, for a dataclass type (None for any other type); once per type."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple(f.name for f in dataclasses.fields(cls) if not f.metadata.get(SHARED))


def deep_size(obj: Any) -> int:
    """Bytes held by `obj` and what it references (dicts, sequences, dataclasses, scalars).

    Objects shared with others (interned strings, small ints, label strings) count once per
    entry, so the sum over entries over-counts: the cache stays under its budget. Fields marked
    `SHARED` are not walked: counting the bundle's tuning (~880 objects) in every entry made each
    put cost ~1 ms and each entry look 10x its size (docs/benchmarks.md).
    """
    seen: set[int] = set()
    stack = [obj]
    size = 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        size += sys.getsizeof(item)
        kind: type = type(item)
        if kind in _SCALARS:
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _SEQUENCES):
            stack.extend(item)
        else:
            names = _owned_fields(kind)
            if names:
                stack.extend([getattr(item, name) for name in names])
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
