"""`tierwise drift` and `tierwise retrain-on-drift`: report drift; retrain and gate when crossed.

`drift` exits 0 when no signal crossed its threshold, 3 when one did (so a scheduler can chain
it), 2 on bad input. `retrain-on-drift` is the documented job (docs/drift.md): when drift is
crossed (or with --force) it splits the newest labelled logs by time, trains a candidate on the
older part (`tierwise train`: registered as `challenger`) and hands it to the promotion gate
(`tierwise promote`) with the newest part as the gate's unseen rows; `champion` moves only if
the gate passes. Nothing heavy is imported at registration time.

Until the package is reinstalled with these entry points, run `python -m training.drift.cli`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import orjson

DEFAULT_BUNDLE = Path("models/default")
DEFAULT_WORK = Path(".tierwise")
DRIFTED = 3  # exit code of `tierwise drift` when a threshold is crossed


def _drift_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="model bundle dir")
    parser.add_argument(
        "--outcomes",
        type=Path,
        nargs="+",
        default=[],
        help="the service's outcomes.jsonl (failure rate by tier)",
    )
    parser.add_argument("--window", type=int, default=20_000, help="newest requests compared")
    parser.add_argument("--psi", type=float, default=0.2, help="PSI threshold per signal")
    parser.add_argument(
        "--rate", type=float, default=0.1, help="abstain / failure rate change that counts as drift"
    )
    parser.add_argument("--min-requests", type=int, default=500,
                        help="fewer requests in the window: nothing is judged")  # fmt: skip


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "drift",
        help="compare the newest logged requests with the bundle's training reference",
        description="PSI of token counts, intent confidence and the intent/risk/tier mix, and "
        "the abstain and per-tier failure rates, of the newest --window requests in --logs "
        "against the bundle's reference statistics. Exit 3 when a threshold is crossed.",
    )
    parser.add_argument(
        "--logs",
        type=Path,
        nargs="+",
        required=True,
        help="decision logs (the service's decisions.jsonl) or training logs",
    )
    _drift_args(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_run_drift)


def register_job(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retrain-on-drift",
        help="when drift is crossed: train on the newest logs, then the promotion gate",
        description="Runs `tierwise drift` on --drift-logs (default --logs); when a threshold "
        "is crossed (or --force), trains a candidate on the older part of --logs and promotes "
        "it only past the gate, scored on the newest --gate-share of --logs. Exit 0: no drift "
        "or promoted; 1: the gate refused the candidate; 2: bad input.",
    )
    parser.add_argument(
        "--logs",
        type=Path,
        nargs="+",
        required=True,
        help="labelled logs to retrain on (e.g. reviewed-outcomes.jsonl)",
    )
    parser.add_argument("--corrections", type=Path, nargs="+", default=[])
    parser.add_argument(
        "--drift-logs",
        type=Path,
        nargs="+",
        default=[],
        help="requests to measure drift on (default: --logs)",
    )
    parser.add_argument(
        "--gate-share",
        type=float,
        default=0.2,
        help="newest share of --logs kept out of training for the gate",
    )
    parser.add_argument(
        "--candidate-dir",
        type=Path,
        default=None,
        help="where the candidate bundle goes (default: in --work-dir)",
    )
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--force", action="store_true", help="retrain even without drift")
    parser.add_argument(
        "--student-dir",
        type=Path,
        default=None,
        help="a distilled student (default: distil once into the cache)",
    )
    _drift_args(parser)
    parser.add_argument("--config", type=Path, default=None, help="training config YAML")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override one training config key")  # fmt: skip
    parser.set_defaults(handler=_run_job)


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"tierwise: {message}\n")
    return code


def _report(args: argparse.Namespace, logs: list[Path]) -> tuple[dict[str, Any], Any]:
    from classifier.drift import Thresholds
    from training.drift.report import drift_over_logs

    thresholds = Thresholds(args.psi, args.rate, args.min_requests)
    report = drift_over_logs(args.bundle, logs, outcomes=args.outcomes, window=args.window,
                             thresholds=thresholds)  # fmt: skip
    return report, thresholds


def _run_drift(args: argparse.Namespace) -> int:
    from classifier.errors import ClassifierError
    from training.drift.report import render

    try:
        report, thresholds = _report(args, args.logs)
    except ClassifierError as exc:
        return _fail(str(exc))
    out = json.dumps(report, indent=2) + "\n" if args.json else render(report, thresholds)
    sys.stdout.write(out)
    return DRIFTED if report["crossed"] else 0


def split_by_time(logs: list[Path], gate_share: float, out: Path) -> tuple[Path, Path]:
    """Older rows to train.jsonl, the newest `gate_share` to gate.jsonl (lines kept as read)."""
    from training.drift.report import newest_records

    records = newest_records(logs, 0)
    cut = len(records) - max(1, round(len(records) * gate_share))
    if cut < 1:
        raise ValueError(f"{len(records)} records cannot be split; pass more logs")
    out.mkdir(parents=True, exist_ok=True)
    train, gate = out / "train.jsonl", out / "gate.jsonl"
    for path, rows in ((train, records[:cut]), (gate, records[cut:])):
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return train, gate


def _run_job(args: argparse.Namespace) -> int:
    from classifier.errors import ClassifierError
    from training.config import load_config
    from training.drift.report import render
    from training.pipeline import train
    from training.promote import promote

    if not 0.0 < args.gate_share < 1.0:
        return _fail(f"--gate-share {args.gate_share} must be between 0 and 1 (exclusive)")
    try:
        report, thresholds = _report(args, args.drift_logs or args.logs)
        sys.stdout.write(render(report, thresholds))
        if not report["crossed"] and not args.force:
            sys.stdout.write("no drift crossed: nothing retrained\n")
            return 0
        cfg = load_config(args.config, args.overrides)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d.%H%M%S")
        work = args.work_dir / f"retrain-{stamp}"
        train_logs, gate_logs = split_by_time(list(args.logs), args.gate_share, work)
        result = train(
            [train_logs],
            corrections=args.corrections,
            bundle_dir=(args.candidate_dir or work / "candidate"),
            config=cfg,
            work_dir=work,
            progress=False,
        )
        if result.model_version is None:
            return _fail("the candidate was not registered; check the MLflow tracking URI")
        sys.stdout.write(f"candidate: {result.bundle_dir} (v{result.model_version}, "
                         f"{result.alias})\n")  # fmt: skip
        decision = promote(result.model_version, cfg, logs=[gate_logs],
                           corrections=args.corrections)  # fmt: skip
    except (ClassifierError, ValueError) as exc:
        return _fail(str(exc))
    sys.stdout.write(decision.message + "\n")
    return 1 if decision.outcome == "refused" else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m training.drift.cli drift|retrain-on-drift ...` (the same as `tierwise ...`)."""
    parser = argparse.ArgumentParser(prog="tierwise")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers)
    register_job(subparsers)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
