"""One MLflow run per `tierwise evaluate`, in the training experiment: params, every policy's
numbers, each curve as stepped metrics, and the report files."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from training.config import TrainConfig

if TYPE_CHECKING:
    from training.replay.run import ReplayResult


def track_replay(result: ReplayResult, cfg: TrainConfig) -> str:
    """One MLflow run in the training experiment: params, every policy's numbers, the files."""
    import mlflow

    from training import tracking

    tracking.connect(cfg.tracking.tracking_uri)
    mlflow.set_experiment(cfg.tracking.experiment)
    info = result.info
    with mlflow.start_run(run_name=f"evaluate-{info['created'][:19]}") as run:
        mlflow.set_tags(
            {
                "tierwise.kind": "evaluate",
                "evaluate.mode": result.mode,
                "bundle_hash": info["bundle_hash"],
                "bundle_run_id": str(info["bundle_run_id"]),
            }
        )
        params = {
            "mode": result.mode,
            "bundle": info["bundle"],
            "bundle_version": info["bundle_version"],
            "eval_rows": info["eval_rows"],
            "records": info["records"],
            "routing_table": info["routing_table"],
            "engine": info.get("engine", "local"),
            **{f"replay.{k}": str(v)[:500] for k, v in info["config"].items()},
        }
        mlflow.log_params(params)
        for name, s in result.scores.items():
            tracking.log_metrics(
                {
                    k: v
                    for k, v in s.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                },
                prefix=f"{name}/",
            )
        for name, g in result.gaps.items():
            tracking.log_metrics(g, prefix=f"{name}/")
        for name, curve in result.curves.items():
            for step, point in enumerate(curve):
                mlflow.log_metrics(
                    {
                        f"curve/{name}/{k}": float(v)
                        for k, v in point.items()
                        if isinstance(v, (int, float))
                        and not isinstance(v, bool)
                        and math.isfinite(float(v))
                    },
                    step=step,
                )
        for path in result.files.values():
            mlflow.log_artifact(str(path), "evaluate")
        return str(run.info.run_id)
