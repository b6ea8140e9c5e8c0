"""`tierwise serve`: uvicorn with uvloop and httptools, settings from flags and env.

Flags override TIERWISE_* variables; everything else comes from the environment (docs/serving.md).
One worker runs in this process; several run under a supervisor (serving/workers.py).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve POST /classify over HTTP (FastAPI + uvicorn)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bundle", type=Path, default=None, help="bundle directory to serve")
    source.add_argument(
        "--model-uri",
        default=None,
        help="MLflow URI instead of a directory, e.g. models:/tierwise@champion",
    )
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8000)")
    parser.add_argument(
        "--reload-interval", type=float, default=None, help="seconds between bundle checks; 0 = off"
    )
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: TIERWISE_WORKERS, else one per core)",
    )
    parser.add_argument(
        "--require-model", action="store_true", help="exit if the first load fails (default: 503)"
    )
    parser.set_defaults(handler=run)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags name (None: the flag clears the field, e.g. --bundle clears the
    model URI)."""
    overrides: dict[str, Any] = {}
    for flag, field in (
        ("bundle", "bundle_path"),
        ("model_uri", "model_uri"),
        ("host", "host"),
        ("port", "port"),
        ("reload_interval", "reload_interval_s"),
        ("threads", "intra_op_threads"),
        ("workers", "workers"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    if args.bundle is not None:
        overrides["model_uri"] = None
    if args.model_uri is not None:
        overrides["bundle_path"] = None
    if args.require_model:
        overrides["require_model"] = True
    return overrides


def settings_from_args(args: argparse.Namespace) -> Any:
    """Environment first, then the flags that were given."""
    from serving.settings import ServingSettings

    base = ServingSettings()
    return ServingSettings.model_validate({**base.model_dump(), **overrides_from_args(args)})


def run(args: argparse.Namespace) -> int:
    try:  # the serve extra; an ImportError inside serving itself is a bug and is not hidden
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        log.error("tierwise serve needs %s: `pip install -e '.[serve]'`", exc.name)
        return 2
    from pydantic import ValidationError

    from serving.app import create_app

    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        log.error("invalid serving settings: %s", exc)
        return 2
    if settings.bundle_path is not None and not settings.bundle_path.exists():
        log.warning(
            "bundle %s does not exist yet: serving 503 until it appears (build one with "
            "`tierwise train --build-default`)",
            settings.bundle_path,
        )
    from serving import workers

    count = settings.workers or workers.default_workers()
    if count * settings.intra_op_threads > workers.default_workers():
        log.warning(
            "%d workers x %d onnxruntime threads exceed the %d cores: they will contend; "
            "lower --workers or --threads",
            count, settings.intra_op_threads, workers.default_workers(),
        )  # fmt: skip
    if count > 1:
        workers.export_settings(overrides_from_args(args))
        return workers.serve(settings, count)
    from serving import multiproc

    folder = multiproc.directory()
    if folder is not None:  # one worker under a multiprocess folder the caller set
        multiproc.prepare(folder)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0
