"""Escalated conversations remember their tier, so the next turn does not start below it.

When a router reports (POST /feedback) that a request of conversation C escalated to tier T,
the following turns of C are routed at T or above (`classifier.decision`'s conversation floor),
until the entry expires (TIERWISE_CONVERSATION_TTL_S after the last escalation) or is pushed out
by newer ones (TIERWISE_CONVERSATION_MAX). A cachetools `TTLCache` holds it: bounded in entries
and time, whatever clients send.

Per process, like the feedback window: with several workers, a floor holds on the worker that
joined the feedback (docs/serving.md, "Progressive rollout"). Only ever raised, never lowered
by a later escalation to a lower tier.
"""

from __future__ import annotations

import threading
import time

from cachetools import TTLCache

from classifier.taxonomy import TIER_RANK, Tier


class ConversationFloors:
    """conversation id -> the highest tier it escalated to; thread-safe, bounded."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self._data: TTLCache[str, Tier] = TTLCache(max_entries, ttl_s, timer=time.monotonic)
        self._lock = threading.Lock()
        self.raised = 0  # escalations that set or raised a floor

    def __len__(self) -> int:
        with self._lock:
            self._data.expire()
            return len(self._data)

    def raise_to(self, conversation_id: str, tier: Tier) -> Tier:
        """Remember `tier` for the conversation unless it already holds a higher one."""
        with self._lock:
            current = self._data.get(conversation_id)
            if current is not None and TIER_RANK[current] >= TIER_RANK[tier]:
                self._data[conversation_id] = current  # a new escalation restarts the TTL
                return current
            self._data[conversation_id] = tier
            self.raised += 1
            return tier

    def floor(self, conversation_id: str | None) -> Tier | None:
        """The conversation's floor, or None (no id, never escalated, or expired)."""
        if conversation_id is None:
            return None
        data = self._data
        if not data:  # the common case: no lock, no lookup
            return None
        with self._lock:
            return data.get(conversation_id)
