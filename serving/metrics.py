"""Prometheus metrics, one registry per app so that several apps (tests) never share counters.

With several worker processes (PROMETHEUS_MULTIPROC_DIR set), the same objects write to
prometheus-client's per-process files and `render` sums every worker (serving/multiproc.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from serving import multiproc
from serving.rollout_metrics import FloorCollector, RolloutCollector

if TYPE_CHECKING:
    from classifier.switches import Switches
    from serving.cache import DecisionCache
    from serving.conversations import ConversationFloors
    from serving.drift import DriftMonitor
    from serving.experiment import Experiment
    from serving.jsonl import JsonlWriter
    from serving.model_store import LoadedModel
    from serving.offload import Offloader

# Sub-millisecond buckets: the classify path is hundreds of microseconds, so the default
# Prometheus buckets (5 ms and up) would put every request in the first one.
_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.00075,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.5,
    1.0,
)


# What a router's calls to a tier take (reported via /feedback): tens of ms to a minute.
_ATTEMPT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
_MAX_CAUSES = 32


class Metrics:
    """Every series the service exports; names are documented in docs/serving.md."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        folder = multiproc.directory()
        self.publisher = multiproc.Publisher(folder) if folder is not None else None
        self._model_labels: tuple[str, str, str] | None = None
        r = self.registry
        self.requests = Counter(
            "tierwise_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "tierwise_http_request_duration_seconds",
            "HTTP request latency by route and status (server side, body read to last byte sent)",
            ["route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "tierwise_predictions",
            "classifications served, by predicted labels, feature and model version",
            ["intent", "risk", "tier", "feature", "model_version"],
            registry=r,
        )
        self.abstentions = Counter(
            "tierwise_abstentions", "responses that abstained, by reason", ["reason"], registry=r
        )
        self.model_loads = Counter(
            "tierwise_model_loads", "bundles loaded and swapped in", registry=r
        )
        self.model_load_failures = Counter(
            "tierwise_model_load_failures",
            "bundle loads refused (broken, mismatched, unreachable); the old model kept serving",
            registry=r,
        )
        self.model_load_failing = Gauge(
            "tierwise_model_load_failing",
            "1 while the source names a bundle that cannot be loaded (an older one may serve)",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_load_attempts = Gauge(
            "tierwise_model_load_attempts",
            "failed attempts to load the current target so far (0 when it loaded)",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_info = Gauge(
            "tierwise_model_info",
            "the model being served (value 1)",
            ["name", "version", "bundle_hash"],
            registry=r,
            multiprocess_mode="livemax",  # during a roll-out, 1 for each version some worker serves
        )

        self.decisions = Counter(
            "tierwise_decisions",
            "route decisions served, by tier, reason code, A/B arm (`none` outside ab) and policy",
            ["tier", "reason", "arm", "policy"],
            registry=r,
        )
        self.shadow_disagreements = Counter(
            "tierwise_shadow_disagreements",
            "shadow mode: the shadow policy chose another tier than the served one",
            ["served_tier", "shadow_tier"],
            registry=r,
        )
        self.feedback_outcomes = Counter(
            "tierwise_feedback_outcomes",
            "attempt outcomes reported via POST /feedback, by join status (recorded, unmatched)",
            ["status"],
            registry=r,
        )
        self.escalations = Counter(
            "tierwise_escalations",
            "escalations reported via POST /feedback, by cause (the first 32 causes seen; "
            "later ones count as `other`)",
            ["from_tier", "to_tier", "cause"],
            registry=r,
        )
        self.corrections = Counter(
            "tierwise_corrections",
            "correction events reported via POST /feedback; within_5m: within 300 s of the "
            "decision (true/false), or `unknown` when the decision is not in memory",
            ["kind", "within_5m"],
            registry=r,
        )
        self.classify_latency = Histogram(
            "tierwise_classify_duration_seconds",
            "time to decide one route in the service (cache, model, policies), by served tier "
            "and feature",
            ["tier", "feature"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.attempt_latency = Histogram(
            "tierwise_attempt_latency_seconds",
            "latency of the router's calls to a tier, reported via POST /feedback, by tier and "
            "feature",
            ["tier", "feature"],
            buckets=_ATTEMPT_BUCKETS,
            registry=r,
        )
        self.guard_activations = Counter(
            "tierwise_guard_activations",
            "served decisions on which a safety guard fired, by flag (pii, forbidden_advice, "
            "regulated_language) and feature",
            ["flag", "feature"],
            registry=r,
        )
        self._causes: set[str] = set()
        self.feedback_refused = Counter(
            "tierwise_feedback_refused",
            "POST /feedback calls refused, by error code (unauthorized, rate_limited, ...)",
            ["reason"],
            registry=r,
        )

    def bind_switches(
        self, switches: Callable[[], Switches], experiment: Callable[[], dict[str, Any]]
    ) -> None:
        """Switch gauges and the experiment's settings, read at scrape time (every worker
        follows the same switches file, so the worker that answers speaks for all)."""
        collector = _SwitchCollector(switches, experiment)
        if self.publisher is not None:
            self.publisher.add_local(collector)
        else:
            self.registry.register(collector)

    def bind_rollout(
        self, experiment: Callable[[], Experiment], floors: ConversationFloors
    ) -> None:
        """Rollout shares and shadow rate (from the answering worker, like the switches) and
        the escalated conversations held (summed over workers)."""
        collector = RolloutCollector(experiment)
        if self.publisher is not None:
            self.publisher.add_local(collector)
        else:
            self.registry.register(collector)
        self._per_process(FloorCollector(floors))

    def cause_label(self, cause: str) -> str:
        """Escalation causes come from clients: keep the first few, so the set stays bounded."""
        if cause in self._causes:
            return cause
        if len(self._causes) < _MAX_CAUSES and len(cause) <= 40:
            self._causes.add(cause)
            return cause
        return "other"

    def bind_drift(self, monitor: DriftMonitor) -> None:
        """`tierwise_drift_*`, computed from the monitor's window at scrape time."""
        from serving.drift import DriftCollector

        self._per_process(DriftCollector(monitor))

    def bind_logs(self, writers: Callable[[], dict[str, JsonlWriter]]) -> None:
        """Log writers' counters (written, dropped, failed, queued), read at scrape time."""
        self._per_process(_LogCollector(writers))

    def bind_offloader(self, offloader: Offloader) -> None:
        self._per_process(_OffloadCollector(offloader))

    def bind_cache(self, cache: DecisionCache) -> None:
        """Export the cache's own counters at scrape time: one source of truth, no hot-path cost."""
        self._per_process(_CacheCollector(cache))

    def _per_process(self, collector: Collector) -> None:
        if self.publisher is not None:
            self.publisher.add_source(collector)  # summed over workers
        else:
            self.registry.register(collector)

    def publish(self) -> None:
        """With several workers: hand this worker's scrape-time counters to the shared files."""
        if self.publisher is not None:
            self.publisher.publish()

    def set_model_info(self, model: LoadedModel) -> None:
        if self._model_labels is not None:
            if self.publisher is not None:
                # A multiprocess file keeps a removed series: 0 says "no longer served here".
                self.model_info.labels(*self._model_labels).set(0)
            else:
                self.model_info.remove(*self._model_labels)
        self._model_labels = (model.name, model.version, model.bundle_hash[:12])
        self.model_info.labels(*self._model_labels).set(1)

    def feature_label(self, feature: str | None, known: bool) -> str:
        """Only contract names become label values, so clients cannot explode cardinality."""
        if feature is None:
            return "none"
        return feature if known else "unknown"

    def render(self) -> bytes:
        if self.publisher is not None:
            return self.publisher.render()
        return generate_latest(self.registry)


class _CacheCollector(Collector):
    def __init__(self, cache: DecisionCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        c = self.cache
        yield CounterMetricFamily("tierwise_decision_cache_hits", "decision cache hits", c.hits)
        yield CounterMetricFamily(
            "tierwise_decision_cache_misses", "decision cache misses", c.misses
        )
        yield GaugeMetricFamily(
            "tierwise_decision_cache_hit_ratio", "hits / (hits + misses) since start", c.hit_ratio()
        )
        yield GaugeMetricFamily("tierwise_decision_cache_entries", "entries held", len(c))
        yield GaugeMetricFamily(
            "tierwise_decision_cache_bytes", "bytes held (as the cache counts them)", c.nbytes
        )


class _OffloadCollector(Collector):
    def __init__(self, offloader: Offloader) -> None:
        self.offloader = offloader

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        o = self.offloader
        yield GaugeMetricFamily(
            "tierwise_offload_pending", "long requests in or waiting for a worker", o.pending
        )
        yield CounterMetricFamily(
            "tierwise_offload_over_budget", "requests answered 503 over_budget", o.over_budget
        )
        yield CounterMetricFamily(
            "tierwise_offload_overloaded", "requests answered 503 overloaded", o.overloaded
        )


class _SwitchCollector(Collector):
    """What operators have switched, as gauges (one series per killed or capped feature)."""

    def __init__(
        self, switches: Callable[[], Switches], experiment: Callable[[], dict[str, Any]]
    ) -> None:
        self.switches = switches
        self.experiment = experiment

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self.switches().state
        yield GaugeMetricFamily(
            "tierwise_switch_force_mini", "1 while the emergency force_mini switch is on",
            float(state.force_mini),
        )  # fmt: skip
        killed = GaugeMetricFamily(
            "tierwise_switch_killed", "1 per feature whose model is off", labels=["feature"]
        )
        for feature in sorted(state.killed):
            killed.add_metric([feature], 1.0)
        yield killed
        caps = GaugeMetricFamily(
            "tierwise_switch_tier_cap", "1 per feature capped at a tier", labels=["feature", "tier"]
        )
        for feature, tier in sorted(state.caps.items()):
            caps.add_metric([feature, tier], 1.0)
        yield caps
        yield GaugeMetricFamily(
            "tierwise_switch_version",
            "switch changes so far (kept across restarts)",
            float(state.version),
        )
        names = ["mode", "shadow_serve", "ab_learned_share"]
        info = GaugeMetricFamily(
            "tierwise_experiment_info", "the policy mode in force (value 1)", labels=names
        )
        experiment = self.experiment()
        values = [experiment.get(k) for k in names]
        info.add_metric(["" if v is None else str(v) for v in values], 1.0)
        yield info


class _LogCollector(Collector):
    def __init__(self, writers: Callable[[], dict[str, JsonlWriter]]) -> None:
        self.writers = writers

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        writers = self.writers()
        families = {
            "written": CounterMetricFamily(
                "tierwise_log_records_written", "records written, by stream", labels=["stream"]
            ),
            "dropped": CounterMetricFamily(
                "tierwise_log_records_dropped",
                "records dropped because the writer's queue was full or closed",
                labels=["stream"],
            ),
            "failed": CounterMetricFamily(
                "tierwise_log_records_failed", "records lost to write errors", labels=["stream"]
            ),
        }
        families["errors"] = CounterMetricFamily(
            "tierwise_log_write_errors",
            "failed attempts to open or write a log file (each retry counts)",
            labels=["stream"],
        )
        queued = GaugeMetricFamily(
            "tierwise_log_queue_depth", "records waiting for the writer", labels=["stream"]
        )
        queued_bytes = GaugeMetricFamily(
            "tierwise_log_queue_bytes", "bytes waiting for the writer", labels=["stream"]
        )
        up = GaugeMetricFamily(
            "tierwise_log_writer_up",
            "1 while the writer can write its file, 0 while it fails and retries",
            labels=["stream"],
        )
        for stream, writer in writers.items():
            for attr, family in families.items():
                family.add_metric([stream], float(getattr(writer, attr)))
            queued.add_metric([stream], float(writer.depth()))
            queued_bytes.add_metric([stream], float(writer.queued_bytes()))
            up.add_metric([stream], float(writer.ok))
        yield from families.values()
        yield from (queued, queued_bytes, up)
