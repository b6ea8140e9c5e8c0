"""Garbage-collector settings for a serving process, applied once after the first model load.

A full collection walks every tracked container object. After start-up a worker holds ~76,000
of them (FastAPI, pydantic's schemas, the contracts, the model's metadata) that live as long as
the process: each full collection walked them all, ~27 ms of CPU here, and longer on a busy
machine, and every request waiting meanwhile took the pause in its latency.
`gc.freeze()` moves them to a permanent generation that collections skip. Objects created later
(caches, a reloaded model) are collected as usual; reference counting still frees everything
frozen that becomes unreachable without a cycle.

What stays tracked after the freeze is mostly the decision cache (~66,000 objects at 4,096
entries), and a full collection over it still costs ~65 ms of CPU here. With the oldest
generation's threshold at 100 instead of 10, full collections come about every 37,000 requests
instead of every 5,000; young collections keep CPython's small threshold (a young threshold of
10,000 made each middle-generation collection long: up to 80 ms). Measured before and after in
docs/serving.md, "Garbage collection" (scripts/bench_gc.py).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

GEN2_THRESHOLD = 100  # middle-generation collections between full ones (CPython's default: 10)
_done = False


def after_warmup(*, freeze: bool = True, gen2_threshold: int = GEN2_THRESHOLD) -> None:
    """Collect once, freeze what survived, make full collections rarer.

    Once per process: the objects of a later app (tests build many) are left to the collector.
    """
    global _done
    if not freeze or _done:
        return
    _done = True
    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, gen2_threshold)
    log.info(
        "garbage collector: %d start-up objects frozen, thresholds %s",
        gc.get_freeze_count(), gc.get_threshold(),
    )  # fmt: skip
