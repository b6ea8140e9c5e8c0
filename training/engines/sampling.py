"""The fit's stratified sample: when the full data is too big to fit where the fit runs.

Strata are (intent, risk, first tier) so that rare classes keep their share; each stratum gives
its proportional share (at least one row), chosen with a seeded generator, so the same data and
seed give the same sample. What was sampled is logged to MLflow next to the full data's counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.ingest.labels import TrainingSet

SAMPLING = "stratified by intent x risk x first tier, proportional, at least 1 per stratum"


def stratified_rows(data: TrainingSet, rows: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """At most `size` of `rows` (indices into `data`), stratified; sorted, so time order stays."""
    rows = np.asarray(rows, dtype=np.intp)
    if size >= len(rows):
        return rows
    keys = (
        (data.intent[rows].astype(np.int64) + 1) * 100
        + (data.risk[rows].astype(np.int64) + 1) * 10
        + data.first_tier[rows].astype(np.int64)
    )
    strata, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    quota = np.maximum(1, np.floor(counts * size / len(rows)).astype(np.int64))
    rng = np.random.default_rng(seed)
    picked = []
    for s in range(len(strata)):
        members = rows[inverse == s]
        picked.append(rng.choice(members, size=min(quota[s], len(members)), replace=False))
    return np.sort(np.concatenate(picked))


def log_sample(full_rows: int, sample_rows: int, seed: int, data_rows: int) -> dict[str, Any]:
    """The sample's size and method as MLflow params, beside the full data's counts."""
    import mlflow

    params = {
        "fit.sample_rows": sample_rows,
        "fit.sample_of_train_rows": full_rows,
        "fit.sample_seed": seed,
        "fit.sampling": SAMPLING if sample_rows < full_rows else "all train rows",
        "fit.data_rows_valid": data_rows,
    }
    mlflow.log_params(params)
    return params
