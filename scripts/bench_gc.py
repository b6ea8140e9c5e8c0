#!/usr/bin/env python
"""Garbage-collector pauses on the service path: p99 of classify and the longest collections.

Numbers, not a test (docs/serving.md, "Garbage collection"). One process per variant runs the
path the HTTP handlers call (ClassifyService.classify, decision log on, so the feedback window
holds its 50,000 records) on unique texts, timing every call and every collection
(`gc.callbacks`). Variants: the interpreter's defaults; `gc.freeze()` after warm-up; freeze
plus the thresholds the service sets (serving/gctune.py).

Example:
    .venv/bin/python scripts/bench_gc.py --bundle models/default --calls 60000
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("default", "freeze", "tuned")


def measure(bundle: Path, calls: int, variant: str, code: Path) -> dict[str, float]:
    sys.path[:0] = [str(code), str(ROOT)]  # `code`: another checkout's serving, for "before"
    from reliability.load import unique_text
    from serving.app import build_state
    from serving.inputs import ClassifyInput
    from serving.model_store import load_bundle
    from serving.settings import ServingSettings

    with tempfile.TemporaryDirectory() as logs:
        settings = ServingSettings(bundle_path=bundle, log_dir=Path(logs))
        state = build_state(settings)
        state.store.swap(load_bundle(bundle, intra_op_threads=1, warmup=20, source=str(bundle)))
        rng = random.Random(5)

        def one(n: int) -> None:
            text = unique_text(n, rng)
            state.service.classify(ClassifyInput(text, "doc_summary", f"r{n}", 0))

        for n in range(200):
            one(n)
        if variant.startswith("freeze"):  # "freeze" or "freeze:700,10,100" (thresholds)
            gc.collect()
            gc.freeze()
            if ":" in variant:
                a, b, c = (int(x) for x in variant.split(":", 1)[1].split(","))
                gc.set_threshold(a, b, c)
        elif variant == "tuned":
            from serving import gctune

            gctune.after_warmup()
        pauses: list[float] = []  # CPU time of this thread: a busy machine does not inflate it
        full: list[float] = []
        started = [0.0]

        def callback(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = time.thread_time()
            else:
                took = time.thread_time() - started[0]
                pauses.append(took)
                if info["generation"] == 2:
                    full.append(took)

        gc.callbacks.append(callback)
        latencies = []  # CPU time too: the pauses a request sees that are this process's own
        begin = time.thread_time()
        for n in range(200, 200 + calls):
            t = time.thread_time()
            one(n)
            latencies.append(time.thread_time() - t)
        elapsed = time.thread_time() - begin
        gc.callbacks.remove(callback)
        state.service.close()
    latencies.sort()
    pauses.sort()

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0

    return {
        "calls": calls,
        "p50_ms": round(pct(latencies, 0.5), 3),
        "p99_ms": round(pct(latencies, 0.99), 3),
        "p999_ms": round(pct(latencies, 0.999), 3),
        "max_ms": round(latencies[-1] * 1000, 1),
        "collections": len(pauses),
        "full_collections": len(full),
        "longest_pause_ms": round(pauses[-1] * 1000, 1) if pauses else 0.0,
        "longest_full_ms": round(max(full) * 1000, 1) if full else 0.0,
        "pauses_over_5ms": sum(1 for p in pauses if p > 0.005),
        "gc_share": round(sum(pauses) / elapsed, 4),
        "tracked_objects": len(gc.get_objects()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--calls", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per variant")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose serving to time")
    parser.add_argument("--variants", default=" ".join(VARIANTS), help="space-separated")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        result = measure(args.bundle, args.calls, args.variant, args.code)
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    for round_ in range(args.rounds):
        for variant in args.variants.split():
            out = subprocess.run(
                [sys.executable, __file__, "--bundle", str(args.bundle), "--calls",
                 str(args.calls), "--variant", variant, "--code", str(args.code)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            ).stdout  # fmt: skip
            sys.stdout.write(f"{args.code.name} round {round_} {variant:8s} {out}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
