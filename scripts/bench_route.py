#!/usr/bin/env python
"""classify + decide in process, p50/p99 in µs: the library path and the service path.

Numbers, not a test. Rows: `Classifier.classify` alone; `LearnedPolicy.route` (classify, guards
and the decision through the one seam); the service's whole answer to one request, rendered to
JSON bytes as the route sends them: a cache miss (every text new, stored in the cache as served
misses are), the same with the cache off, and a hit (the same text). The component rows are the
parts a miss adds to a hit: the guard scan and the cache's size estimate of the new answer
(its miss row once hid ~1 ms of the latter by running with the cache off). The machine is
shared: compare runs made back to back.

Example:
    .venv/bin/python scripts/bench_route.py --bundle models/default --repeats 3000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
WORDS = (  # noqa: SIM905 - one readable sentence
    "please summarize the quarterly incident report for the support team and list the open "
    "actions with owners dates and risks before the customer review meeting next week"
).split()
FEATURES = ("doc_summary", "support_chat", "inline_assist", "code_assist", None)


def percentiles(fn: Callable[[int], object], repeats: int) -> tuple[float, float]:
    for i in range(min(100, repeats)):
        fn(i)
    samples = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        samples[i] = time.perf_counter() - start
    p50, p99 = np.percentile(samples, [50, 99]) * 1e6
    return float(p50), float(p99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--repeats", type=int, default=3000)
    parser.add_argument("--words", type=int, default=30, help="words per text (~40 tokens)")
    args = parser.parse_args()

    from classifier.contracts import load_contracts, load_routing_table
    from classifier.guards import scan
    from classifier.policies import LearnedPolicy
    from classifier.runtime import Classifier
    from serving.answer import render
    from serving.app import build_state
    from serving.cache import entry_bytes
    from serving.inputs import ClassifyInput
    from serving.model_store import load_bundle
    from serving.service import ClassifyService
    from serving.settings import ServingSettings

    n = args.repeats
    base = " ".join(WORDS[i % len(WORDS)] for i in range(args.words))
    texts = [f"{base} {i}" for i in range(n + 100)]  # a new text per call: no cache helps
    items = [ClassifyInput(t, FEATURES[i % 5], None, 0) for i, t in enumerate(texts)]
    classifier = Classifier.load(args.bundle)
    policy = LearnedPolicy(load_contracts(), load_routing_table(), classifier=classifier)

    def service(cache_size: int) -> ClassifyService:
        state = build_state(ServingSettings(bundle_path=args.bundle, cache_size=cache_size))
        state.store.swap(load_bundle(args.bundle, intra_op_threads=1, warmup=5, source="bench"))
        return state.service

    def answer_bytes(svc: ClassifyService) -> Callable[[ClassifyInput], bytes]:
        return lambda item: orjson.dumps(render(svc.classify(item)))

    hit_service = service(4096)
    answer = hit_service.classify(items[0]).answer
    miss, hit = answer_bytes(service(4096)), answer_bytes(hit_service)
    uncached = answer_bytes(service(0))
    fresh = iter(items)  # warm-up and timed calls alike get a text never seen: every call misses
    rows = {
        "Classifier.classify": percentiles(lambda i: classifier.classify(texts[i]), n),
        "LearnedPolicy.route (classify + decide)": percentiles(
            lambda i: policy.route(texts[i], FEATURES[i % 5]), n
        ),
        "guards.scan": percentiles(lambda i: scan(texts[i]), n),
        "cache size estimate of an answer (entry_bytes)": percentiles(
            lambda _i: entry_bytes(answer), n
        ),
        "service, cache miss -> JSON bytes": percentiles(lambda _i: miss(next(fresh)), n),
        "service, cache off -> JSON bytes": percentiles(lambda i: uncached(items[i]), n),
        "service, cache hit -> JSON bytes": percentiles(lambda i: hit(items[0]), n),
    }
    sys.stdout.write(f"load average {os.getloadavg()[0]:.1f}, {n} calls per row\n")
    sys.stdout.write("| path | p50 µs | p99 µs |\n|---|---|---|\n")
    for name, (p50, p99) in rows.items():
        sys.stdout.write(f"| {name} | {p50:.0f} | {p99:.0f} |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
