"""The gate's pure parts: metric directions, cost at equal failures, checks, training windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classifier.errors import ConfigError
from training.config import load_config
from training.ingest.windows import INGESTED, TrainingWindow
from training.promote.gate import cost_at_failure, direction, run_checks


@pytest.mark.parametrize(
    ("metric", "sign"),
    [
        ("mean_macro_f1", 1),
        ("intent_accuracy", 1),
        ("intent_precision_plan", 1),
        ("risk_recall_high", 1),
        ("tier_ok_full_auc", 1),
        ("intent_ece", -1),
        ("tier_ok_nano_brier", -1),
        ("replay_cost_per_1k_usd", -1),
        ("replay_failure_rate", -1),
        ("replay_hard_failure_rate", -1),
        ("replay_escalations_per_1k", -1),
    ],
)
def test_every_metric_knows_its_direction(metric: str, sign: int) -> None:
    assert direction(metric) == sign


@pytest.mark.parametrize("metric", ["intent_n", "tier_ok_nano_positive_rate", "replay_share_nano"])
def test_a_metric_without_a_direction_is_refused(metric: str) -> None:
    with pytest.raises(ConfigError, match="no better direction"):
        direction(metric)


def test_min_delta_and_tolerances_may_not_be_negative() -> None:
    for key in ("min_delta", "tolerance.ece", "tolerance.failure", "tolerance.cost"):
        with pytest.raises(ConfigError, match=f"promote.{key}"):
            load_config(overrides=[f"promote.{key}=-0.01"])


def test_cost_at_failure_reads_the_lower_envelope_of_mixtures() -> None:
    points = [
        {"failure_rate": 0.10, "cost_per_1k_usd": 1.0},
        {"failure_rate": 0.02, "cost_per_1k_usd": 3.0},
        {"failure_rate": 0.06, "cost_per_1k_usd": 2.5},  # above the line of the other two
    ]
    assert cost_at_failure(points, 0.06) == pytest.approx(2.0)  # half of each end point
    assert cost_at_failure(points, 0.02) == pytest.approx(3.0)
    assert cost_at_failure(points, 0.30) == pytest.approx(1.0)  # failing less is allowed
    assert cost_at_failure(points, 0.01) == math.inf  # no mixture fails that rarely
    assert cost_at_failure([{"failure_rate": math.nan, "cost_per_1k_usd": 1.0}], 0.5) == math.inf


def _scores(**metrics: float) -> dict:
    base = {"mean_macro_f1": 0.5, "intent_ece": 0.05, "risk_ece": 0.05, "tier_ok_nano_ece": 0.05,
            "tier_ok_mini_ece": math.nan, "tier_ok_full_ece": math.nan, "intent_n": 10.0,
            "replay_failure_rate": 0.05, "replay_cost_per_1k_usd": 2.0}  # fmt: skip
    base |= metrics
    curve = [
        {
            "failure_rate": base["replay_failure_rate"],
            "cost_per_1k_usd": base["replay_cost_per_1k_usd"],
        }
    ]
    return {"metrics": base, "curve": curve}


def test_checks_follow_each_metrics_direction_and_every_bar() -> None:
    cfg = load_config().promote
    passed = {c.name: c.passed for c in run_checks(_scores(mean_macro_f1=0.6), _scores(), cfg)}
    assert all(passed.values()) and "tier_ok_mini_ece" not in passed  # unlabelled: not compared

    ece = load_config(overrides=["promote.metric=intent_ece"]).promote
    worse = {c.name: c.passed for c in run_checks(_scores(intent_ece=0.3), _scores(), ece)}
    assert worse["intent_ece"] is False  # a higher ECE is not a gain
    better = {c.name: c.passed for c in run_checks(_scores(intent_ece=0.04), _scores(), ece)}
    assert better["intent_ece"] is True

    checks = {c.name: c for c in run_checks(
        _scores(mean_macro_f1=0.6, risk_ece=0.08, replay_failure_rate=0.06,
                replay_cost_per_1k_usd=2.1), _scores(), cfg)}  # fmt: skip
    assert not checks["risk_ece"].passed and not checks["replay_failure_rate"].passed
    # cheaper only by failing more: at the champion's 5 % it cannot go at all
    assert checks["cost_per_1k_usd_at_equal_failures"].candidate == math.inf
    assert not checks["cost_per_1k_usd_at_equal_failures"].passed

    with pytest.raises(ConfigError, match="not a metric the gate measures"):
        run_checks(_scores(), _scores(), load_config(overrides=["promote.metric=f1"]).promote)


def test_a_training_window_round_trips_through_the_manifest() -> None:
    ts = np.array([300.0, 100.0, 200.0])
    window = TrainingWindow.of_rows(ts)
    assert (window.start, window.end, window.rows) == (100.0, 300.0, 3)
    assert TrainingWindow.from_manifest({"window": window.to_manifest()}) == window
    assert window.covers(np.array([99.0, 100.0, 300.0, 300.5])).tolist() == [
        False, True, True, False,
    ]  # fmt: skip


def test_an_older_manifest_falls_back_to_everything_it_ingested() -> None:
    old = {"data.time_start": "2026-10-01T00:00:00Z", "data.time_end": "2026-10-31T00:00:00Z"}
    window = TrainingWindow.from_manifest(old)
    assert window is not None and window.source == INGESTED
    assert window.end - window.start == 30 * 86400
    assert TrainingWindow.from_manifest({}) is None
    assert TrainingWindow.from_manifest({"window": {"start_ts": "soon"}}) is None
    with pytest.raises(ValueError, match="at least one"):
        TrainingWindow.of_rows(np.array([]))
