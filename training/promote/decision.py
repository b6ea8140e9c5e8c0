"""A promotion decision as a value, and its record in MLflow (one run per decision).

Every decision the gate takes (promoted, refused, nothing to do) is logged with both models'
scores, every check and the reason, so "why is v7 champion?" has an answer in the tracking
store, not only in a terminal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from training import tracking
from training.config import TrainConfig
from training.promote.gate import Check

PROMOTED, REFUSED, UNCHANGED = "promoted", "refused", "unchanged"


@dataclass
class Decision:
    """What the gate decided about `candidate`, why, and what to do next when it refused."""

    outcome: str
    candidate: str
    champion: str | None
    reason: str
    next_step: str = ""
    checks: list[Check] = field(default_factory=list)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # candidate / champion
    rows: str = ""
    windows: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None

    @property
    def promoted(self) -> bool:
        return self.outcome == PROMOTED

    @property
    def message(self) -> str:
        lines = [self.reason]
        if self.rows:
            lines.append(f"rows: {self.rows}")
        lines += [f"training window of {who}: {text}" for who, text in self.windows.items()]
        lines += [check.line() for check in self.checks]
        if self.next_step:
            lines.append(f"next: {self.next_step}")
        if self.run_id:
            lines.append(f"decision logged to MLflow run {self.run_id}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "candidate": self.candidate,
            "champion": self.champion,
            "reason": self.reason,
            "next_step": self.next_step,
            "checks": [c.to_dict() for c in self.checks],
            "scores": self.scores,
            "rows": self.rows,
            "windows": self.windows,
        }


def log_decision(client: Any, cfg: TrainConfig, decision: Decision) -> str:
    """One MLflow run in the training experiment: tags, the gate's config, both models' metrics
    (`candidate/…`, `champion/…`), every check and decision.json; the candidate version is tagged
    with the outcome and the run id."""
    import mlflow

    mlflow.set_experiment(cfg.tracking.experiment)
    name = cfg.tracking.registered_model
    with mlflow.start_run(run_name=f"promote-v{decision.candidate}") as run:
        mlflow.set_tags(
            {
                "tierwise.kind": "promote",
                "promote.outcome": decision.outcome,
                "promote.candidate": decision.candidate,
                "promote.champion": decision.champion or "none",
                "promote.reason": decision.reason[:4000],
                "promote.next_step": decision.next_step[:4000],
            }
        )
        params = {k: v for k, v in cfg.flat().items() if k.startswith("promote.")}
        params |= {"registered_model": name, "rows": decision.rows[:500] or "none"}
        params |= {f"window.{who}": text[:500] for who, text in decision.windows.items()}
        mlflow.log_params(params)
        for side, scores in decision.scores.items():
            tracking.log_metrics(scores.get("metrics", {}), prefix=f"{side}/")
        for check in decision.checks:
            tracking.log_metrics(
                {
                    f"check/{check.name}/candidate": check.candidate,
                    f"check/{check.name}/champion": check.champion,
                    f"check/{check.name}/passed": float(check.passed),
                }
            )
        mlflow.log_dict(_jsonable(decision.to_dict()), "promote/decision.json")
        run_id = str(run.info.run_id)
    client.set_model_version_tag(name, decision.candidate, "promote.outcome", decision.outcome)
    client.set_model_version_tag(name, decision.candidate, "promote.run_id", run_id)
    decision.run_id = run_id
    return run_id


def _jsonable(value: Any) -> Any:
    """NaN and infinity are not JSON: write them as strings a reader recognises."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
