"""POST /feedback: only callers with a feedback token, labels only from a reviewer, idempotent per
(request_id, caller), a bounded rate; outcomes joined to their decision as schema-v1 records,
corrections as a stream, bad input refused with the reason and nothing written, unknown ids kept
apart, and a 503 (not "recorded") when a log cannot keep the record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from classifier.logschema import CorrectionEvent, LogRecord
from serving.app import create_app
from serving.settings import ServingSettings

TEXT = "Summarize the incident postmortem for the weekly update."
CLIENT = {"Authorization": "Bearer client-token-123"}
REVIEWER = {"Authorization": "Bearer reviewer-token-456"}
OTHER_CLIENT = {"Authorization": "Bearer other-client-789"}
CALLERS = {
    "router": {"token": "client-token-123", "role": "client"},
    "review-ui": {"token": "reviewer-token-456", "role": "reviewer"},
    "router-b": {"token": "other-client-789", "role": "client"},
}


def attempt(tier: str = "mini", **over: Any) -> dict[str, Any]:
    base: dict[str, Any]
    base = dict(tier=tier, model=f"acme-{tier}", schema_ok=True, compliance_ok=True)
    base.update(latency_ms=120.5, input_tokens=40, output_tokens=12, cost_usd=0.0004)
    return {**base, **over}


def _settings(bundle: Path, logs: Path, **over: Any) -> ServingSettings:
    base: dict[str, Any] = dict(
        bundle_path=bundle,
        reload_interval_s=0,
        warmup_requests=1,
        log_dir=logs,
        max_batch_size=4,
        feedback_callers=CALLERS,
        admin_token="admin-token-000",
        switches_path=logs.parent / "switches.json",
    )
    return ServingSettings(**{**base, **over})


@pytest.fixture
def served(tiny_bundle: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = _settings(tiny_bundle, tmp_path / "logs")
    with TestClient(create_app(settings), headers=CLIENT) as client:
        for i in range(3):
            got = client.post("/classify", json={"text": TEXT, "request_id": f"q{i}"})
            assert got.status_code == 200
        yield client, tmp_path / "logs"


def _read(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


def test_outcome_becomes_a_training_record(served: tuple[TestClient, Path]) -> None:
    client, logs = served
    body = {
        "outcomes": [
            {
                "request_id": "q0",
                "attempts": [attempt("nano", schema_ok=False), attempt("mini")],
                "escalations": [{"from": "nano", "to": "mini", "cause": "schema_fail_x2"}],
                "safety_flags": ["pii"],
                "labels": {"intent": "summarize", "risk": "low", "source": "human_review"},
            }
        ],
        "corrections": [{"request_id": "q1", "ts": "2026-11-02T10:15:00Z", "kind": "edit"}],
    }
    got = client.post("/feedback", json=body, headers=REVIEWER)
    assert got.status_code == 202, got.text
    assert got.json()["outcomes"] == [{"request_id": "q0", "status": "recorded"}]
    assert got.json()["corrections"][0]["known"] is True
    metrics = client.get("/metrics").text
    assert (
        'tierwise_escalations_total{cause="schema_fail_x2",from_tier="nano",to_tier="mini"} 1.0'
        in metrics
    )
    # stamped weeks before its decision: not a correction of the served answer within 5 min
    assert 'tierwise_corrections_total{kind="edit",within_5m="false"} 1.0' in metrics
    client.__exit__(None, None, None)  # shutdown flushes the logs
    assert _read(logs / "outcomes.jsonl") == []  # a reviewer's outcome has its own file
    (line,) = _read(logs / "reviewed-outcomes.jsonl")
    record = LogRecord.model_validate_json(line, strict=True)
    assert record.meta["feedback_source"] == "review-ui"
    decision = {
        r.request_id: r for r in map(LogRecord.model_validate_json, _read(logs / "decisions.jsonl"))
    }["q0"]  # noqa: E501
    assert record.route == decision.route and record.ts == decision.ts and record.text == TEXT
    assert [a.tier for a in record.attempts] == ["nano", "mini"]
    assert record.escalations[0].from_tier == "nano" and record.safety_flags == ["pii"]
    assert record.labels is not None and record.labels.intent == "summarize"
    assert record.labels.source == "human_review"
    (correction,) = _read(logs / "corrections.jsonl")
    assert CorrectionEvent.model_validate_json(correction, strict=True).kind == "edit"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({}, 422, "at least one"),
        ({"outcomes": [{"request_id": "q0", "attempts": []}]}, 422, "attempts"),
        ({"outcomes": [{"request_id": "q0", "attempts": [attempt("huge")]}]}, 422, "tier"),
        ({"outcomes": [{"request_id": "q0", "attempts": [attempt(schema_ok=1)]}]}, 422, "bool"),
        ({"outcomes": [{"request_id": "q0", "attempts": [attempt(cost_usd=-1)]}]}, 422, "cost"),
        ({"outcomes": [{"request_id": " ", "attempts": [attempt()]}]}, 422, "request_id"),
        ({"outcomes": [{"request_id": "q0", "attempts": [attempt()], "x": 1}]}, 422, "x"),
        (
            {"outcomes": [{"request_id": "q0", "attempts": [attempt()], "safety_flags": ["rude"]}]},
            422,
            "safety_flags",
        ),  # fmt: skip
        (
            {"corrections": [{"request_id": "q0", "ts": "2026-11-02T10:15:00", "kind": "edit"}]},
            422,
            "timezone",
        ),  # fmt: skip
        (
            {"corrections": [{"request_id": "q0", "ts": "2026-11-02T10:15:00Z", "kind": "like"}]},
            422,
            "kind",
        ),  # fmt: skip
        (
            {
                "corrections": [
                    {"request_id": f"q{i}", "ts": "2026-11-02T10:15:00Z", "kind": "edit"}
                    for i in range(5)
                ]
            },
            413,
            "TIERWISE_MAX_BATCH_SIZE",
        ),  # fmt: skip
    ],
)
def test_bad_feedback_is_refused_with_reason_and_nothing_written(
    served: tuple[TestClient, Path], body: dict[str, Any], status: int, needle: str
) -> None:
    client, logs = served
    got = client.post("/feedback", json=body)
    assert got.status_code == status, got.text
    assert needle in got.text
    client.__exit__(None, None, None)
    assert _read(logs / "outcomes.jsonl") == [] and _read(logs / "corrections.jsonl") == []


def test_outcomes_are_idempotent_per_request_and_caller(served: tuple[TestClient, Path]) -> None:
    client, logs = served
    one = {"outcomes": [{"request_id": "q1", "attempts": [attempt()]}]}
    assert client.post("/feedback", json=one).json()["outcomes"][0]["status"] == "recorded"
    # the same outcome again (a retry): answered, not written twice
    again = client.post("/feedback", json=one)
    assert again.status_code == 202 and again.json()["outcomes"][0]["status"] == "duplicate"
    # a different outcome from the same caller: refused, the first stands
    other = {"outcomes": [{"request_id": "q1", "attempts": [attempt("full")]}]}
    got = client.post("/feedback", json=other)
    assert got.status_code == 409 and got.json()["error"] == "conflicting_feedback"
    assert "q1" in got.json()["detail"] and "router" in got.json()["detail"]
    # another caller is not blocked by the first report for the id
    got = client.post("/feedback", json=other, headers=OTHER_CLIENT)
    assert got.status_code == 202 and got.json()["outcomes"][0]["status"] == "recorded"
    twice = {"outcomes": [{"request_id": "q2", "attempts": [attempt()]}] * 2}
    assert client.post("/feedback", json=twice).status_code == 409
    correction = {
        "corrections": [{"request_id": "q0", "ts": "2026-11-02T10:15:00Z", "kind": "edit"}]
    }
    assert (
        client.post("/feedback", json=correction).json()["corrections"][0]["status"] == "recorded"
    )
    assert (
        client.post("/feedback", json=correction).json()["corrections"][0]["status"] == "duplicate"
    )
    metrics = client.get("/metrics").text
    assert 'tierwise_feedback_outcomes_total{status="duplicate"} 1.0' in metrics
    assert 'tierwise_feedback_refused_total{reason="conflicting_feedback"} 1.0' in metrics
    client.__exit__(None, None, None)
    records = [orjson.loads(x) for x in _read(logs / "outcomes.jsonl")]
    assert [(r["request_id"], r["meta"]["feedback_source"]) for r in records] == [
        ("q1", "router"),
        ("q1", "router-b"),
    ]
    assert [a["tier"] for a in records[0]["attempts"]] == ["mini"]
    assert len(_read(logs / "corrections.jsonl")) == 1


def test_unknown_request_is_kept_apart(served: tuple[TestClient, Path]) -> None:
    client, logs = served
    body = {"outcomes": [{"request_id": "never-seen", "attempts": [attempt()]}]}
    got = client.post("/feedback", json=body)
    assert got.status_code == 202 and got.json()["outcomes"][0]["status"] == "unmatched"
    client.__exit__(None, None, None)
    (line,) = _read(logs / "unmatched-outcomes.jsonl")
    kept = orjson.loads(line)
    assert kept["outcome"]["request_id"] == "never-seen" and kept["received_at"].endswith("Z")
    assert _read(logs / "outcomes.jsonl") == []


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "client-token-123"}, 401, "unauthorized"),  # no scheme
        ({"Authorization": "Bearer wrong"}, 403, "forbidden"),
        ({"Authorization": "Bearer admin-token-000"}, 403, "forbidden"),  # admin is not feedback
    ],
)
def test_feedback_needs_a_feedback_token(
    served: tuple[TestClient, Path], headers: dict[str, str], status: int, code: str
) -> None:
    client, logs = served
    body = {"outcomes": [{"request_id": "q0", "attempts": [attempt()]}]}
    got = client.post("/feedback", json=body, headers={"Authorization": "", **headers})
    assert (got.status_code, got.json()["error"]) == (status, code), got.text
    assert "TIERWISE_FEEDBACK_CALLERS" in got.json()["detail"]
    if status == 401:
        assert got.headers["www-authenticate"] == "Bearer"
    client.__exit__(None, None, None)
    assert _read(logs / "outcomes.jsonl") == []


def test_feedback_is_off_without_callers(tiny_bundle: Path, tmp_path: Path) -> None:
    settings = ServingSettings(bundle_path=tiny_bundle, reload_interval_s=0, warmup_requests=1,
                               log_dir=tmp_path / "logs")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        got = client.post("/feedback", json={"corrections": []}, headers=CLIENT)
        assert got.status_code == 404 and "TIERWISE_FEEDBACK_CALLERS" in got.json()["detail"]


def test_labels_only_from_a_reviewer(served: tuple[TestClient, Path]) -> None:
    client, logs = served
    labels = {"intent": "plan", "risk": "high", "source": "human_review"}
    body = {"outcomes": [{"request_id": "q0", "attempts": [attempt()], "labels": labels}]}
    got = client.post("/feedback", json=body)  # the client token
    assert got.status_code == 403 and got.json()["error"] == "labels_not_allowed"
    assert "reviewer" in got.json()["detail"] and "outcomes.0.labels" in got.json()["detail"]
    contract = {**labels, "source": "contract"}
    body = {"outcomes": [{"request_id": "q0", "attempts": [attempt()], "labels": contract}]}
    got = client.post("/feedback", json=body, headers=REVIEWER)
    assert got.status_code == 403 and "human_review" in got.json()["detail"]
    client.__exit__(None, None, None)
    assert _read(logs / "outcomes.jsonl") == [] and _read(logs / "reviewed-outcomes.jsonl") == []


def test_rate_is_bounded_per_caller(tiny_bundle: Path, tmp_path: Path) -> None:
    settings = _settings(tiny_bundle, tmp_path / "logs", feedback_rate_limit="3/minute")
    event = {"request_id": "q0", "ts": "2026-11-02T10:15:00Z", "kind": "edit"}
    with TestClient(create_app(settings), headers=CLIENT) as client:
        kinds = ["edit", "regenerate", "thumbs_down"]
        for kind in kinds:
            got = client.post("/feedback", json={"corrections": [{**event, "kind": kind}]})
            assert got.status_code == 202, got.text
        got = client.post(
            "/feedback", json={"corrections": [{**event, "kind": "manual_escalation"}]}
        )
        assert got.status_code == 429 and got.json()["error"] == "rate_limited"
        assert "3 per 1 minute" in got.json()["detail"] and int(got.headers["retry-after"]) >= 1
        # another caller has its own budget
        got = client.post("/feedback", json={"corrections": [event]}, headers=OTHER_CLIENT)
        assert got.status_code == 202
        four = {"corrections": [{**event, "request_id": f"q{i}"} for i in range(4)]}
        got = client.post("/feedback", json=four, headers=REVIEWER)
        assert got.status_code == 413 and "TIERWISE_FEEDBACK_RATE_LIMIT" in got.json()["detail"]
    assert len(_read(tmp_path / "logs" / "corrections.jsonl")) == 4


def test_feedback_and_admin_tokens_must_differ(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="same token"):
        _settings(tiny_bundle, tmp_path / "logs", admin_token="client-token-123")
    callers = {**CALLERS, "copy": {"token": "client-token-123", "role": "reviewer"}}
    with pytest.raises(ValueError, match="same token"):
        ServingSettings(feedback_callers=callers)
