"""Prometheus metrics, one registry per app so that several apps (tests) never share counters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from serving.cache import DecisionCache
    from serving.model_store import LoadedModel

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


class Metrics:
    """Every series the service exports; names are documented in docs/serving.md."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
        self.model_info = Gauge(
            "tierwise_model_info",
            "the model being served (value 1)",
            ["name", "version", "bundle_hash"],
            registry=r,
        )

    def bind_cache(self, cache: DecisionCache) -> None:
        """Export the cache's own counters at scrape time: one source of truth, no hot-path cost."""
        self.registry.register(_CacheCollector(cache))

    def set_model_info(self, model: LoadedModel) -> None:
        self.model_info.clear()
        self.model_info.labels(model.name, model.version, model.bundle_hash[:12]).set(1)

    def feature_label(self, feature: str | None, known: bool) -> str:
        """Only contract names become label values, so clients cannot explode cardinality."""
        if feature is None:
            return "none"
        return feature if known else "unknown"

    def render(self) -> bytes:
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
