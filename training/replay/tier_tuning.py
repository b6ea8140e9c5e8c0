"""Tune the decision's per-feature thresholds on held-out replay; the bundle carries the result.

For each failure price of a grid, every held-out request is routed by the production decision
(`classifier.decision.decide` under `classifier.tuning.with_failure_price`) and the router
playbook is replayed from the chosen tier: exactly with the simulator's truth, as a
self-normalised inverse-propensity estimate on the logged traces without it. Per feature (and
over all rows, "*") the mean cost per request and the failure rate at each price become a
`classifier.tuning.TierTuning`; at serve time a contract's own price of a failure picks the
point on its feature's curve. The slice is the calibration slice: never trained on, and not the
evaluation slice, so `tierwise evaluate` scores thresholds that were chosen elsewhere.

Example:
    tuning = tune(predictions, texts, features, contracts, table, rules, outcomes=outcomes)
    tuning.failure_price("support_chat", 0.03)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifier.contracts import Contracts, RoutingTable, load_contracts, load_routing_table
from classifier.guards import scan
from classifier.prediction import Prediction
from classifier.rules import RuleRouter
from classifier.tuning import ALL, TierTuning, with_failure_price
from training.replay.costs import Logged, Outcomes, logged_outcomes, simulate_outcomes
from training.replay.metrics import score_exact, score_ips
from training.replay.policies import decide_tiers, one_hot

logger = logging.getLogger(__name__)

# USD per failure: 0 ("price only") and 48 steps of about x1.35 from 0.0001 to 100 ("never
# risk a failure"), fine enough that neighbouring prices rarely route a feature differently.
PRICES = (0.0, *(round(float(p), 7) for p in np.geomspace(1e-4, 100.0, 48)))
MIN_TUNING_ROWS = 200  # fewer held-out rows than this: no tuning, the contracts' bars decide


def tune(
    predictions: Sequence[Prediction],
    texts: Sequence[str],
    features: Sequence[str],
    contracts: Contracts,
    table: RoutingTable,
    rules: RuleRouter,
    *,
    outcomes: Outcomes | None = None,
    logged: Logged | None = None,
    prices: Sequence[float] = PRICES,
) -> TierTuning:
    """Replay the decision at every price; per feature, cost per request and failure rate.

    Pass `outcomes` (exact replay, truth) or `logged` (estimate); a feature whose estimate is
    undefined at some price (no logged trace the policy agrees with) gets no curve of its own.
    """
    if (outcomes is None) == (logged is None):
        raise ValueError("pass exactly one of outcomes (truth) or logged (estimate)")
    texts, features = list(texts), list(features)
    guards = [scan(t) for t in texts]
    keys = np.asarray(features)
    groups = {ALL: np.arange(len(texts))}
    groups |= {f: np.flatnonzero(keys == f) for f in sorted(set(features))}
    cost: dict[str, list[float]] = {name: [] for name in groups}
    fail: dict[str, list[float]] = {name: [] for name in groups}
    for price in prices:
        c = with_failure_price(contracts, price)
        pi = one_hot(decide_tiers(predictions, texts, features, guards, c, table, rules))
        for name, rows in groups.items():
            s = _score(pi, rows, outcomes, logged)
            cost[name].append(s["cost_per_1k_usd"] / 1000.0)
            fail[name].append(s["failure_rate"])
    curves = {
        name: {"cost_usd": cost[name], "failure_rate": fail[name], "rows": int(len(rows))}
        for name, rows in groups.items()
        if all(math.isfinite(v) for v in (*cost[name], *fail[name]))
    }
    raw = {
        "prices": [float(p) for p in prices],
        "mode": "exact" if logged is None else "estimate",
        "rows": len(texts),
        "features": curves,
    }
    return TierTuning.from_dict(raw)


def _score(
    pi: np.ndarray, rows: np.ndarray, outcomes: Outcomes | None, logged: Logged | None
) -> dict[str, Any]:
    if outcomes is not None:
        return score_exact(pi[rows], outcomes.subset(rows))
    assert logged is not None
    part = Logged(
        logged.tier[rows],
        logged.propensity[rows],
        logged.outcomes.subset(rows),
        logged.observed_fail[rows],
    )
    return score_ips(pi[rows], part)


def tune_training_slice(
    heads: Any,
    X: np.ndarray,
    data: Any,
    index: np.ndarray,
    truth: Any,
    logs: Sequence[Path],
    corrections: Sequence[Path],
    *,
    replays: int = 4,
) -> TierTuning | None:
    """`tierwise train`'s tuning stage: the fitted heads on the calibration slice `index`.

    With truth the playbook is replayed exactly; without it the logs are read once more for
    their traces (inverse-propensity estimate). Returns None when the slice is too small.
    """
    from training.replay.data import ReplayData, load_replay_data
    from training.replay.knn_router import predictions_from_proba

    if len(index) < MIN_TUNING_ROWS:
        logger.warning(
            "only %d held-out rows to tune the tier decision on (need %d): the "
            "bundle carries no tuning, the contracts' own bars decide",
            len(index),
            MIN_TUNING_ROWS,
        )
        return None
    contracts, table = load_contracts(), load_routing_table()
    rules = RuleRouter.default(table.tier_models)
    predictions = predictions_from_proba(heads.predict_proba(X), "tuning")
    texts = [data.text[i] for i in index]
    features = [data.feature[i] for i in index]
    if truth is not None and truth.matched and (truth.intent[index] >= 0).all():
        requests = ReplayData(data, np.empty((0, 6)), truth, None).requests(index)
        outcomes = simulate_outcomes(requests, table, replays=replays, seed=0)
        return tune(predictions, texts, features, contracts, table, rules, outcomes=outcomes)
    rd = load_replay_data(logs, corrections, None, table)
    if rd.data.request_id[index[0]] != data.request_id[index[0]]:
        raise RuntimeError("replay rows are not in training order; cannot tune on their traces")
    logged = logged_outcomes(
        rd.logged[index], rd.data.first_tier[index].astype(np.intp), rd.data.propensity[index]
    )
    return tune(predictions, texts, features, contracts, table, rules, logged=logged)
