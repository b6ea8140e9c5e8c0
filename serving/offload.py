"""CPU-heavy classification off the event loop, in a bounded pool, within a time budget.

A short text costs well under a millisecond (tokenizer, onnxruntime, guards, decision), less
than the hop to a thread (docs/serving.md), so it is classified inline on the event loop. A long
text, a long chat or a batch can cost tens of milliseconds; run inline it would hold every
other request, health probes included, for that long. Those go to `workers` threads; at most
`max_pending` requests may wait for one (then 503 `overloaded`), and a request that has not been
answered within `budget_s` gets 503 `over_budget` instead of a stall. A job still queued when
its request gives up is cancelled; one already running finishes in its thread (Python cannot
stop a thread), bounded by the guards' capped window and the classifier's text window.

The guards' RE2 matching and onnxruntime release the GIL while they run, and Python hands the
GIL back to the event loop thread every few milliseconds otherwise, so probes keep answering
while a worker is busy (tests/serving/test_serving_stall.py measures it against a real server).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from serving.errors import ApiError

T = TypeVar("T")


class Offloader:
    """Decides inline versus worker thread, and runs the latter within the budget."""

    def __init__(
        self, *, workers: int, max_pending: int, budget_s: float, inline_max_chars: int
    ) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self.budget_s = budget_s
        self.inline_max_chars = inline_max_chars
        self.pending = 0
        self.over_budget = 0
        self.overloaded = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="classify")

    def inline(self, chars: int) -> bool:
        """True when a request of `chars` characters is cheap enough for the event loop."""
        return chars <= self.inline_max_chars

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in a worker thread; ApiError 503 when the pool is full or time runs out."""
        if self.pending >= self.max_pending:
            self.overloaded += 1
            raise ApiError(
                503,
                "overloaded",
                f"{self.pending} long requests are already waiting for the {self.workers} "
                "classification threads (TIERWISE_MAX_PENDING); retry after a short pause",
                headers={"Retry-After": "1"},
            )
        self.pending += 1
        try:
            future = self._executor.submit(fn, *args)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), self.budget_s)
            except TimeoutError:
                future.cancel()
                self.over_budget += 1
                raise ApiError(
                    503,
                    "over_budget",
                    f"classification did not finish within the request budget of "
                    f"{self.budget_s:g} s (TIERWISE_REQUEST_BUDGET_S); the server is busy: retry "
                    "later, or send less text per request",
                    headers={"Retry-After": "1"},
                ) from None
        finally:
            self.pending -= 1

    def close(self) -> None:
        """Drop queued jobs and let running ones finish on their own (called on shutdown)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
