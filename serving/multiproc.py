"""`/metrics` over several worker processes: prometheus-client's multiprocess mode.

With `PROMETHEUS_MULTIPROC_DIR` set before prometheus-client is imported (`tierwise serve
--workers N` sets it for its workers), every Counter, Gauge and Histogram writes its value to a
memory-mapped file per process in that folder, and a scrape, answered by whichever worker takes
it, sums the files of all of them (a worker that exited keeps its counts; its live gauges go).

Some series are not kept as Prometheus objects but read from the service's own counters at
scrape time (the decision cache, the offload pool, the log writers: no cost on the request
path). Each worker *publishes* those into multiprocess objects every `TIERWISE_SYNC_INTERVAL_S`
(counters as increments since the last publication, gauges as values summed over live workers),
and the worker that answers a scrape publishes its own first: other workers' figures in those
series are at most one interval old; the HTTP request counters are exact. Switch and experiment
gauges are read from the answering worker, which follows the shared switches file.

Example:
    publisher = Publisher(Path(os.environ[ENV]))
    publisher.add_source(cache_collector)   # published, summed over workers
    publisher.add_local(switch_collector)   # the same in every worker: read where scraped
    publisher.render()                      # bytes for GET /metrics
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

ENV = "PROMETHEUS_MULTIPROC_DIR"

Mode = Literal["livesum", "livemin", "livemax"]
# How a published gauge combines over workers (default: livesum).
GAUGE_MODES: dict[str, Mode] = {
    "tierwise_log_writer_up": "livemin",
    # Each worker sees its own share of the traffic: the worst drift any of them sees.
    "tierwise_drift_psi": "livemax",
    "tierwise_drift_crossed": "livemax",
    "tierwise_drift_rate": "livemax",
    "tierwise_drift_reference": "livemin",
}
# Recomputed from the summed counters instead of published per worker.
_RATIOS = {
    "tierwise_decision_cache_hit_ratio": (
        "tierwise_decision_cache_hits",
        "tierwise_decision_cache_misses",
        "hits / (hits + misses) since start, over every worker",
    )
}
_REAP_EVERY = 20  # publications between looks for workers that died without saying so


def directory() -> Path | None:
    """The multiprocess folder when this process writes its metrics there, else None."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def prepare(path: Path) -> None:
    """Create the folder and drop files left by an earlier run (they would add old counts)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def mark_dead(path: Path, pid: int) -> None:
    """Remove the live gauges of a worker that stopped (its counters stay in the totals)."""
    multiprocess.mark_process_dead(pid, str(path))


def reap(path: Path) -> list[int]:
    """Mark dead the workers whose live-gauge files remain but whose process is gone."""
    dead = []
    for file in path.glob("gauge_live*_*.db"):
        try:
            pid = int(file.stem.rsplit("_", 1)[1])
        except ValueError:
            continue
        if pid not in dead and not _alive(pid):
            dead.append(pid)
    for pid in dead:
        mark_dead(path, pid)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Publisher:
    """Copies per-process collectors into multiprocess objects; renders every worker's metrics."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sources: list[Collector] = []
        self._counters: dict[str, Counter] = {}
        self._gauges: dict[str, Gauge] = {}
        self._published: dict[tuple[str, tuple[str, ...]], float] = {}
        self._lock = threading.Lock()
        self._count = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Summed(multiprocess.MultiProcessCollector(None, path=str(path))))

    def add_source(self, collector: Collector) -> None:
        self._sources.append(collector)

    def add_local(self, collector: Collector) -> None:
        self.registry.register(collector)

    def publish(self) -> None:
        with self._lock:
            for source in self._sources:
                for family in source.collect():
                    if family.name in _RATIOS or not family.samples:
                        continue
                    if family.type == "counter":
                        self._counter(family)
                    elif family.type == "gauge":
                        self._gauge(family)
            self._count += 1
            if self._count % _REAP_EVERY == 0:
                reap(self.path)

    def render(self) -> bytes:
        self.publish()
        return generate_latest(self.registry)

    def _counter(self, family: Metric) -> None:
        names = tuple(family.samples[0].labels)
        counter = self._counters.get(family.name)
        if counter is None:
            counter = Counter(family.name, family.documentation, names, registry=None)
            self._counters[family.name] = counter
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            values = tuple(sample.labels[n] for n in names)
            key = (family.name, values)
            delta = sample.value - self._published.get(key, 0.0)
            if delta < 0:  # the source started over (a new object): count it from zero again
                delta = sample.value
            if delta:
                (counter.labels(*values) if names else counter).inc(delta)
            self._published[key] = sample.value

    def _gauge(self, family: Metric) -> None:
        names = tuple(family.samples[0].labels)
        gauge = self._gauges.get(family.name)
        if gauge is None:
            mode = GAUGE_MODES.get(family.name, "livesum")
            gauge = Gauge(
                family.name, family.documentation, names, registry=None, multiprocess_mode=mode
            )
            self._gauges[family.name] = gauge
        for sample in family.samples:
            values = tuple(sample.labels[n] for n in names)
            (gauge.labels(*values) if names else gauge).set(sample.value)


class _Summed(Collector):
    """The multiprocess totals, plus ratios recomputed from the summed counters."""

    def __init__(self, inner: Collector) -> None:
        self.inner = inner

    def collect(self) -> Iterator[Metric]:
        totals: dict[str, float] = {}
        for family in self.inner.collect():
            totals[family.name] = sum(s.value for s in family.samples if s.name.endswith("_total"))
            yield family
        for name, (hits, misses, doc) in _RATIOS.items():
            if hits in totals or misses in totals:
                seen = totals.get(hits, 0.0) + totals.get(misses, 0.0)
                yield GaugeMetricFamily(name, doc, totals.get(hits, 0.0) / seen if seen else 0.0)
