"""The replay's per-request work, in one function that any engine can run on a slice of rows.

For each held-out request: the bundle's prediction, the guards' scan, the production decision
of the learned policy under each contract variant the report needs (the contracts themselves
and every point of the learned cost/failure sweep), and, with truth, the priced outcome of
starting at each tier (the playbook, seeded per request). Each row depends only on itself, so
`score_rows` over a slice equals the same rows of `score_rows` over the whole, as long as the
bundle sees the same batches: the Ray engine (training.engines.ray_replay) cuts its blocks at
multiples of `batch_size` for that reason. Everything else in the replay (kNN, tuning, the
baselines, the metrics) reads these results in the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.contracts import Contracts, RoutingTable
from classifier.guards import GuardResult, scan
from classifier.prediction import Prediction
from classifier.rules import RuleRouter
from training.replay.costs import METRICS, ReplayRequest, simulate_outcomes
from training.replay.policies import decide_tiers
from training.replay.routers import classify_all


@dataclass(frozen=True)
class ScoreJob:
    """What every slice needs besides its rows (picklable: it is shipped to Ray workers)."""

    bundle_dir: Path
    table: RoutingTable
    rules: RuleRouter
    variants: tuple[Contracts, ...]  # the learned policy is decided under each of these
    replays: int
    seed: int
    batch_size: int


@dataclass
class RowScores:
    """Per row: prediction, guards, learned tier under each variant [n, variants], and with
    truth the playbook's mean outcome per first tier (one [n, 3] array per METRICS)."""

    predictions: list[Prediction]
    guards: list[GuardResult]
    decisions: np.ndarray
    outcomes: dict[str, np.ndarray] | None

    @classmethod
    def concat(cls, parts: Sequence[RowScores]) -> RowScores:
        with_outcomes = bool(parts) and parts[0].outcomes is not None
        return cls(
            predictions=[p for part in parts for p in part.predictions],
            guards=[g for part in parts for g in part.guards],
            decisions=np.concatenate([part.decisions for part in parts]),
            outcomes={m: np.concatenate([part.outcomes[m] for part in parts]) for m in METRICS}  # type: ignore[index]
            if with_outcomes
            else None,
        )


def score_rows(
    clf: Any,
    job: ScoreJob,
    texts: list[str],
    features: list[str],
    requests: Sequence[ReplayRequest] | None,
) -> RowScores:
    """Classify, scan, decide under every variant and (with `requests`) price every first tier."""
    predictions = classify_all(clf, texts, job.batch_size)
    guards = [scan(t) for t in texts]
    decisions = np.empty((len(texts), len(job.variants)), dtype=np.int8)
    for j, contracts in enumerate(job.variants):
        decisions[:, j] = decide_tiers(
            predictions, texts, features, guards, contracts, job.table, job.rules
        )
    outcomes = None
    if requests is not None:
        played = simulate_outcomes(requests, job.table, replays=job.replays, seed=job.seed)
        outcomes = {m: getattr(played, m) for m in METRICS}
    return RowScores(predictions, guards, decisions, outcomes)


Scorer = Callable[[ScoreJob, list[str], list[str], "Sequence[ReplayRequest] | None"], RowScores]


def score_in_process(
    job: ScoreJob,
    texts: list[str],
    features: list[str],
    requests: Sequence[ReplayRequest] | None,
) -> RowScores:
    """The default engine: every row in this process, the bundle loaded once."""
    from classifier.runtime import Classifier

    return score_rows(Classifier.load(job.bundle_dir), job, texts, features, requests)
