"""Admin switches over HTTP: refused without the token, disabled without one configured, applied
to the next request, visible in /metrics, saved to a file and restored on start, feature names
checked against the contracts, and an append-only audit naming the token's identity."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifier.errors import ConfigError
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
def client(tiny_bundle: Path, tmp_path: Path) -> Iterator[TestClient]:
    with _client(tiny_bundle, admin_token=TOKEN, switches_path=tmp_path / "switches.json") as c:
        yield c


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "switches-audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _metric(client: TestClient, line_start: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_disabled_without_a_configured_token(tiny_bundle: Path) -> None:
    with pytest.raises(ValueError, match="TIERWISE_SWITCHES_PATH"):
        ServingSettings(admin_token=TOKEN)  # switches that a restart would lose are refused
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
        got = client.patch("/admin/switches", headers=AUTH, json={"force_mini": True})
    assert got.status_code == 200
    assert got.json()["switches"]["force_mini"] is True
    assert got.json()["switches"]["updated_by"] == "admin"  # the token's identity
    audit = [r.getMessage() for r in caplog.records if r.name == "tierwise.audit"]
    assert any("changed by admin" in m and "force_mini=True" in m for m in audit)
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
        {"force_mini": True, "by": "somebody-else"},  # identity comes from the token only
        {"experiment": {"mode": "canary"}},
        {"experiment": {"ab_learned_share": 1.5}},
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


def test_unknown_feature_is_422_with_the_known_ones(client: TestClient, tmp_path: Path) -> None:
    for method, body in (
        ("patch", {"kill": {"doc_sumary": True}}),
        ("patch", {"caps": {"doc_sumary": "mini"}}),
        ("put", {"killed": ["doc_sumary"]}),
    ):
        got = getattr(client, method)("/admin/switches", headers=AUTH, json=body)
        assert got.status_code == 422 and got.json()["error"] == "unknown_feature", got.text
        assert "doc_sumary" in got.json()["detail"] and "'doc_summary'" in got.json()["detail"]
    assert client.get("/admin/switches", headers=AUTH).json()["switches"]["version"] == 0
    assert not (tmp_path / "switches.json").exists() and _audit(tmp_path) == []
    assert client.patch("/admin/switches", headers=AUTH, json={"kill": {"*": True}}).is_success


def test_switches_are_saved_audited_and_restored(tiny_bundle: Path, tmp_path: Path) -> None:
    path = tmp_path / "state" / "switches.json"
    tokens = {"alice": "alice-token-1", "bob": "bob-token-2"}
    settings: dict[str, Any] = dict(admin_tokens=tokens, switches_path=path)
    with _client(tiny_bundle, **settings) as c:
        alice = {"Authorization": "Bearer alice-token-1"}
        bob = {"Authorization": "Bearer bob-token-2"}
        body = {"force_mini": True, "kill": {"doc_summary": True}, "caps": {"support_chat": "nano"},
                "note": "incident 42"}  # fmt: skip
        assert c.patch("/admin/switches", headers=alice, json=body).status_code == 200
        got = c.patch("/admin/switches", headers=bob, json={"experiment": {"mode": "shadow"}})
        assert got.status_code == 200, got.text
        assert got.json()["experiment"]["mode"] == "shadow"
        assert got.json()["switches"]["updated_by"] == "bob"
    saved = json.loads(path.read_text())
    assert saved["switches"]["force_mini"] is True and saved["switches"]["version"] == 2
    assert saved["experiment"]["mode"] == "shadow"
    assert not list(path.parent.glob(".*tmp"))  # the atomic write left no temp file
    audit = [json.loads(x) for x in (path.parent / "switches-audit.jsonl").read_text().splitlines()]
    assert [(a["actor"], a["method"], a["note"]) for a in audit] == [
        ("alice", "PATCH", "incident 42"),
        ("bob", "PATCH", None),
    ]
    assert audit[0]["before"]["switches"]["force_mini"] is False
    assert audit[0]["after"]["switches"]["killed"] == ["doc_summary"]
    assert audit[1]["after"]["experiment"]["mode"] == "shadow" and audit[0]["ts"].endswith("Z")

    # a restart (a new app on the same file) keeps every switch and the policy mode
    with _client(tiny_bundle, **settings) as c:
        state = c.get("/admin/switches", headers={"Authorization": "Bearer bob-token-2"}).json()
        assert state["switches"]["force_mini"] is True
        assert state["switches"]["killed"] == ["doc_summary"]
        assert state["switches"]["caps"] == {"support_chat": "nano"}
        assert state["switches"]["version"] == 2 and state["experiment"]["mode"] == "shadow"
        route = c.post("/classify", json={"text": TEXT, "feature": "doc_summary"}).json()["route"]
        assert route["reason_code"] == "force_mini"
        assert _metric(c, "tierwise_switch_version ") == 2.0
        assert _metric(c, 'tierwise_experiment_info{ab_learned_share="",mode="shadow"') == 1.0
        # PUT without an experiment goes back to the configured mode; the file follows
        got = c.put("/admin/switches", headers={"Authorization": "Bearer alice-token-1"}, json={})
        assert got.json()["experiment"]["mode"] == "learned"
    assert json.loads(path.read_text())["experiment"] is None


def test_a_change_that_cannot_be_saved_changes_nothing(tiny_bundle: Path, tmp_path: Path) -> None:
    path = tmp_path / "state" / "switches.json"
    audit = tmp_path / "audit.jsonl"
    with _client(tiny_bundle, admin_token=TOKEN, switches_path=path, audit_log_path=audit) as c:
        (tmp_path / "state").rmdir()  # the disk changed under the running service
        (tmp_path / "state").write_text("a file where the switches directory should be")
        got = c.patch("/admin/switches", headers=AUTH, json={"force_mini": True})
        assert got.status_code == 503 and got.json()["error"] == "switches_not_saved"
        assert "nothing was changed" in got.json()["detail"]
        assert c.get("/admin/switches", headers=AUTH).json()["switches"]["force_mini"] is False
        route = c.post("/classify", json={"text": TEXT, "feature": "doc_summary"}).json()["route"]
        assert route["reason_code"] != "force_mini"
    events = [json.loads(x).get("event") for x in audit.read_text().splitlines()]
    assert events == [None, "not_saved"]  # the attempt and its failure are both on record


def test_an_unreadable_switches_file_stops_the_start(tiny_bundle: Path, tmp_path: Path) -> None:
    path = tmp_path / "switches.json"
    path.write_text('{"format": 1, "switches": {"force_mini": tru')  # cut short
    with pytest.raises(ConfigError, match="switches file .* is unreadable"):
        create_app(ServingSettings(bundle_path=tiny_bundle, switches_path=path))
    path.write_text(json.dumps({"format": 1, "switches": {"caps": {"x": "huge"}}}))
    with pytest.raises(ConfigError, match="huge"):
        create_app(ServingSettings(bundle_path=tiny_bundle, switches_path=path))


@pytest.mark.slow
def test_a_real_server_keeps_its_switches_across_a_restart(
    start_server: Any, tiny_bundle: Path, tmp_path: Path
) -> None:
    env = {"TIERWISE_ADMIN_TOKEN": TOKEN, "TIERWISE_SWITCHES_PATH": str(tmp_path / "sw.json")}
    args = ["--bundle", str(tiny_bundle), "--reload-interval", "0"]
    body = json.dumps({"force_mini": True, "kill": {"support_chat": True}}).encode()
    first = start_server(args, env)
    status, _, _ = first.request("PATCH", "/admin/switches", body, AUTH)
    assert status == 200
    first.stop()
    second = start_server(args, env)
    _, got = second.post_json("/classify", {"text": TEXT, "feature": "doc_summary"})
    assert got["route"]["reason_code"] == "force_mini"
    status, raw, _ = second.request("GET", "/admin/switches", None, AUTH)
    assert json.loads(raw)["switches"]["killed"] == ["support_chat"]
    assert "restored switches from" in second.log()
