#!/usr/bin/env python
"""RSS of one serving process before and after classifying N unique long texts in process.

Numbers, not a test: it measures what the decision cache and the tokenizer's word cache hold
when every request is new (docs/serving.md, "Decision cache"). The service path is the one
the HTTP handlers call (ClassifyService.classify), without HTTP.

Example:
    .venv/bin/python scripts/bench_memory.py --bundle models/default --texts 4096 --kb 255
"""

from __future__ import annotations

import argparse
import gc
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


_WORDS = (  # noqa: SIM905 - one readable sentence
    "please summarize the quarterly incident report for the support team and list the actions"
).split()


def unique_text(rng: random.Random, n: int, base: str) -> str:
    """A unique head (new words among common ones, as in real traffic) on a shared long body."""
    head = " ".join(
        rng.choice(_WORDS)
        if rng.random() < 0.8
        else "".join(rng.choices(string.ascii_lowercase, k=7))
        for _ in range(300)
    )
    return f"request {n}: {head} {base}"[: len(base)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--texts", type=int, default=4096)
    parser.add_argument("--kb", type=int, default=255)
    args = parser.parse_args()

    from serving.app import build_state
    from serving.inputs import ClassifyInput
    from serving.model_store import load_bundle
    from serving.settings import ServingSettings

    state = build_state(ServingSettings(bundle_path=args.bundle, max_body_bytes=1 << 20))
    state.store.swap(
        load_bundle(args.bundle, intra_op_threads=1, warmup=5, source=str(args.bundle))
    )
    rng = random.Random(11)
    base = (" ".join(_WORDS) + " ") * (args.kb * 1000 // 80 + 1)
    base = base[: args.kb * 1000]
    warm = ClassifyInput(text="warm up", feature=None, request_id=None, context_chars=0)
    state.service.classify(warm)
    gc.collect()
    before = rss_mib()
    start = time.perf_counter()
    for n in range(args.texts):
        text = unique_text(rng, n, base)
        state.service.classify(
            ClassifyInput(text=text, feature="doc_summary", request_id=None, context_chars=0)
        )
    took = time.perf_counter() - start
    gc.collect()
    after = rss_mib()
    sys.stdout.write(
        f"{args.texts} unique texts of {args.kb} KB: RSS {before:.0f} -> {after:.0f} MiB "
        f"(+{after - before:.0f}); decision cache {len(state.cache)} entries; "
        f"{took / args.texts * 1000:.1f} ms per text\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
