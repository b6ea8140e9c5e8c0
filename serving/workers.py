"""`tierwise serve --workers N`: N uvicorn worker processes on one socket, one supervisor.

Each worker builds its own app from the environment (`serving.app:app_from_env`), so the flags
are handed over as `TIERWISE_*` variables. What must agree across workers goes through files:
switches and the policy mode through TIERWISE_SWITCHES_PATH (serving/switchboard.py, followed
within TIERWISE_SYNC_INTERVAL_S), metrics through prometheus-client's multiprocess folder
(serving/multiproc.py). The supervisor restarts a worker that dies and stops when one cannot
start (a bad bundle with --require-model, an unreadable switches file).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from copy import deepcopy
from pathlib import Path
from typing import Any

from serving import multiproc

log = logging.getLogger(__name__)

APP = "serving.app:app_from_env"


def default_workers() -> int:
    """One per core this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def export_settings(overrides: Mapping[str, Any]) -> None:
    """Flags become the workers' `TIERWISE_*` variables (a None removes the variable)."""
    for field, value in overrides.items():
        name = f"TIERWISE_{field.upper()}"
        if value is None:
            os.environ.pop(name, None)
        elif isinstance(value, bool):
            os.environ[name] = "true" if value else "false"
        else:
            os.environ[name] = str(value)


@contextlib.contextmanager
def metrics_folder() -> Iterator[Path]:
    """PROMETHEUS_MULTIPROC_DIR for this run: the one given (emptied of old files), or a
    temporary folder removed at exit. One folder per server: two servers sharing one would
    add up each other's counts."""
    given = multiproc.directory()
    folder = given if given is not None else Path(tempfile.mkdtemp(prefix="tierwise-metrics-"))
    multiproc.prepare(folder)
    os.environ[multiproc.ENV] = str(folder)
    try:
        yield folder
    finally:
        if given is None:
            shutil.rmtree(folder, ignore_errors=True)
            os.environ.pop(multiproc.ENV, None)


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging plus the root logger, so the workers' own messages (audit, reloads,
    log writers) are printed with the worker's pid."""
    from uvicorn.config import LOGGING_CONFIG

    config = deepcopy(LOGGING_CONFIG)
    config["formatters"]["tierwise"] = {
        "format": "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"
    }
    config["handlers"]["tierwise"] = {
        "class": "logging.StreamHandler",
        "formatter": "tierwise",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["tierwise"], "level": level.upper()}
    return config


def serve(settings: Any, workers: int) -> int:
    """Run the supervisor until SIGTERM/SIGINT; 3 when a worker could not start."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    with metrics_folder() as folder:
        log.info("%d workers, metrics summed over %s", workers, folder)
        config = uvicorn.Config(
            APP,
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            log_level=settings.log_level,
            log_config=log_config(settings.log_level),
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        supervisor = Multiprocess(config, sockets=[config.bind_socket()])
        supervisor.run()
        failed = [p.pid for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        log.error("worker(s) %s could not start; see their messages above", failed)
        return STARTUP_FAILURE
    return 0
