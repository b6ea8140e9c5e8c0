#!/usr/bin/env python
"""p99 over time of two checkouts' servers under the same open-loop load of unique texts.

The before/after figure for docs/serving.md, "Garbage collection": each checkout's `serving` is
started with one worker, the decision log on, and soaked in turn at the same rate; windows of
p50/p99/max latency and RSS are printed as JSON lines.

Example:
    .venv/bin/python scripts/soak_compare.py --before ../main --rate 150 --seconds 180
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reliability.load import OpenLoad, Window  # noqa: E402
from reliability.server import ServerProcess  # noqa: E402


def soak(code: Path, bundle: Path, rate: float, seconds: float, window_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"TIERWISE_LOG_DIR": f"{tmp}/logs", "TIERWISE_WORKERS": "1",
               "TIERWISE_RELOAD_INTERVAL_S": "0"}  # fmt: skip
        server = ServerProcess(["--bundle", str(bundle)], env, Path(tmp) / "server.log", code=code)
        try:

            def sample(window: Window) -> None:
                window.extra["rss_mib"] = round(server.rss_mib(), 1)

            load = OpenLoad(server.port, rate, connections=32)
            windows = asyncio.run(load.run(seconds, window_s=window_s, on_window=sample))
        finally:
            server.stop()
    for w in windows:
        w.pop("statuses")
        sys.stdout.write(json.dumps({"code": str(code), **w}) + "\n")
    p99s = [w["p99_ms"] for w in windows[1:]]
    sys.stdout.write(
        json.dumps({"code": str(code), "requests": load.sent, "failed": load.sent
                    - load.statuses.get("200", 0), "p99_ms_windows_after_first": p99s,
                    "max_ms": max(w["max_ms"] for w in windows)}) + "\n"
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--window-seconds", type=float, default=30.0)
    args = parser.parse_args()
    for code in (args.before, args.after):
        soak(code.resolve(), args.bundle, args.rate, args.seconds, args.window_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
