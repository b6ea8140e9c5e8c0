"""Logs for replay: one validated pass gives the training columns and each record's logged trace.

Rows are ordered exactly as `load_training_set` orders them (stable sort by ts), so
`training.ingest.splits.make_splits` on these rows reproduces the training run's split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.contracts import RoutingTable
from classifier.errors import InputError
from classifier.taxonomy import INTENTS, RISKS, TIERS
from data.generator.counterfactual import is_structured
from training.ingest.labels import TrainingSet, TrainingSetBuilder
from training.ingest.load import iter_valid_records
from training.ingest.objectstore import Source
from training.ingest.splits import Truth, load_truth
from training.replay.costs import ReplayRequest, logged_row


@dataclass
class ReplayData:
    """The TrainingSet, per-record logged values [N, 6] (see `logged_row`) and optional truth."""

    data: TrainingSet
    logged: np.ndarray
    truth: Truth | None
    true_fail: np.ndarray | None  # of the logged trace, from truth

    def __len__(self) -> int:
        return len(self.data)

    def requests(self, index: np.ndarray) -> list[ReplayRequest]:
        """Replay inputs of rows `index` (needs truth)."""
        if self.truth is None:
            raise InputError("exact replay needs the simulator's truth file (--truth)")
        t = self.truth
        out = []
        for i in index:
            intent = INTENTS[t.intent[i]]
            out.append(
                ReplayRequest(
                    text=self.data.text[i],
                    feature=self.data.feature[i],
                    intent=intent,
                    risk=RISKS[t.risk[i]],
                    structured=is_structured(t.template[i], intent, self.data.text[i]),
                    tier_ok=tuple(bool(v == 1) for v in t.tier_ok[i]),  # type: ignore[arg-type]
                    request_id=self.data.request_id[i],
                )
            )
        return out


def load_replay_data(
    logs: Sequence[Source | str],
    corrections: Sequence[Source | str],
    truth: Path | None,
    table: RoutingTable,
    quarantine_path: Path | None = None,
) -> ReplayData:
    """Validate and join the logs once; align truth (if any) to the rows."""
    builder = TrainingSetBuilder()
    rows: list[tuple[float, ...]] = []
    records_ts: list[float] = []
    true_fail_inputs: list[tuple[object, str]] = []
    for record in iter_valid_records(list(logs), list(corrections), quarantine_path):
        ts = record.ts.timestamp()
        builder.add(record, ts)
        rows.append(logged_row(record, table))
        records_ts.append(ts)
        last = record.attempts[-1] if record.attempts else None
        true_fail_inputs.append((last, record.request_id))
    if not rows:
        raise InputError(
            f"no valid log records in {[str(p) for p in logs]}; check the files "
            "(invalid lines are written to the quarantine file)"
        )
    order = np.argsort(np.asarray(records_ts), kind="stable")
    data = builder.build()
    logged = np.asarray(rows, dtype=np.float64)[order]
    truth_rows = load_truth(truth, data.request_id) if truth else None
    true_fail = None
    if truth_rows is not None and truth_rows.matched:
        true_fail = np.full(len(data), np.nan)
        for row, source in enumerate(order):
            last, _ = true_fail_inputs[source]
            tier_ok = truth_rows.tier_ok[row]
            if last is None or tier_ok[0] < 0:
                continue
            true_fail[row] = float(not (last.ok and tier_ok[TIERS.index(last.tier)] == 1))
    elif truth_rows is not None:
        truth_rows = None
    return ReplayData(data, logged, truth_rows, true_fail)


__all__ = ["ReplayData", "load_replay_data"]
