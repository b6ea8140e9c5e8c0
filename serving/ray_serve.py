"""The same FastAPI service as a Ray Serve deployment: replicas, autoscaling, one app.

Each replica builds the app with `create_app(settings)` at start (Serve runs its lifespan), so
it loads the model exactly as `tierwise serve` does: a bundle directory or the MLflow champion
(`TIERWISE_MODEL_URI=models:/tierwise@champion`), `/v2/health/ready` 503 until loaded. Settings
come from the environment (`TIERWISE_*`) plus the overrides given here; one onnxruntime thread
per replica, so replicas x 1 thread <= cores.

    python -m serving.ray_serve --bundle models/default --replicas 2 --port 8000
    python -m serving.ray_serve --model-uri models:/tierwise@champion --max-replicas 4

Needs the `ray` extra (`pip install 'tierwise[ray,serve]'`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)

APP_NAME = "tierwise"


def _require_serve() -> Any:
    try:
        from ray import serve
    except ImportError as exc:
        raise ImportError(
            "Ray Serve needs the ray extra: pip install 'tierwise[ray,serve]'"
        ) from exc
    return serve


def build(
    overrides: dict[str, Any] | None = None,
    *,
    replicas: int = 1,
    max_replicas: int | None = None,
    target_ongoing_requests: int = 8,
) -> Any:
    """A bound Serve application of the tierwise app; `max_replicas` turns on autoscaling."""
    serve = _require_serve()

    class TierwiseIngress:
        def __init__(self, settings: dict[str, Any]) -> None:
            self.settings = settings

        def __serve_build_asgi_app__(self) -> Any:
            from serving.app import create_app
            from serving.settings import ServingSettings

            return create_app(ServingSettings(**self.settings))

    options: dict[str, Any] = {
        "name": APP_NAME,
        "ray_actor_options": {"num_cpus": 1},
        "health_check_period_s": 10,
    }
    if max_replicas is not None:
        options["autoscaling_config"] = {
            "min_replicas": replicas,
            "max_replicas": max_replicas,
            "target_ongoing_requests": target_ongoing_requests,
        }
    else:
        options["num_replicas"] = replicas
    deployment = serve.deployment(**options)(serve.ingress()(TierwiseIngress))
    settings = {"intra_op_threads": 1, "workers": 1, **(overrides or {})}
    return deployment.bind({k: v for k, v in settings.items() if v is not None})


def start(
    app: Any, *, host: str = "127.0.0.1", port: int = 8000, num_cpus: int | None = None
) -> Any:
    """Start Serve's HTTP proxy on host:port and deploy `app` (returns its handle)."""
    import ray

    serve = _require_serve()
    if not ray.is_initialized():
        path = os.pathsep.join(p for p in sys.path if p)
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            num_cpus=None if os.environ.get("RAY_ADDRESS") else num_cpus,
            include_dashboard=False,
            runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}},
        )
    serve.start(http_options={"host": host, "port": port})
    return serve.run(app, name=APP_NAME, route_prefix="/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bundle", help="bundle directory (else TIERWISE_BUNDLE_PATH/MODEL_URI)")
    source.add_argument("--model-uri", help="MLflow model URI, e.g. models:/tierwise@champion")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--replicas", type=int, default=1, help="replicas (the minimum if autoscaling)"
    )
    parser.add_argument(
        "--max-replicas", type=int, default=None, help="turn on autoscaling up to N"
    )
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray cluster")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    overrides = {"bundle_path": args.bundle, "model_uri": args.model_uri}
    app = build(overrides, replicas=args.replicas, max_replicas=args.max_replicas)
    start(app, host=args.host, port=args.port, num_cpus=args.num_cpus)
    log.info("tierwise on Ray Serve at http://%s:%d (Ctrl-C stops)", args.host, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    _require_serve().shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
