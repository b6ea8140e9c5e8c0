"""The `tierwise` command.

Each package registers its own sub-commands through the `tierwise.commands` entry-point group
(see pyproject.toml), so this leaf package never imports `training` or `serving`. A sub-command
whose extra is not installed is still listed, and says what to install when called.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import orjson

Handler = Callable[[argparse.Namespace], int]
_OWN_PACKAGES = {"classifier", "training", "serving", "data"}


def _missing_extra(name: str, error: ImportError) -> Callable[[Any], None]:
    def register(subparsers: Any) -> None:
        parser = subparsers.add_parser(name, help=f"(unavailable: {error.name} is not installed)")

        def fail(_: argparse.Namespace) -> int:
            sys.stderr.write(
                f"tierwise {name} needs {error.name!r}, which is not installed.\n"
                "Install the extra it belongs to, e.g. `pip install -e '.[train,serve]'`.\n"
            )
            return 2

        parser.set_defaults(handler=fail)

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tierwise", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for entry in sorted(entry_points(group="tierwise.commands"), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as exc:
            if (exc.name or "").split(".")[0] in _OWN_PACKAGES:
                raise  # a bug in tierwise itself, not a missing extra
            register = _missing_extra(entry.name, exc)
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    return handler(args)


def register_classify(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify JSONL from stdin or a file; one JSON prediction and route per line out",
    )
    parser.add_argument("--bundle", type=Path, default=Path("models/default"), help="bundle dir")
    parser.add_argument("--input", type=Path, default=None, help="JSONL file (default: stdin)")
    parser.add_argument("--contracts", type=Path, default=None, help="contracts YAML (packaged)")
    parser.add_argument(
        "--routing-table", type=Path, default=None, help="routing table YAML (packaged)"
    )
    parser.set_defaults(handler=_run_classify)


def _run_classify(args: argparse.Namespace) -> int:
    """Each line `{"id", "text", "feature"?}` -> the prediction plus the learned policy's route,
    decided by the same `Policy.decide` as the service (no switches, no serving margins)."""
    from classifier.contracts import load_contracts, load_routing_table
    from classifier.policies import LearnedPolicy
    from classifier.runtime import Classifier
    from classifier.taxonomy import require_same

    contracts = load_contracts(args.contracts)
    classifier = Classifier.load(args.bundle)
    require_same(classifier.taxonomy, contracts.taxonomy, bundle_source=str(args.bundle),
                 contracts_source=contracts.source)  # fmt: skip
    policy = LearnedPolicy(
        contracts,
        load_routing_table(args.routing_table, contracts.taxonomy),
        classifier=classifier,
    )
    source = args.input.open("rb") if args.input else sys.stdin.buffer
    out = sys.stdout.buffer
    bad = 0
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
            text, feature = item["text"], item.get("feature")
            if not isinstance(text, str) or not text.strip():
                raise ValueError("text must be a non-empty string")
            if feature is not None and not isinstance(feature, str):
                raise ValueError("feature must be a string (a contract's name) or absent")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            bad += 1
            out.write(orjson.dumps({"line": number, "error": str(exc)}) + b"\n")
            continue
        decision = policy.route(text, feature)
        prediction = decision.prediction.to_dict() if decision.prediction is not None else {}
        record = {"id": item.get("id"), **prediction, "route": decision.to_dict()}
        out.write(orjson.dumps(record) + b"\n")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
