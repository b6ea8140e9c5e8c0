"""Starting Ray for tierwise's pipelines: a local cluster unless one is already reachable."""

from __future__ import annotations

import os
import sys
from typing import Any


def require_ray() -> Any:
    """Import ray or say how to get it: the default install has no Ray."""
    try:
        import ray
        import ray.data  # noqa: F401 - the data extra
    except ImportError as exc:
        raise ImportError("the Ray engine needs Ray: pip install 'tierwise[ray]'") from exc
    return ray


def start_ray(num_cpus: int | None = None) -> Any:
    """Connect to `$RAY_ADDRESS` if set, else start a local cluster of `num_cpus` CPUs.

    A cluster already started in this process is reused as it is. Workers get this process's
    `sys.path`, so they import the same tierwise (a source checkout included).
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    path = os.pathsep.join(p for p in sys.path if p)
    env = {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    ray.init(
        address=os.environ.get("RAY_ADDRESS"),
        num_cpus=None if os.environ.get("RAY_ADDRESS") else num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": env},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray
