"""What the plugin decided per request, kept for its callback: a routed answer or a refusal.

Its own module because both the plugin (which writes notes) and the callback (which reads
them) need it, and the plugin also builds the callback.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from classifier.client import Routed


class Refusal:
    """The failure policy refused a request (fail closed); `reason` is why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Notes:
    """The last `size` decisions by request key; old ones fall out (a bounded LRU)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, Routed | Refusal] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, value: Routed | Refusal) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def get(self, key: str) -> Routed | Refusal | None:
        with self._lock:
            return self._data.get(key)
