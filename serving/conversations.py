"""Escalated conversations remember their tier, so the next turn does not start below it.

When a router reports (POST /feedback) that a request of conversation C escalated to tier T,
the following turns of C are routed at T or above (`classifier.decision`'s conversation floor),
until the entry expires (TIERWISE_CONVERSATION_TTL_S after the last escalation) or is pushed out
by newer ones (TIERWISE_CONVERSATION_MAX). A cachetools `TTLCache` holds it in memory: bounded
in entries and time, whatever clients send, and read without I/O on the hot path.

Several workers on one host share the floors through a small SQLite file (WAL mode) in
TIERWISE_LOG_DIR, the folder feedback needs anyway: the worker that joins the feedback appends
one row; every worker reads the rows appended since its last look from the same loop that
follows the switches (every TIERWISE_SYNC_INTERVAL_S), so a floor holds in every worker within
that interval. Across hosts nothing is shared (docs/serving.md, "Progressive rollout").
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from cachetools import TTLCache

from classifier.taxonomy import TIER_RANK, Tier

log = logging.getLogger(__name__)
FILE = "conversation-floors.sqlite"
_PRUNE_EVERY = 240  # syncs between deletions of expired rows (a minute at 0.25 s)


class ConversationFloors:
    """conversation id -> the highest tier it escalated to; thread-safe, bounded."""

    def __init__(
        self,
        max_entries: int,
        ttl_s: float,
        folder: Path | None = None,
        tier_rank: Mapping[str, int] = TIER_RANK,
    ) -> None:
        self.tier_rank = tier_rank  # the taxonomy's order (classifier.taxonomy)
        self.ttl_s = ttl_s
        self._data: TTLCache[str, Tier] = TTLCache(max_entries, ttl_s, timer=time.monotonic)
        self._lock = threading.Lock()
        self.raised = 0  # escalations that set or raised a floor (in this process)
        self.sync_errors = 0
        self._db: sqlite3.Connection | None = None
        self._seen = 0  # the last row read from the shared file
        self._syncs = 0
        self.share_error: str | None = None  # why floors are not shared with other workers
        if folder is not None:
            path = Path(folder) / FILE
            try:
                self._db = _open(path)
            except (OSError, sqlite3.Error) as exc:
                # Like an unwritable log: the service still starts and serves; floors then hold
                # in this worker only, and readiness says so.
                self.share_error = (
                    f"conversation floors not shared between workers: cannot open {path}: {exc}"
                )
                log.error("%s", self.share_error)

    def __len__(self) -> int:
        with self._lock:
            self._data.expire()
            return len(self._data)

    def raise_to(self, conversation_id: str, tier: Tier) -> Tier:
        """Remember `tier` for the conversation unless it already holds a higher one; with a
        shared file, also append it there for the other workers."""
        held = self._raise(conversation_id, tier)
        if self._db is not None:
            try:
                with self._lock, self._db:
                    self._db.execute(
                        "INSERT INTO floors (conversation_id, tier, at) VALUES (?, ?, ?)",
                        (conversation_id, tier, time.time()),
                    )
            except sqlite3.Error as exc:
                self.sync_errors += 1
                log.error("could not share the floor of conversation %r: %s", conversation_id, exc)
        return held

    def _raise(self, conversation_id: str, tier: Tier) -> Tier:
        with self._lock:
            current = self._data.get(conversation_id)
            rank = self.tier_rank
            if current is not None and rank.get(current, -1) >= rank.get(tier, -1):
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

    def sync(self) -> int:
        """Apply the rows other workers appended since the last call; how many were new."""
        db = self._db
        if db is None:
            return 0
        since = time.time() - self.ttl_s
        try:
            with self._lock:
                rows = db.execute(
                    "SELECT seq, conversation_id, tier FROM floors WHERE seq > ? AND at > ? "
                    "ORDER BY seq",
                    (self._seen, since),
                ).fetchall()
                self._syncs += 1
                if self._syncs % _PRUNE_EVERY == 0:
                    with db:
                        db.execute("DELETE FROM floors WHERE at <= ?", (since,))
        except sqlite3.Error as exc:
            self.sync_errors += 1
            log.error("could not read the shared conversation floors: %s", exc)
            return 0
        for seq, conversation_id, tier in rows:
            self._seen = max(self._seen, seq)
            if tier in self.tier_rank:
                self._raise(conversation_id, tier)
        return len(rows)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    db.execute("PRAGMA synchronous=NORMAL")  # no fsync per escalation; a crash loses the last
    db.execute(
        "CREATE TABLE IF NOT EXISTS floors (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "conversation_id TEXT NOT NULL, tier TEXT NOT NULL, at REAL NOT NULL)"
    )
    return db
