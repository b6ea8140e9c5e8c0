"""Per-stage wall-clock timing, and a live elapsed-time bar for stages with no natural count.

Timings go to the MLflow run as `time_<stage>_s` and into the report, so "which stage got
slower" is answered by comparing runs, not by re-running with a profiler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


class StageClock:
    """`with clock.stage("fit"): ...` records seconds per stage, in the order they ran."""

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, *, ticker: bool = False) -> Iterator[None]:
        """Time one stage; `ticker` shows an elapsed-seconds bar for stages without a count."""
        logger.info("stage %s: start", name)
        stop = threading.Event()
        thread = None
        if ticker and self.progress:
            thread = threading.Thread(target=_tick, args=(name, stop), daemon=True)
            thread.start()
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            stop.set()
            if thread is not None:
                thread.join()
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            logger.info("stage %s: %.1f s", name, elapsed)

    def metrics(self) -> dict[str, float]:
        out = {f"time_{name}_s": sec for name, sec in self.seconds.items()}
        out["time_total_s"] = sum(self.seconds.values())
        return out


def _tick(name: str, stop: threading.Event) -> None:
    from tqdm.auto import tqdm

    with tqdm(desc=name, unit="s", bar_format="{desc}: {elapsed} elapsed") as bar:
        while not stop.wait(1.0):
            bar.update(1)
