"""POST /feedback: outcomes joined to their decision as schema-v1 records, corrections as a
stream, bad input refused with the reason and nothing written, unknown ids kept apart."""

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


def attempt(tier: str = "mini", **over: Any) -> dict[str, Any]:
    base: dict[str, Any]
    base = dict(tier=tier, model=f"acme-{tier}", schema_ok=True, compliance_ok=True)
    base.update(latency_ms=120.5, input_tokens=40, output_tokens=12, cost_usd=0.0004)
    return {**base, **over}


@pytest.fixture
def served(tiny_bundle: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = ServingSettings(
        bundle_path=tiny_bundle,
        reload_interval_s=0,
        warmup_requests=1,
        log_dir=tmp_path / "logs",
        max_batch_size=4,
    )
    with TestClient(create_app(settings)) as client:
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
    got = client.post("/feedback", json=body)
    assert got.status_code == 202, got.text
    assert got.json()["outcomes"] == [{"request_id": "q0", "status": "recorded"}]
    assert got.json()["corrections"][0]["known"] is True
    metrics = client.get("/metrics").text
    assert 'tierwise_escalations_total{from_tier="nano",to_tier="mini"} 1.0' in metrics
    assert 'tierwise_corrections_total{kind="edit"} 1.0' in metrics
    client.__exit__(None, None, None)  # shutdown flushes the logs
    (line,) = _read(logs / "outcomes.jsonl")
    record = LogRecord.model_validate_json(line, strict=True)
    decision = {
        r.request_id: r for r in map(LogRecord.model_validate_json, _read(logs / "decisions.jsonl"))
    }["q0"]  # noqa: E501
    assert record.route == decision.route and record.ts == decision.ts and record.text == TEXT
    assert [a.tier for a in record.attempts] == ["nano", "mini"]
    assert record.escalations[0].from_tier == "nano" and record.safety_flags == ["pii"]
    assert record.labels is not None and record.labels.intent == "summarize"
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


def test_second_outcome_for_a_request_is_409(served: tuple[TestClient, Path]) -> None:
    client, logs = served
    one = {"outcomes": [{"request_id": "q1", "attempts": [attempt()]}]}
    assert client.post("/feedback", json=one).status_code == 202
    again = client.post("/feedback", json=one)
    assert again.status_code == 409 and "q1" in again.json()["detail"]
    twice = {"outcomes": [{"request_id": "q2", "attempts": [attempt()]}] * 2}
    assert client.post("/feedback", json=twice).status_code == 409
    client.__exit__(None, None, None)
    assert [orjson.loads(x)["request_id"] for x in _read(logs / "outcomes.jsonl")] == ["q1"]


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
