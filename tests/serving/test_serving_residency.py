"""Data residency through a real `tierwise serve`: the served route stays in the allowed regions,
the response and the decision log say which constraint applied, and a bad rule stops start-up
with the file and the key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from classifier.contracts import DEFAULT_CONTRACTS_PATH, DEFAULT_ROUTING_TABLE_PATH

PII_TEXT = "Summarise the complaint from jane.doe@example.com about the late delivery."
CLEAN_TEXT = "Summarise the complaint about the late delivery of the order."


def table() -> dict[str, Any]:
    raw = yaml.safe_load(DEFAULT_ROUTING_TABLE_PATH.read_text(encoding="utf-8"))
    raw["regions"] = ["us", "eu"]
    for tier, spec in raw["tiers"].items():
        spec.update(region="us", vendor="acme")
        if tier != "full":  # no eu flagship
            eu = {k: v for k, v in spec.items() if k not in ("region", "vendor")}
            spec["alternatives"] = [
                {**eu, "model": f"{spec['model']}-eu", "region": "eu", "vendor": "eurocloud"}
            ]
    return raw


def contracts(**regions: list[str]) -> dict[str, Any]:
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_CONTRACTS_PATH.read_text(encoding="utf-8")))
    raw["residency"] = {"guards": {"pii": ["eu"]}}
    for name, allowed in regions.items():
        raw["features"][name]["regions"] = allowed
    return raw


def write(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_served_routes_stay_in_the_allowed_regions_and_say_why(
    tiny_bundle: Path, tmp_path: Path, start_server: Any
) -> None:
    env = {
        "TIERWISE_CONTRACTS_PATH": str(
            write(tmp_path / "c.yaml", contracts(doc_summary=["us", "eu"], ticket_triage=["us"]))
        ),
        "TIERWISE_ROUTING_TABLE_PATH": str(write(tmp_path / "t.yaml", table())),
        "TIERWISE_LOG_DIR": str(tmp_path / "logs"),
    }
    server = start_server(["--bundle", str(tiny_bundle)], env)
    status, clean = server.post_json("/classify", {"text": CLEAN_TEXT, "feature": "doc_summary"})
    assert status == 200, clean
    assert clean["route"]["region"] == "us"
    assert clean["route"]["residency"] == "regions ['eu', 'us'] (contract ['us', 'eu'])"
    status, pii = server.post_json("/classify", {"text": PII_TEXT, "feature": "doc_summary"})
    assert status == 200, pii
    route = pii["route"]
    assert route["region"] == "eu" and route["model"].endswith("-eu")
    assert route["residency"] == "regions ['eu'] (contract ['us', 'eu']; guards:pii ['eu'])"
    assert route["guards"] == ["pii.email"]
    # ticket_triage may only use us, personal data only eu: nothing is left, fail closed
    status, closed = server.post_json("/classify", {"text": PII_TEXT, "feature": "ticket_triage"})
    assert status == 200, closed
    assert closed["route"]["reason_code"] == "residency_fail_closed"
    assert closed["route"]["model"] == "" and closed["route"]["region"] is None
    _, body, _ = server.request("GET", "/metrics")
    assert 'reason="residency_fail_closed"' in body.decode()
    records = server.wait_for(lambda: _records(tmp_path / "logs" / "decisions.jsonl", 3))
    by_id = {r["request_id"]: r for r in records}
    logged = by_id[pii["request_id"]]["meta"]["residency"]
    assert logged == {"constraint": route["residency"], "region": "eu", "vendor": "eurocloud"}
    assert by_id[closed["request_id"]]["meta"]["reason_code"] == "residency_fail_closed"


def _records(path: Path, n: int) -> list[dict[str, Any]] | None:
    if not path.exists():
        return None
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return lines if len(lines) >= n else None


def test_a_bad_residency_rule_stops_start_up_naming_file_and_key(
    tiny_bundle: Path, tmp_path: Path, start_server: Any
) -> None:
    env = {
        "TIERWISE_CONTRACTS_PATH": str(
            write(tmp_path / "bad.yaml", contracts(doc_summary=["mars"]))
        ),
        "TIERWISE_ROUTING_TABLE_PATH": str(write(tmp_path / "t.yaml", table())),
    }
    with pytest.raises(
        RuntimeError, match=r"bad.yaml: features.doc_summary.regions\[0\]: unknown region 'mars'"
    ):
        start_server(["--bundle", str(tiny_bundle)], env)


TOKEN = "residency-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _app(tiny_bundle: Path, tmp_path: Path) -> Any:
    from serving.app import create_app
    from serving.settings import ServingSettings

    raw = table()
    raw["regions"] = ["us", "eu", "ap"]  # nothing runs in ap yet
    settings = ServingSettings(
        bundle_path=tiny_bundle, reload_interval_s=0, warmup_requests=1, admin_token=TOKEN,
        switches_path=tmp_path / "sw.json", routing_table_path=write(tmp_path / "t.yaml", raw),
    )  # fmt: skip
    return create_app(settings)


def test_admin_changes_residency_at_run_time_and_refuses_bad_rules(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    def region(client: TestClient) -> str | None:
        got = client.post("/classify", json={"text": CLEAN_TEXT, "feature": "doc_summary"})
        assert got.status_code == 200, got.text
        return got.json()["route"]["region"]

    with TestClient(_app(tiny_bundle, tmp_path)) as client:
        assert region(client) == "us"
        for body, key in [
            ({"features": {"doc_summary": ["mars"]}},
             "admin residency: features.doc_summary.regions[0]: unknown region 'mars'"),
            ({"features": {"policy_review": ["ap"]}},
             "admin residency: features.policy_review.regions: leaves 'policy_review' no endpoint"),
            ({"features": {"no_such_feature": ["eu"]}},
             "admin residency: features.no_such_feature: no contract"),
            ({"guards": {"pii": ["moon"]}}, "residency.guards.pii[0]: unknown region 'moon'"),
        ]:  # fmt: skip
            got = client.put("/admin/residency", json={"residency": body}, headers=AUTH)
            assert got.status_code == 422, got.text
            assert key in got.json()["detail"]
            assert region(client) == "us"  # the old rules stay
        assert client.put("/admin/residency", json={"residency": {}}).status_code == 401
        change = {"residency": {"features": {"doc_summary": ["eu"]}}, "note": "EU customers"}
        ok = client.put("/admin/residency", headers=AUTH, json=change)
        assert ok.status_code == 200, ok.text
        assert ok.json()["residency_override"] == {"features": {"doc_summary": ["eu"]}}
        assert region(client) == "eu"
        shown = client.get("/admin/switches", headers=AUTH).json()
        assert shown["residency_override"] == {"features": {"doc_summary": ["eu"]}}
    audit = [json.loads(line) for line in (tmp_path / "sw-audit.jsonl").read_text().splitlines()]
    assert audit[-1]["note"] == "EU customers" and audit[-1]["before"]["residency_override"] is None
    with TestClient(_app(tiny_bundle, tmp_path)) as client:  # a restart keeps it
        assert region(client) == "eu"
        back = client.put("/admin/residency", json={"residency": None}, headers=AUTH)
        assert back.status_code == 200 and region(client) == "us"
