"""The rows the gate scores: the operator's logs, minus every row inside either training window.

Both models see exactly these rows. They come from logs the operator passes (never from either
training run, whose author would otherwise choose the exam), joined once with their traces so
the same rows give labels for the heads and outcomes for the routing replay: exact with the
simulator's truth, inverse-propensity estimates from the logged propensities otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.contracts import RoutingTable
from classifier.errors import InputError
from classifier.guards import GuardResult, scan
from training.ingest.labels import TrainingSet
from training.ingest.windows import TrainingWindow
from training.replay.costs import Logged, Outcomes, simulate_outcomes
from training.replay.data import load_replay_data
from training.replay.metrics import score_exact, score_ips
from training.replay.run import logged_traces


@dataclass
class GateRows:
    """Labelled rows outside every given window, with what the replay needs to score a policy."""

    data: TrainingSet
    guards: list[GuardResult]
    mode: str  # "exact" (simulator truth) or "estimate" (inverse propensity)
    outcomes: Outcomes | None
    logged: Logged | None
    source: str
    read: int  # valid rows in the logs
    inside_windows: int  # of those, rows at least one model may have trained on

    def __len__(self) -> int:
        return len(self.data)

    def score(self, pi: np.ndarray) -> dict[str, Any]:
        """Replayed cost, failures, escalations of policy pi[N, 3] on these rows."""
        if self.outcomes is not None:
            return score_exact(pi, self.outcomes)
        assert self.logged is not None
        return score_ips(pi, self.logged)

    def describe(self) -> str:
        return (
            f"{len(self)} rows of {self.source} ({self.read} valid, {self.inside_windows} "
            f"inside a training window and left out; replay {self.mode})"
        )


def load_gate_rows(
    logs: Sequence[Path],
    corrections: Sequence[Path],
    truth: Path | None,
    windows: Sequence[TrainingWindow | None],
    table: RoutingTable,
    *,
    max_rows: int,
    replays: int,
    work_dir: Path,
    seed: int = 0,
) -> GateRows:
    """Read the logs, drop rows any window covers, keep the newest `max_rows` of the rest."""
    rd = load_replay_data(
        list(logs), list(corrections), truth, table, quarantine_path=work_dir / "quarantine.jsonl"
    )
    ts = rd.data.ts
    inside = np.zeros(len(ts), dtype=bool)
    for window in windows:
        if window is not None:
            inside |= window.covers(ts)
    keep = np.flatnonzero(~inside)
    if rd.truth is not None:
        keep = keep[rd.truth.intent[keep] >= 0]  # exact replay needs each row's truth
    keep = keep[-max_rows:]
    data = rd.data.subset(keep)
    source = ", ".join(str(p) for p in logs)
    if rd.truth is not None:
        outcomes, logged = (
            simulate_outcomes(rd.requests(keep), table, replays=replays, seed=seed),
            None,
        )
        mode = "exact"
    else:
        outcomes, logged = None, logged_traces(rd, keep)
        mode = "estimate"
        usable = np.isfinite(logged.propensity) & (logged.propensity > 0)
        if len(keep) and not usable.any():
            raise InputError(
                f"the rows of {source} log no route.propensity, so the routing replay cannot "
                "estimate cost and failures; pass logs with propensities, or --truth for "
                "simulated logs"
            )
    return GateRows(
        data,
        [scan(t) for t in data.text],
        mode,
        outcomes,
        logged,
        source,
        len(ts),
        int(inside.sum()),
    )
