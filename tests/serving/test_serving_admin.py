"""Admin switches over HTTP: refused without the token, disabled without one configured, applied
to the next request, visible in /metrics and written to the audit log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXT = "Check the vendor contract against our data retention policy."


def _client(bundle: Path, **overrides: Any) -> TestClient:
    settings = ServingSettings(
        bundle_path=bundle, reload_interval_s=0, warmup_requests=1, **overrides
    )
    return TestClient(create_app(settings))


@pytest.fixture
def client(tiny_bundle: Path) -> Iterator[TestClient]:
    with _client(tiny_bundle, admin_token=TOKEN) as c:
        yield c


def _metric(client: TestClient, line_start: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_disabled_without_a_configured_token(tiny_bundle: Path) -> None:
    with _client(tiny_bundle) as c:
        got = c.get("/admin/switches", headers=AUTH)
        assert got.status_code == 404
        assert got.json()["error"] == "admin_disabled"
        assert "TIERWISE_ADMIN_TOKEN" in got.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": TOKEN}, 401),  # no scheme
        ({"Authorization": "Basic dXNlcjpwdw=="}, 401),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"Authorization": f"Bearer {TOKEN}x"}, 403),
    ],
)
def test_refused_without_the_right_token(
    client: TestClient, headers: dict[str, str], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tierwise.audit"):
        for method in ("GET", "PUT", "PATCH"):
            got = client.request(method, "/admin/switches", headers=headers, json={})
            assert got.status_code == status, (method, got.text)
    assert any("refused" in r.getMessage() for r in caplog.records)
    # nothing was switched by the refused calls
    assert client.get("/admin/switches", headers=AUTH).json()["switches"]["version"] == 0


def test_force_mini_applies_to_the_next_request_and_shows_in_metrics(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    before = client.post("/classify", json={"text": TEXT, "feature": "doc_summary"}).json()
    assert before["route"]["reason_code"] != "force_mini"
    assert _metric(client, "tierwise_switch_force_mini ") == 0.0
    with caplog.at_level(logging.WARNING, logger="tierwise.audit"):
        got = client.patch("/admin/switches", headers=AUTH, json={"force_mini": True, "by": "ops"})
    assert got.status_code == 200
    assert got.json()["switches"]["force_mini"] is True
    assert got.json()["switches"]["updated_by"] == "ops"
    audit = [r.getMessage() for r in caplog.records if r.name == "tierwise.audit"]
    assert any("changed by ops" in m and "force_mini=True" in m for m in audit)
    # same text again: the cache must not answer with the pre-switch route
    after = client.post("/classify", json={"text": TEXT, "feature": "doc_summary"}).json()
    assert after["route"]["tier"] == "mini" and after["route"]["reason_code"] == "force_mini"
    assert _metric(client, "tierwise_switch_force_mini ") == 1.0
    assert _metric(client, "tierwise_switch_version ") == 1.0
    assert _metric(client, 'tierwise_decisions_total{arm="none",policy="force_mini"') == 1.0


def test_kill_switch_and_cap_per_feature(client: TestClient) -> None:
    got = client.put(
        "/admin/switches",
        headers=AUTH,
        json={"killed": ["doc_summary"], "caps": {"support_chat": "nano"}},
    )
    assert got.status_code == 200, got.text
    killed = client.post("/classify", json={"text": TEXT, "feature": "doc_summary"}).json()
    assert killed["route"]["policy"] == "rules"
    capped = client.post("/classify", json={"text": TEXT, "feature": "support_chat"}).json()
    assert capped["route"]["tier"] == "nano"
    other = client.post("/classify", json={"text": TEXT, "feature": "inline_assist"}).json()
    assert other["route"]["policy"] == "learned"
    assert _metric(client, 'tierwise_switch_killed{feature="doc_summary"}') == 1.0
    assert _metric(client, 'tierwise_switch_tier_cap{feature="support_chat",tier="nano"}') == 1.0
    # PUT replaces: what is not listed is switched off again
    got = client.put("/admin/switches", headers=AUTH, json={"caps": {"doc_summary": "mini"}})
    state = got.json()["switches"]
    assert state["killed"] == [] and state["caps"] == {"doc_summary": "mini"}
    assert _metric(client, 'tierwise_switch_killed{feature="doc_summary"}') is None
    # PATCH with null lifts one cap and keeps the rest
    got = client.patch("/admin/switches", headers=AUTH, json={"caps": {"doc_summary": None}})
    assert got.json()["switches"]["caps"] == {}


@pytest.mark.parametrize(
    "body",
    [
        {"force_mini": "yes"},
        {"caps": {"doc_summary": "huge"}},
        {"kill": {"doc_summary": 1}},
        {"killed": "doc_summary"},
        {"unknown": True},
        {"kill": {" ": True}},
    ],
)
def test_bad_switch_values_are_422_and_change_nothing(
    client: TestClient, body: dict[str, Any]
) -> None:
    method = "put" if "killed" in body else "patch"
    got = getattr(client, method)("/admin/switches", headers=AUTH, json=body)
    assert got.status_code == 422, got.text
    assert got.json()["detail"]
    assert client.get("/admin/switches", headers=AUTH).json()["switches"]["version"] == 0


def test_invalid_json_is_400(client: TestClient) -> None:
    got = client.patch("/admin/switches", headers=AUTH, content=b"{not json")
    assert got.status_code == 400 and got.json()["error"] == "invalid_json"
