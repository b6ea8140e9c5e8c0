"""The service's drift monitor: rolling statistics per served bundle, shown in `/metrics`.

One `classifier.drift.DriftStats` for the bundle in service (a new bundle starts a new window,
compared with its own reference). `observe` is called once per answered request and costs a
string comparison plus the stats' constant work; PSI is computed only when `/metrics` is
scraped. With several workers each keeps its own window and `/metrics` shows the largest PSI
over live workers (serving/multiproc.py GAUGE_MODES).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from classifier.drift import SIGNALS, DriftStats, Thresholds, compare
from classifier.prediction import Prediction
from serving.model_store import LoadedModel


class DriftMonitor:
    """Rolling drift statistics of the served bundle against its training reference."""

    def __init__(
        self, current: Callable[[], LoadedModel | None], *, window: int, thresholds: Thresholds
    ) -> None:
        self._current = current
        self.window = window
        self.thresholds = thresholds
        self._hash: str | None = None
        self._stats: DriftStats | None = None
        self.reference: dict[str, Any] | None = None
        self._lock = threading.Lock()  # only around a window change, never per request

    def _start(self, bundle_hash: str) -> DriftStats | None:
        with self._lock:
            if self._hash == bundle_hash and self._stats is not None:
                return self._stats
            model = self._current()
            if model is None or model.bundle_hash != bundle_hash:
                return None  # a prediction of a bundle already swapped out: not counted
            labels = model.labels
            self._stats = DriftStats(labels["intent"], labels["risk"], labels["tier"],
                                     window=self.window)  # fmt: skip
            manifest = model.classifier.manifest
            self.reference = getattr(manifest, "reference_stats", None)
            self._hash = bundle_hash
            return self._stats

    def observe(self, prediction: Prediction, abstained: bool) -> None:
        stats = self._stats
        if prediction.bundle_hash != self._hash or stats is None:
            stats = self._start(prediction.bundle_hash)
            if stats is None:
                return
        stats.observe(prediction, abstained)

    def observe_outcome(self, tier: str, failed: bool) -> None:
        if self._stats is not None:
            self._stats.observe_outcome(tier, failed)

    def report(self) -> dict[str, Any] | None:
        """`classifier.drift.compare` of the window against the reference (None: no window)."""
        stats = self._stats
        current = self._current()
        if current is not None and current.bundle_hash != self._hash:
            stats = self._start(current.bundle_hash)  # a new bundle: its own window, from 0
        if stats is None:
            return None
        return compare(self.reference, stats.summary(), self.thresholds)


class DriftCollector(Collector):
    """`tierwise_drift_*` gauges, computed at scrape time."""

    def __init__(self, monitor: DriftMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self.monitor.report()
        n = float(report["n"]) if report is not None else 0.0
        yield GaugeMetricFamily(
            "tierwise_drift_window_requests", "requests in the drift window (this bundle)", n
        )
        has_reference = report is not None and report["reference"] is not None
        yield GaugeMetricFamily(
            "tierwise_drift_reference",
            "1 when the served bundle carries training reference statistics",
            float(has_reference),
        )
        psi = GaugeMetricFamily(
            "tierwise_drift_psi",
            "population stability index of a signal, live window vs training reference",
            labels=["signal"],
        )
        crossed = GaugeMetricFamily(
            "tierwise_drift_crossed",
            "1 per signal over its drift threshold (PSI or rate difference)",
            labels=["signal"],
        )
        rate = GaugeMetricFamily(
            "tierwise_drift_rate",
            "abstain and per-tier failure rates, live window and training reference",
            labels=["signal", "source"],
        )
        if report is not None:
            for name in SIGNALS:
                if name in report["psi"]:
                    psi.add_metric([name], report["psi"][name])
                    crossed.add_metric([name], float(f"psi:{name}" in report["crossed"]))
            for name, pair in report["rates"].items():
                for source in ("live", "reference"):
                    if pair[source] is not None:
                        rate.add_metric([name, source], float(pair[source]))
                if pair["reference"] is not None:
                    crossed.add_metric([name], float(f"rate:{name}" in report["crossed"]))
        yield from (psi, crossed, rate)
