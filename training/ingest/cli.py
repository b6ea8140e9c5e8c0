"""`tierwise ingest`: validate routing logs and print the ingestion report, without training.

A dry run for an exporter: it shows how many lines would be used, what was quarantined and why,
and the labels that would be derived.

    python -m training.ingest.cli logs/logs.jsonl --corrections logs/corrections.jsonl \
        --quarantine logs/quarantine.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from classifier.errors import InputError
from training.ingest.load import load_training_set
from training.ingest.objectstore import as_source


def register(subparsers: Any) -> None:
    """Add the `ingest` sub-command (entry point group `tierwise.commands`)."""
    parser = subparsers.add_parser("ingest", help=__doc__.splitlines()[0])
    _add_arguments(parser)
    parser.set_defaults(handler=run)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "logs",
        nargs="+",
        type=as_source,
        help="JSONL (.jsonl, .jsonl.gz) or Parquet: paths or "
        "store URIs (s3://bucket/prefix/, gs://...; docs/scale-out.md)",
    )
    parser.add_argument(
        "--corrections", nargs="*", type=as_source, default=[], help="correction streams"
    )
    parser.add_argument(
        "--quarantine", type=Path, default=None, help="quarantine JSONL (default: a temp file)"
    )
    parser.add_argument("--report", type=Path, default=None, help="also write the report here")


def run(args: argparse.Namespace) -> int:
    """Print the report as JSON; exit 0 if every line is accounted for, 2 on unreadable input."""
    try:
        _, report = load_training_set(args.logs, args.corrections, args.quarantine)
    except InputError as error:
        sys.stderr.write(f"tierwise ingest: {error}\n")
        return 2
    payload = orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2)
    if args.report:
        args.report.write_bytes(payload + b"\n")
    sys.stdout.write(payload.decode() + "\n")
    return 0 if report.balanced else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tierwise ingest", description=__doc__.splitlines()[0])
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
