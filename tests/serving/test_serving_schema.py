"""Real responses (single, batch, shadow, A/B, chat, switched) validate against the response
schemas the service publishes in its own OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from serving.app import create_app
from serving.settings import ServingSettings

TOKEN = "t0ken-for-schema-tests"
REQUESTS: list[dict[str, Any]] = [
    {"text": "Summarize this thread for the weekly update: the deploy slipped two days."},
    {"text": "Email me at jane.doe@example.com about my loan.", "feature": "support_chat"},
    {"text": "Tell me a joke.", "feature": "no_such_feature", "request_id": "r-1"},
    {"text": "Summarize the quarterly sales report. " * 300, "feature": "doc_summary"},
    {
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Which invoice is wrong?"},
            {"role": "assistant", "content": "Which one?"},
            {"role": "user", "content": [{"type": "text", "text": "INV-2291, fix the VAT."}]},
        ],
        "feature": "support_chat",
    },
]


def _validator(client: TestClient, name: str) -> Draft202012Validator:
    """A validator for `#/components/schemas/<name>` of the app's own /openapi.json."""
    spec = client.get("/openapi.json").json()
    uri = "urn:tierwise:openapi"
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{name}"}, registry=registry)


def _check(client: TestClient) -> int:
    """Every request single and as one batch; returns how many responses were validated."""
    one, batch = _validator(client, "ClassifyResponse"), _validator(client, "BatchResponse")
    checked = 0
    for body in [*REQUESTS, REQUESTS[0]]:  # the last one is a cache hit
        got = client.post("/classify", json=body)
        assert got.status_code == 200, got.text
        one.validate(got.json())
        checked += 1
    # the validator is not vacuous: an unknown key, a missing route or a wrong type fails it
    body = got.json()
    for broken in ({**body, "extra": 1}, {**body, "route": None}, {**body, "abstain": "no"}):
        assert not one.is_valid(broken)
    got = client.post("/classify/batch", json={"items": REQUESTS, "feature": "inline_assist"})
    assert got.status_code == 200, got.text
    batch.validate(got.json())
    return checked + len(got.json()["items"])


@pytest.mark.parametrize(
    "mode",
    [
        {"policy_mode": "learned"},
        {"policy_mode": "shadow", "shadow_serve": "rules"},
        {"policy_mode": "shadow", "shadow_serve": "learned"},
        {"policy_mode": "ab", "ab_learned_share": 0.5},
    ],
)
def test_responses_match_the_published_schema(
    tiny_bundle: Path, tmp_path: Path, mode: dict[str, Any]
) -> None:
    settings = ServingSettings(bundle_path=tiny_bundle, reload_interval_s=0, warmup_requests=1,
                               log_dir=tmp_path / "logs", **mode)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        assert _check(client) == 2 * len(REQUESTS) + 1


def test_switched_responses_match_the_published_schema(tiny_bundle: Path, tmp_path: Path) -> None:
    """Under force_mini and a kill switch the model is not called: its fields are null."""
    settings = ServingSettings(bundle_path=tiny_bundle, reload_interval_s=0, warmup_requests=1,
                               admin_token=TOKEN, switches_path=tmp_path / "sw.json",
                               policy_mode="shadow")  # fmt: skip
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings)) as client:
        change = {"kill": {"support_chat": True}, "caps": {"doc_summary": "nano"}}
        assert client.patch("/admin/switches", headers=auth, json=change).is_success
        _check(client)
        killed = client.post("/classify", json=REQUESTS[1]).json()
        assert killed["intent"] is None and killed["route"]["reason_code"] == "kill_switch"
        assert client.patch("/admin/switches", headers=auth, json={"force_mini": True}).is_success
        _check(client)
        forced = client.post("/classify", json=REQUESTS[0]).json()
        assert forced["route"]["reason_code"] == "force_mini" and forced["risk_probs"] is None


def test_the_schema_is_closed() -> None:
    """A key the schema does not name fails validation: the renderer cannot drift silently."""
    from serving.schemas import ClassifyResponse

    schema = ClassifyResponse.model_json_schema()
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["RouteOut"]["additionalProperties"] is False
    assert schema["$defs"]["ProvenanceOut"]["additionalProperties"] is False
