"""`python -m reliability --bundle models/default --soak-minutes 10 --out reliability-run/`

Writes `report.json` (every window) into `--out` and prints the summary table that
docs/reliability.md quotes. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from reliability import suite

ROOT = Path(__file__).resolve().parents[1]


def markdown(report: dict[str, Any]) -> str:
    soak, faults, fuzz, bad = (report[k] for k in ("soak", "reload_faults", "fuzz", "malformed"))
    rows = [
        ("requests sent (soak + reload faults + malformed)", f"{report['client_requests']:,}"),
        ("requests counted by the server (every route, fuzzing included)",
         f"{report['server_requests']:,}"),
        ("5xx answers (server's own count)", f"{report['server_5xx']}"),
        ("crashed processes", f"{report['crashes']}"),
        ("schema fuzzing: operations / generated cases / failures",
         f"{fuzz['tests']} / {fuzz.get('cases', 0):,} / {fuzz['failures'] + fuzz['errors']}"),
        ("malformed raw requests: cases / 5xx / hangs",
         f"{bad['cases']} / {bad['server_errors']} / {bad['timeouts']}"),
        ("soak: rate, duration (after a warm-up not counted)",
         f"{soak['rate_per_s']:.0f} req/s for {soak['seconds'] / 60:.1f} min "
         f"(capacity measured: {report.get('capacity_per_s', 'not measured')} req/s; "
         f"warm-up {soak.get('warmup_s', 0):.0f} s)"),
        ("soak: failed requests", f"{soak['failed']}"),
        ("soak: RSS after warm-up -> end (max)",
         f"{soak['rss_start_mib']:.0f} -> {soak['rss_end_mib']:.0f} MiB "
         f"({soak['rss_growth']:+.1%}; max {soak['rss_max_mib']:.0f})"),
        ("soak: p99 first -> last window",
         f"{soak['p99_start_ms']:.1f} -> {soak['p99_end_ms']:.1f} ms (x{soak['p99_ratio']})"),
        ("reload faults: requests / failed", f"{faults['requests']:,} / {faults['failed']}"),
        ("reload faults: loads refused, version served after",
         f"{faults['loads_refused']}, {', '.join(faults['serving_versions_after'])}"),
    ]  # fmt: skip
    lines = ["| | |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows), ""]
    lines += ["| window (s) | requests | failed | p50 ms | p99 ms | max ms | RSS MiB | load |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for w in soak["windows"]:
        lines.append(
            f"| {w['t_s']:.0f} | {w['requests']} | {w['failed']} | {w['p50_ms']} | "
            f"{w['p99_ms']} | {w['max_ms']} | {w.get('rss_mib', '')} | {w.get('load_1m', '')} |"
        )
    lines += [
        "",
        *(f"- {'PASS' if ok else 'FAIL'}: {name}" for name, ok in report["verdict"].items()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--out", type=Path, default=ROOT / "reliability-run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--window-seconds", type=float, default=30.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="requests per second (default: --load-share of the measured capacity)",
    )
    parser.add_argument(
        "--load-share",
        type=float,
        default=0.5,
        help="share of the measured capacity the soak runs at",
    )
    parser.add_argument("--warmup-seconds", type=float, default=60.0)
    parser.add_argument("--fuzz-examples", type=int, default=50)
    parser.add_argument("--fuzz-seconds", type=int, default=120)
    args = parser.parse_args(argv)  # fmt: skip
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not (args.bundle / "manifest.json").exists():
        parser.error(f"no bundle at {args.bundle}: build one with `tierwise train --build-default`")
    report = suite.run(
        args.bundle,
        args.out,
        workers=args.workers,
        soak_s=args.soak_minutes * 60,
        window_s=args.window_seconds,
        rate=args.rate,
        load_share=args.load_share,
        warmup_s=args.warmup_seconds,
        fuzz_examples=args.fuzz_examples,
        fuzz_time_s=args.fuzz_seconds,
    )
    (args.out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    sys.stdout.write(markdown(report))
    return 0 if all(report["verdict"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
