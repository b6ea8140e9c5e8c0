"""`tierwise train | export | promote`: thin argparse shells over training.* (`evaluate` is
training.replay.cli).

Nothing heavy is imported at registration time, so `tierwise --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from training.ingest.objectstore import as_source

DEFAULT_BUNDLE = Path("models/default")
DEFAULT_WORK = Path(".tierwise")


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML config replacing the packaged training/defaults.yaml",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set heads.max_iter=50 (repeatable)",
    )


def _load_config(args: argparse.Namespace) -> Any:
    from training.config import load_config

    return load_config(args.config, args.overrides)


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"tierwise: {message}\n")
    return code


# --- train ------------------------------------------------------------------------------------


def register_train(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train", help="ingest logs, fit, evaluate, export a bundle and register it in MLflow"
    )
    parser.add_argument(
        "--logs",
        type=as_source,
        nargs="+",
        default=[],
        help="log files (JSONL/Parquet): paths or store URIs (s3://bucket/prefix/, gs://...)",
    )
    parser.add_argument(
        "--corrections",
        type=as_source,
        nargs="+",
        default=[],
        help="correction-event streams joined on request_id",
    )
    parser.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="simulator truth.jsonl: adds the unseen-templates/domains evaluation",
    )
    parser.add_argument(
        "--build-default",
        action="store_true",
        help="without --logs: generate the default logs (generate.n, generate.seed) "
        "into the work dir first",
    )
    parser.add_argument("--bundle-dir", type=Path, default=DEFAULT_BUNDLE, help="bundle output dir")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=DEFAULT_WORK,
        help="generated logs and the quarantine file go here",
    )
    parser.add_argument(
        "--report",
        type=Path,
        action="append",
        default=[],
        help="also write the markdown report here (e.g. docs/evaluation.md)",
    )
    parser.add_argument(
        "--student-dir",
        type=Path,
        default=None,
        help="a distilled student (default: distil once into the cache)",
    )
    parser.add_argument(
        "--no-register", action="store_true", help="track the run, skip the registry"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--engine", choices=["local", "ray"], default="local",
        help="ingest and embed in this process (default) or on Ray Data (the ray extra)",
    )  # fmt: skip
    parser.add_argument("--ray-workers", type=int, default=None, help="CPUs of a local Ray")
    parser.add_argument(
        "--fit-sample", type=int, default=None,
        help="fit the heads on a stratified sample of N train rows (logged to MLflow)",
    )  # fmt: skip
    _config_args(parser)
    parser.set_defaults(handler=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from classifier.errors import ClassifierError
    from data.generator.cached import default_logs
    from training.pipeline import train

    try:
        cfg = _load_config(args)
        logs, corrections, truth = list(args.logs), list(args.corrections), args.truth
        if not logs:
            if not args.build_default:
                return _fail(
                    "pass --logs FILE... (and --corrections), or --build-default to "
                    "train on generated logs"
                )
            if cfg.taxonomy is not None:  # the simulator writes the default labels only
                return _fail(
                    f"--build-default generates logs in the default taxonomy, but the config "
                    f"names taxonomy {cfg.taxonomy}; pass --logs in that taxonomy's labels "
                    "(docs/taxonomy.md)"
                )
            log_path, corr_path, truth_path = default_logs(
                args.work_dir, cfg.generate.n, cfg.generate.seed
            )
            logs, corrections, truth = [log_path], [corr_path], truth or truth_path
        result = train(
            logs,
            corrections=corrections,
            truth=truth,
            bundle_dir=args.bundle_dir,
            config=cfg,
            work_dir=args.work_dir,
            student_dir=args.student_dir,
            register=not args.no_register,
            progress=not args.no_progress,
            extra_report_paths=args.report,
            engine=args.engine,
            engine_workers=args.ray_workers,
            fit_sample=args.fit_sample,
        )
    except ClassifierError as exc:
        return _fail(str(exc))
    registered = (
        f"registered {cfg.tracking.registered_model} v{result.model_version} (alias {result.alias})"
        if result.model_version
        else "not registered"
    )
    sys.stdout.write(
        f"bundle: {result.bundle_dir}\nreport: {result.report_path}\nrun: {result.run_id}\n"
        f"{registered}\n"
        + "".join(
            f"  {k}: {v:.4f}\n"
            for k, v in result.metrics.items()
            if k.startswith("time/student/") and ("macro_f1" in k or "ece" in k)
        )
        + f"total {sum(result.timings.values()):.0f} s: "
        + ", ".join(f"{k} {v:.0f}s" for k, v in result.timings.items())
        + "\n"
    )
    return 0


# --- export -----------------------------------------------------------------------------------


def register_export(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export", help="write the bundle of a registered version (or alias, or run) to a directory"
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", help="registered model version")
    which.add_argument("--alias", help="registry alias, e.g. champion")
    which.add_argument("--run-id", help="training run whose registered bundle to export")
    parser.add_argument("--out", type=Path, required=True, help="target bundle directory")
    parser.add_argument("--name", default=None, help="registered model name (default: config)")
    _config_args(parser)
    parser.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from classifier.errors import ClassifierError
    from training.tracking import export_registered

    try:
        cfg = _load_config(args)
        out, version = export_registered(
            cfg,
            args.out,
            name=args.name,
            version=args.version,
            alias=args.alias,
            run_id=args.run_id,
        )
    except ClassifierError as exc:
        return _fail(str(exc))
    sys.stdout.write(f"exported version {version} to {out}\n")
    return 0


# --- promote ----------------------------------------------------------------------------------


def register_promote(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="mark a version challenger; make it champion only if it clears the gate",
        description="Score the candidate and the champion on the same labelled logs, outside "
        "both training windows, and move `champion` only if the candidate improves "
        "promote.metric by more than promote.min_delta without worse calibration, failures "
        "or cost at equal failures (docs/training.md). Every decision is logged to MLflow.",
    )
    parser.add_argument("--version", required=True, help="registered model version to promote")
    parser.add_argument(
        "--logs",
        type=Path,
        nargs="+",
        default=[],
        help="labelled logs recorded after both models' training windows (required to compare)",
    )
    parser.add_argument("--corrections", type=Path, nargs="+", default=[])
    parser.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="simulator truth.jsonl: exact routing replay instead of inverse-propensity estimates",
    )
    parser.add_argument(
        "--min-delta",
        type=float,
        default=None,
        help="gate: required improvement of promote.metric, >= 0 (default: config)",
    )
    parser.add_argument(
        "--metric",
        default=None,
        help="metric compared, in its own direction: e.g. mean_macro_f1, intent_ece (default: "
        "config)",
    )
    parser.add_argument(
        "--allow-first-champion",
        action="store_true",
        help="with no champion yet, make this version the first one (nothing to compare with)",
    )
    parser.add_argument(
        "--allow-unknown-window",
        action="store_true",
        help="score a version whose manifest records no training window as if it had seen none "
        "of the rows (logged with the decision)",
    )
    _config_args(parser)
    parser.set_defaults(handler=_run_promote)


def _run_promote(args: argparse.Namespace) -> int:
    from classifier.errors import ClassifierError
    from training.promote import promote

    if args.min_delta is not None and not args.min_delta >= 0:
        return _fail(
            f"--min-delta {args.min_delta} would let a candidate that is worse than the champion "
            "through; it is the improvement the candidate must show, so pass 0 or more"
        )
    try:
        overrides = list(args.overrides)
        if args.min_delta is not None:
            overrides.append(f"promote.min_delta={args.min_delta}")
        if args.metric is not None:
            overrides.append(f"promote.metric={args.metric}")
        args.overrides = overrides
        cfg = _load_config(args)
        decision = promote(
            args.version,
            cfg,
            logs=args.logs,
            corrections=args.corrections,
            truth=args.truth,
            allow_first_champion=args.allow_first_champion,
            allow_unknown_window=args.allow_unknown_window,
        )
    except ClassifierError as exc:
        return _fail(str(exc))
    if decision.outcome == "refused":
        sys.stderr.write(decision.message + "\n")
        return 1
    sys.stdout.write(decision.message + "\n")
    return 0
