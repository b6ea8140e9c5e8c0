"""The replay's model-backed routers: the bundle and a kNN on its embeddings, and what one
decision of each costs in time (one request at a time, as served)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from classifier.contracts import Contracts, RoutingTable
from classifier.guards import scan
from classifier.rules import RuleRouter
from training.config import TrainConfig
from training.replay.data import ReplayData
from training.replay.knn_router import KNNRouter, bundle_embedder, predictions_from_proba


def classify_all(clf: Any, texts: list[str], batch_size: int) -> list[Any]:
    """The bundle's predictions for `texts`, `batch_size` at a time."""
    out: list[Any] = []
    for start in range(0, len(texts), batch_size):
        out += clf.classify_batch(texts[start : start + batch_size])
    return out


def fit_knn(
    cfg: TrainConfig,
    rd: ReplayData,
    train_idx: np.ndarray,
    k: int,
    bundle_dir: Path,
    texts: list[str],
) -> tuple[Any, Any, list[Any]]:
    """Fit kNN on training rows `train_idx` (observed tier outcomes), predict the held-out rows."""
    embedder = bundle_embedder(Path(bundle_dir))
    train = rd.data.subset(train_idx)
    encode = encoder(cfg, embedder)
    knn = KNNRouter(n_neighbors=k).fit(encode(train.text), train.tier_ok, train.intent, train.risk)
    probs = knn.predict_proba(encode(texts))
    return knn, embedder, predictions_from_proba(probs, f"knn-k{k}")


def encoder(cfg: TrainConfig, embedder: Any) -> Callable[[list[str]], np.ndarray]:
    """Embed with the bundle's student, through the embedding cache when it is on."""
    if not cfg.embed.cache:
        return embedder.encode
    from training.model.distill import default_cache_dir
    from training.model.embed_cache import EmbeddingCache

    cache = EmbeddingCache(default_cache_dir() / "embeddings.sqlite")
    return lambda texts: cache.encode(embedder, texts)


def _median_ms(fn: Callable[[int], Any], count: int) -> float:
    if count == 0:
        return float("nan")
    fn(0)
    times = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


def router_latency(
    sample: int,
    clf: Any,
    contracts: Contracts,
    table: RoutingTable,
    rules: RuleRouter,
    knn: Any,
    embedder: Any,
    texts: list[str],
    features: list[str],
) -> dict[str, float]:
    """Median per-request time of each router's decision (one request at a time, as served)."""
    from classifier.decision import decide
    from classifier.policies import LearnedPolicy

    k = min(sample, len(texts))
    learned = LearnedPolicy(contracts, table, classifier=clf, rules=rules)

    def knn_route(i: int) -> Any:
        pred = predictions_from_proba(knn.predict_proba(embedder.encode([texts[i]])), "knn")[0]
        return decide(pred, features[i], contracts, table, scan(texts[i]), None, text=texts[i])

    return {
        "rules": _median_ms(lambda i: rules.route(texts[i], features[i]), k),
        "learned": _median_ms(lambda i: learned.route(texts[i], features[i]), k),
        "knn": _median_ms(knn_route, k),
    }
