"""`tierwise evaluate`: replay routing policies on held-out logs (training.replay.run).

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
DEFAULT_OUT = DEFAULT_WORK / "evaluate"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score rules, learned, kNN, prompt-length, fixed-tier, random and oracle routing on "
        "held-out logs",
        description="Offline replay on the newest slice of the logs (split as `tierwise train` "
        "splits). With --truth (simulator) the scores are exact; without, they are "
        "inverse-propensity estimates with bootstrap intervals. Writes report.md, "
        "replay.json and cost_quality.png to --out and logs one MLflow run.",
    )
    parser.add_argument(
        "--logs",
        type=as_source,
        nargs="+",
        default=[],
        help="log files or store URIs, s3://bucket/prefix/ (default: the generated default "
        "logs, as `tierwise train --build-default` makes them)",
    )
    parser.add_argument("--corrections", type=as_source, nargs="+", default=[])
    parser.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="simulator truth.jsonl: exact scores (default data: its truth file)",
    )
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="model bundle dir")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report directory")
    parser.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK, help="where the default generated logs live"
    )
    parser.add_argument(
        "--replays",
        type=int,
        default=4,
        help="playbook draws per request and first tier (exact mode)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=None,
        help="score a seeded sample of this many held-out requests",
    )
    parser.add_argument("--knn-k", type=int, default=25)
    parser.add_argument("--knn-max-train", type=int, default=20_000)
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples (IPS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-mlflow", action="store_true", help="write the report only")
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="score the held-out requests in this process (default) or on Ray Data (the ray "
        "extra); the report is the same",
    )
    parser.add_argument("--ray-workers", type=int, default=None, help="Ray actors (CPUs)")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="training config (split fractions, tracking URI, experiment)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one training config key",
    )
    parser.add_argument(
        "--kpi",
        type=Path,
        nargs="+",
        default=[],
        help="KPI events JSONL (data/kpi-event-v1.json): instead of the replay, join them to "
        "--logs and report cost, failures and KPIs per arm and prompt version (training/kpi/)",
    )
    parser.set_defaults(handler=_run)


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"tierwise: {message}\n")
    return code


def _run(args: argparse.Namespace) -> int:
    if args.kpi:
        from training.kpi.cli import run as run_kpi

        return run_kpi(args)
    from classifier.errors import ClassifierError
    from training.config import load_config
    from training.replay.run import ReplayConfig, run_replay

    try:
        cfg = load_config(args.config, args.overrides)
        logs, corrections, truth = list(args.logs), list(args.corrections), args.truth
        if not logs:
            from data.generator.cached import default_logs

            log_path, corr_path, truth_path = default_logs(
                args.work_dir, cfg.generate.n, cfg.generate.seed
            )
            logs, corrections, truth = [log_path], [corr_path], truth or truth_path
        if not Path(args.bundle).is_dir():
            return _fail(
                f"no bundle at {args.bundle}; train one with `tierwise train "
                "--build-default` or pass --bundle DIR"
            )
        rc = ReplayConfig(
            replays=args.replays,
            seed=args.seed,
            knn_k=args.knn_k,
            knn_max_train=args.knn_max_train,
            bootstrap=args.bootstrap,
            max_eval_rows=args.max_rows,
        )
        result = run_replay(
            logs,
            corrections,
            truth,
            args.bundle,
            args.out,
            config=rc,
            train_config=cfg,
            track=not args.no_mlflow,
            engine=args.engine,
            workers=args.ray_workers,
        )
    except (ClassifierError, ValueError) as exc:
        return _fail(str(exc))
    from training.replay.report import headline_table

    sys.stdout.write(
        f"{result.verdict}\n\n{headline_table(result)}\n\n"
        + "".join(
            f"{name}: CPT(50%) {g['cpt50']:.3f}, CPT(80%) {g['cpt80']:.3f}, APGR {g['apgr']:.3f}\n"
            for name, g in result.gaps.items()
        )
        + f"\nreport: {result.files['report']}\n"
        + (f"MLflow run: {result.run_id}\n" if result.run_id else "")
    )
    return 0
