"""Garbage-collector settings for a serving process, applied once after the first model load.

A full collection walks every tracked container object. After start-up a worker holds ~76,000
of them (FastAPI, pydantic's schemas, the contracts, the model's metadata) that live as long as
the process: each full collection walked them all, ~27 ms of CPU here, and longer on a busy
machine, and every request waiting meanwhile took the pause in its latency.
`gc.freeze()` moves them to a permanent generation that collections skip. Objects created later
(caches, a reloaded model) are collected as usual; reference counting still frees everything
frozen that becomes unreachable without a cycle. A larger first threshold makes young
collections rarer (each is still short: only objects allocated since the last one). Measured
before and after in docs/serving.md, "Garbage collection" (scripts/bench_gc.py).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

GEN0_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def after_warmup(*, freeze: bool = True, gen0_threshold: int = GEN0_THRESHOLD) -> None:
    """Collect once, freeze what survived, raise the young generation's threshold."""
    if not freeze:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    log.info(
        "garbage collector: %d start-up objects frozen, young threshold %d",
        gc.get_freeze_count(), gen0_threshold,
    )  # fmt: skip
