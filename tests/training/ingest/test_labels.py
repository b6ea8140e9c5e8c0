"""Label derivation over hand-built records: every playbook case, censoring and contradictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

import numpy as np
import pytest

from classifier.logschema import CORRECTION_WINDOW_S, LogRecord
from classifier.taxonomy import INTENTS, RISKS
from training.ingest.labels import (
    RESOLUTION,
    UNKNOWN,
    TrainingSet,
    TrainingSetBuilder,
    derive_labels,
)

T0 = datetime(2026, 11, 2, 10, 0, 0, tzinfo=UTC)
MODELS = {"nano": "m-nano", "mini": "m-mini", "full": "m-full"}


def training_set(records: list[LogRecord]) -> TrainingSet:
    """A small in-memory TrainingSet, built the way ingestion builds one (sorted by ts)."""
    builder = TrainingSetBuilder()
    for rec in records:
        builder.add(rec)
    return builder.build()


def attempt(tier: str, *, schema_ok: bool = True, compliance_ok: bool = True, error: Any = None):
    return {
        "tier": tier, "model": MODELS[tier], "schema_ok": schema_ok, "compliance_ok": compliance_ok,
        "latency_ms": 100.0, "input_tokens": 42, "output_tokens": 10, "cost_usd": 0.0001,
        "error": error,
    }  # fmt: skip


def record(
    first: str,
    attempts: list[dict[str, Any]],
    *,
    escalations: list[dict[str, Any]] = (),  # type: ignore[assignment]
    corrections_after_s: list[float] = (),  # type: ignore[assignment]
    labels: dict[str, Any] | None = None,
    ts: datetime = T0,
    request_id: str = "r1",
) -> LogRecord:
    return LogRecord.model_validate(
        {
            "request_id": request_id,
            "ts": ts,
            "feature": "support_chat",
            "text": "Summarize this thread for the weekly update.",
            "route": {"policy": "rules", "tier": first, "propensity": 0.8},
            "attempts": attempts,
            "escalations": list(escalations),
            "labels": labels,
            "corrections": [
                {"request_id": request_id, "ts": ts + timedelta(seconds=s), "kind": "edit"}
                for s in corrections_after_s
            ],
        }
    )


def test_nano_ok_implies_every_tier_ok():
    labels = derive_labels(record("nano", [attempt("nano")]))
    assert labels.tier_ok == (1, 1, 1)
    assert labels.observed == (1, UNKNOWN, UNKNOWN)
    assert not labels.contradiction


def test_nano_schema_failure_twice_then_mini_ok():
    rec = record(
        "nano",
        [attempt("nano", schema_ok=False), attempt("nano", schema_ok=False), attempt("mini")],
        escalations=[{"from": "nano", "to": "mini", "cause": "schema_fail_x2"}],
    )
    assert derive_labels(rec).tier_ok == (0, 1, 1)


def test_mini_compliance_failure_then_full_marks_high_risk():
    rec = record(
        "mini",
        [attempt("mini", compliance_ok=False), attempt("full")],
        escalations=[{"from": "mini", "to": "full", "cause": "compliance_fail"}],
        labels={"intent": "review_policy", "risk": "low"},
    )
    labels = derive_labels(rec)
    assert labels.tier_ok == (0, 0, 1)
    assert labels.risk == RISKS.index("high")
    assert labels.risk_raised
    assert labels.intent == INTENTS.index("review_policy")


def test_compliance_escalation_gives_high_risk_even_without_labels():
    rec = record(
        "mini",
        [attempt("mini", compliance_ok=False), attempt("full")],
        escalations=[{"from": "mini", "to": "full", "cause": "compliance_fail"}],
    )
    labels = derive_labels(rec)
    assert labels.risk == RISKS.index("high")
    assert labels.intent == UNKNOWN


@pytest.mark.parametrize(
    ("after_s", "expected", "in_window"),
    [
        (299.0, (0, UNKNOWN, UNKNOWN), 1),
        (CORRECTION_WINDOW_S, (0, UNKNOWN, UNKNOWN), 1),  # 300 s exactly counts as within
        (301.0, (1, 1, 1), 0),
    ],
)
def test_correction_window_overturns_served_tier(after_s, expected, in_window):
    labels = derive_labels(record("nano", [attempt("nano")], corrections_after_s=[after_s]))
    assert labels.tier_ok == expected
    assert labels.corrections_in_window == in_window
    assert labels.corrections_outside_window == 1 - in_window


def test_correction_hits_only_the_served_last_attempt():
    rec = record(
        "nano",
        [attempt("nano", schema_ok=False), attempt("nano", schema_ok=False), attempt("mini")],
        escalations=[{"from": "nano", "to": "mini", "cause": "schema_fail_x2"}],
        corrections_after_s=[30.0],
    )
    assert derive_labels(rec).tier_ok == (0, 0, UNKNOWN)


def test_first_routed_to_mini_and_ok_leaves_nano_unknown():
    labels = derive_labels(record("mini", [attempt("mini")]))
    assert labels.tier_ok == (UNKNOWN, 1, 1)


def test_full_failure_says_every_tier_fails():
    labels = derive_labels(record("full", [attempt("full", error="timeout")]))
    assert labels.tier_ok == (0, 0, 0)


def test_contradiction_lower_ok_higher_failed_is_counted_and_left_unknown():
    # nano passed its checks, the router moved up anyway (not a failure cause), mini then failed.
    rec = record(
        "nano",
        [attempt("nano"), attempt("mini", schema_ok=False)],
        escalations=[{"from": "nano", "to": "mini", "cause": "risk_floor"}],
    )
    labels = derive_labels(rec)
    assert labels.contradiction
    assert labels.observed == (1, 0, UNKNOWN)
    assert labels.tier_ok == (UNKNOWN, UNKNOWN, UNKNOWN)


def test_contradiction_keeps_the_uncontested_tier():
    rec = record("nano", [attempt("nano"), attempt("mini", error="500"), attempt("full")])
    labels = derive_labels(rec)
    assert labels.contradiction
    assert labels.tier_ok == (UNKNOWN, UNKNOWN, 1)


def test_contradiction_outvoted_observation_becomes_unknown_not_flipped():
    rec = record("nano", [attempt("nano"), attempt("mini", error="x"), attempt("full", error="x")])
    labels = derive_labels(rec)
    assert labels.contradiction
    assert labels.tier_ok == (UNKNOWN, 0, 0)


def test_escalation_without_attempts_still_marks_failure():
    rec = record(
        "nano", [attempt("mini")], escalations=[{"from": "nano", "to": "mini", "cause": "timeout"}]
    )
    assert derive_labels(rec).tier_ok == (0, 1, 1)


def test_retry_at_the_same_tier_keeps_the_latest_outcome():
    rec = record("nano", [attempt("nano", error="rate_limited"), attempt("nano")])
    assert derive_labels(rec).tier_ok == (1, 1, 1)


def test_no_attempts_means_nothing_observed_and_corrections_are_ignored():
    labels = derive_labels(record("nano", [], corrections_after_s=[10.0]))
    assert labels.tier_ok == (UNKNOWN, UNKNOWN, UNKNOWN)


def test_null_labels_are_unknown():
    labels = derive_labels(record("nano", [attempt("nano")], labels={"intent": None, "risk": None}))
    assert (labels.intent, labels.risk) == (UNKNOWN, UNKNOWN)


@pytest.mark.parametrize("observed", list(RESOLUTION))
def test_resolution_is_monotone_and_never_flips_an_observation(observed):
    labels, contradicted = RESOLUTION[observed]
    known = [(t, v) for t, v in enumerate(labels) if v != UNKNOWN]
    assert all(not (vi == 1 and vj == 0) for (i, vi), (j, vj) in product(known, known) if i < j)
    for value, seen in zip(labels, observed, strict=True):
        if value != UNKNOWN and seen != UNKNOWN:
            assert value == seen
    consistent = not any(
        observed[i] == 1 and observed[j] == 0 for i in range(3) for j in range(i + 1, 3)
    )
    assert contradicted == (not consistent)
    if consistent:  # nothing observed is lost when there is nothing to resolve
        assert all(
            seen == UNKNOWN or value == seen for value, seen in zip(labels, observed, strict=True)
        )


def test_training_set_is_sorted_by_ts_and_subsets():
    recs = [
        record("mini", [attempt("mini")], ts=T0 + timedelta(seconds=20), request_id="late"),
        record("nano", [attempt("nano")], ts=T0, request_id="early"),
        record(
            "full", [attempt("full", error="x")], ts=T0 + timedelta(seconds=10), request_id="mid"
        ),
    ]
    data = training_set(recs)
    assert data.request_id == ["early", "mid", "late"]
    assert np.all(np.diff(data.ts) >= 0)
    assert data.tier_ok.dtype == np.int8 and data.tier_ok.shape == (3, 3)
    assert data.tier_ok.tolist() == [[1, 1, 1], [0, 0, 0], [UNKNOWN, 1, 1]]
    assert data.first_tier.tolist() == [0, 2, 1]
    assert data.input_tokens.dtype == np.int32 and data.input_tokens.tolist() == [42, 42, 42]
    assert np.allclose(data.propensity, 0.8)
    picked = data.subset(data.first_tier > 0)
    assert picked.request_id == ["mid", "late"] and len(picked) == 2
    assert data.subset([2, 0]).request_id == ["late", "early"]


def test_training_set_refuses_ragged_columns():
    data = training_set([record("nano", [attempt("nano")])])
    with pytest.raises(ValueError, match="disagree"):
        TrainingSet(**{**data.__dict__, "text": []})


def test_empty_training_set_has_typed_columns():
    data = training_set([])
    assert len(data) == 0 and data.tier_ok.shape == (0, 3) and data.propensity.dtype == np.float64


def test_correction_stamped_before_the_request_flips_nothing_and_is_reported():
    labels = derive_labels(record("nano", [attempt("nano")], corrections_after_s=[-2.0]))
    assert labels.tier_ok == (1, 1, 1)
    assert labels.corrections_before_request == 1 and labels.corrections_in_window == 0


def test_replay_counts_a_failure_only_for_a_correction_after_the_request():
    from classifier.contracts import load_routing_table
    from training.replay.costs import logged_row

    table = load_routing_table()
    fail = {s: logged_row(record("nano", [attempt("nano")], corrections_after_s=[s]), table)[1]
            for s in (-2.0, 0.0, 301.0)}  # fmt: skip
    assert fail == {-2.0: 0.0, 0.0: 1.0, 301.0: 0.0}
