"""Progressive rollout through the real app: per-feature shares, a shadow sample and stickiness
changed at run time through the admin API (validated, audited, saved, restored, in /metrics),
assignment sticky per conversation and user, and escalated conversations kept at their tier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from classifier.errors import ConfigError
from classifier.logschema import LogRecord
from serving.app import create_app
from serving.experiment import Experiment, unit_key
from serving.settings import ServingSettings

ADMIN = {"Authorization": "Bearer admin-token-000"}
CLIENT = {"Authorization": "Bearer client-token-123"}
CALLERS = {"router": {"token": "client-token-123", "role": "client"}}
TEXTS = [
    "Summarize the incident postmortem in three bullet points.",
    "Translate this support ticket into French.",
    "Is the sentiment of this customer email positive or negative?",
    "Tell me a joke about standup meetings.",
    "Fix the grammar in yesterday's standup notes.",
    "Tag the API changelog with a topic label.",
]


def _settings(bundle: Path, tmp_path: Path, **over: Any) -> ServingSettings:
    base: dict[str, Any] = dict(
        bundle_path=bundle,
        reload_interval_s=0,
        warmup_requests=1,
        log_dir=tmp_path / "logs",
        feedback_callers=CALLERS,
        admin_token="admin-token-000",
        switches_path=tmp_path / "switches.json",
    )
    return ServingSettings(**{**base, **over})


@pytest.fixture
def client(tiny_bundle: Path, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tiny_bundle, tmp_path))) as c:
        yield c


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "logs" / "decisions.jsonl").read_bytes().splitlines()
    for line in lines:
        LogRecord.model_validate_json(line, strict=True)  # still schema v1
    return [orjson.loads(line) for line in lines]


def _metric(client: TestClient, start: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(start):
            return float(line.rsplit(" ", 1)[1])
    return None


# --- assignment -------------------------------------------------------------------------------


def test_shares_are_per_feature_monotone_and_sticky() -> None:
    exp = Experiment("ab", learned_share=0.5, feature_shares={"doc_summary": 0.1})
    keys = [unit_key(None, f"conv-{i}", f"req-{i}")[0] for i in range(4000)]
    at_10 = {k for k in keys if exp.assign(k, "doc_summary").arm == "learned"}
    assert 0.085 < len(at_10) / len(keys) < 0.115  # sd 0.005
    other = sum(exp.assign(k, "support_chat").arm == "learned" for k in keys) / len(keys)
    assert 0.47 < other < 0.53  # a feature without its own share takes the default
    raised = Experiment("ab", learned_share=0.5, feature_shares={"doc_summary": 0.2})
    at_20 = {k for k in keys if raised.assign(k, "doc_summary").arm == "learned"}
    assert at_10 <= at_20 and 0.18 < len(at_20) / len(keys) < 0.22  # raising only adds units
    first = exp.assign(keys[0], "doc_summary")
    assert first.arm_probability == (0.1 if first.arm == "learned" else 0.9)
    # the unit key: a user id wins over a conversation id, which wins over the request id
    assert unit_key("u1", "c1", "r1") == ("u:u1", "user")
    assert unit_key(None, "c1", "r1") == ("c:c1", "conversation")
    assert unit_key(None, None, "r1") == ("r1", "request")


def test_shadow_rate_samples_units() -> None:
    exp = Experiment("learned", shadow_rate=0.15)
    keys = [f"c:{i}" for i in range(4000)]
    sampled = [k for k in keys if exp.assign(k).shadow == "rules"]
    assert 0.13 < len(sampled) / len(keys) < 0.17
    assert all(exp.assign(k).served == "learned" for k in keys[:50])
    assert exp.needs_rules  # the shadow needs the rules policy bound
    assert Experiment("shadow").assign("x").shadow == "rules"  # default rate 1 in shadow mode
    assert Experiment("shadow").shadow_rate == 1.0 and Experiment("ab").shadow_rate == 0.0


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"feature_shares": {"doc_summary": 1.5}}, "feature_shares.doc_summary"),
        ({"feature_shares": {"doc_summary": -0.1}}, "feature_shares.doc_summary"),
        ({"shadow_rate": 2}, "shadow_rate"),
        ({"learned_share": float("nan")}, "ab_learned_share"),
        ({"feature_shares": {"doc_summary": True}}, "feature_shares.doc_summary"),
    ],
)
def test_a_share_outside_0_1_names_its_key(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        Experiment("ab", **kwargs)


# --- admin API ----------------------------------------------------------------------------------


def test_rollout_changed_at_run_time_saved_audited_and_in_metrics(
    client: TestClient, tmp_path: Path, tiny_bundle: Path
) -> None:
    change = {
        "experiment": {
            "mode": "ab",
            "ab_learned_share": 0.0,
            "feature_shares": {"doc_summary": 0.25},
            "shadow_rate": 0.2,
        },
        "caps": {"support_chat": "mini"},
        "note": "rollout step 1",
    }
    got = client.patch("/admin/switches", json=change, headers=ADMIN)
    assert got.status_code == 200, got.text
    experiment = got.json()["experiment"]
    assert experiment["feature_shares"] == {"doc_summary": 0.25}
    assert experiment["shadow_rate"] == 0.2 and experiment["sticky_escalation"] is True
    saved = json.loads((tmp_path / "switches.json").read_text())
    assert saved["experiment"]["feature_shares"] == {"doc_summary": 0.25}
    audit = [json.loads(x) for x in (tmp_path / "switches-audit.jsonl").read_text().splitlines()]
    assert audit[-1]["note"] == "rollout step 1"
    assert audit[-1]["after"]["experiment"]["feature_shares"] == {"doc_summary": 0.25}
    assert audit[-1]["before"]["experiment"]["feature_shares"] is None  # learned mode before
    assert _metric(client, 'tierwise_rollout_learned_share{feature="doc_summary"}') == 0.25
    assert _metric(client, 'tierwise_rollout_learned_share{feature="*"}') == 0.0
    assert _metric(client, "tierwise_rollout_shadow_rate ") == 0.2
    assert _metric(client, 'tierwise_switch_tier_cap{feature="support_chat",tier="mini"}') == 1.0

    # 120 conversations of three turns each: every turn of a conversation on one arm
    arms: dict[str, set[str]] = {}
    for c in range(120):
        for turn in range(3):
            body = {"text": TEXTS[(c + turn) % len(TEXTS)], "feature": "doc_summary",
                    "conversation_id": f"conv-{c}", "request_id": f"conv-{c}-t{turn}"}  # fmt: skip
            got = client.post("/classify", json=body)
            assert got.status_code == 200, got.text
            arms.setdefault(f"conv-{c}", set()).add(got.json()["arm"])
            assert got.json()["route"]["policy"] == got.json()["arm"]
    assert all(len(a) == 1 for a in arms.values())  # never split across policies
    learned = sum(a == {"learned"} for a in arms.values())
    assert 12 <= learned <= 50  # 25 % of 120 (sd 4.7)
    for c in range(20):  # another feature: share 0, all rules
        body = {"text": TEXTS[0], "feature": "support_chat", "conversation_id": f"conv-{c}"}
        assert client.post("/classify", json=body).json()["arm"] == "rules"
    client.__exit__(None, None, None)  # flush the decision log
    records = [r for r in _records(tmp_path) if r["feature"] == "doc_summary"]
    assert len(records) == 360
    shadowed = {r["meta"]["conversation_id"] for r in records if "shadow" in r["meta"]}
    assert 8 <= len(shadowed) <= 42  # 20 % of 120 conversations, whole conversations
    for r in records:
        assert ("shadow" in r["meta"]) == (r["meta"]["conversation_id"] in shadowed)
        meta = r["meta"]["experiment"]
        assert meta["assignment_key"] == "conversation" and meta["learned_share"] == 0.25
        assert r["route"]["propensity"] in (0.25, 0.75, 1.0)

    # a restart keeps the rollout
    with TestClient(create_app(_settings(tiny_bundle, tmp_path))) as again:
        state = again.get("/admin/switches", headers=ADMIN).json()
        assert state["experiment"]["feature_shares"] == {"doc_summary": 0.25}
        assert _metric(again, 'tierwise_rollout_learned_share{feature="doc_summary"}') == 0.25


@pytest.mark.parametrize(
    ("experiment", "status", "code"),
    [
        ({"feature_shares": {"doc_summary": 1.5}}, 422, "invalid_request"),
        ({"feature_shares": {"doc_summary": "half"}}, 422, "invalid_request"),
        ({"shadow_rate": -0.1}, 422, "invalid_request"),
        ({"feature_shares": {"doc_sumary": 0.5}}, 422, "unknown_feature"),
        ({"sticky_escalation": "no"}, 422, "invalid_request"),
    ],
)
def test_bad_rollout_is_a_4xx_and_keeps_the_old_setting(
    client: TestClient, tmp_path: Path, experiment: dict[str, Any], status: int, code: str
) -> None:
    first = {"experiment": {"mode": "ab", "feature_shares": {"doc_summary": 0.1}}}
    assert client.patch("/admin/switches", json=first, headers=ADMIN).status_code == 200
    saved = (tmp_path / "switches.json").read_bytes()
    audit = (tmp_path / "switches-audit.jsonl").read_bytes()
    got = client.patch("/admin/switches", json={"experiment": experiment}, headers=ADMIN)
    assert got.status_code == status, got.text
    assert got.json()["error"] == code
    key = next(iter(experiment))
    assert key in got.text or "doc_sumary" in got.text  # the answer names what is wrong
    state = client.get("/admin/switches", headers=ADMIN).json()
    assert state["experiment"]["feature_shares"] == {"doc_summary": 0.1}
    assert (tmp_path / "switches.json").read_bytes() == saved
    assert (tmp_path / "switches-audit.jsonl").read_bytes() == audit
    assert _metric(client, 'tierwise_rollout_learned_share{feature="doc_summary"}') == 0.1


def test_null_share_returns_a_feature_to_the_default(client: TestClient) -> None:
    change = {"experiment": {"mode": "ab", "feature_shares": {"doc_summary": 0.1, "*": 0.3}}}
    assert client.patch("/admin/switches", json=change, headers=ADMIN).status_code == 200
    back = {"experiment": {"feature_shares": {"doc_summary": None}}}
    got = client.patch("/admin/switches", json=back, headers=ADMIN)
    assert got.json()["experiment"]["feature_shares"] == {"*": 0.3}
    assert _metric(client, 'tierwise_rollout_learned_share{feature="*"}') == 0.3
    assert _metric(client, 'tierwise_rollout_learned_share{feature="doc_summary"}') is None


# --- load time --------------------------------------------------------------------------------


def test_a_bad_share_in_the_switches_file_stops_the_start(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    path = tmp_path / "switches.json"
    experiment = {"mode": "ab", "shadow_serve": "learned", "ab_learned_share": 0.5,
                  "feature_shares": {"doc_summary": 1.5}}  # fmt: skip
    switches = {"force_mini": False, "killed": [], "caps": {}, "version": 3}
    path.write_text(json.dumps({"format": 1, "switches": switches, "experiment": experiment}))
    with pytest.raises(ConfigError) as err:
        create_app(_settings(tiny_bundle, tmp_path))
    assert str(path) in str(err.value)
    assert "experiment.feature_shares.doc_summary" in str(err.value)


def test_bad_shares_in_the_settings_are_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ab_feature_shares.doc_summary"):
        _settings(tiny_bundle, tmp_path, ab_feature_shares={"doc_summary": 1.2})
    with pytest.raises(ValidationError, match="shadow_rate"):
        _settings(tiny_bundle, tmp_path, shadow_rate=1.2)
    settings = _settings(tiny_bundle, tmp_path, ab_feature_shares={"doc_sumary": 0.2})
    with pytest.raises(ConfigError, match="TIERWISE_AB_FEATURE_SHARES.*doc_sumary"):
        create_app(settings)


# --- escalated conversations --------------------------------------------------------------------


def _feedback(client: TestClient, request_id: str, served: str, to: str) -> None:
    attempts = [
        {"tier": tier, "model": f"acme-{tier}", "schema_ok": tier == to, "compliance_ok": True,
         "latency_ms": 300.0, "input_tokens": 40, "output_tokens": 20, "cost_usd": 0.001}
        for tier in (served, to)
    ]  # fmt: skip
    outcome = {"request_id": request_id, "attempts": attempts,
               "escalations": [{"from": served, "to": to, "cause": "schema_fail_x2"}]}  # fmt: skip
    got = client.post("/feedback", json={"outcomes": [outcome]}, headers=CLIENT)
    assert got.status_code == 202 and got.json()["outcomes"][0]["status"] == "recorded", got.text


def test_an_escalated_conversation_keeps_its_tier(client: TestClient) -> None:
    below_full = []
    for i, text in enumerate(TEXTS):
        body = {"text": text, "feature": "inline_assist", "request_id": f"probe-{i}"}
        route = client.post("/classify", json=body).json()["route"]
        if route["tier"] != "full":
            below_full.append((text, route["tier"]))
    assert below_full, "the tiny model routes every probe to full; pick other probe texts"
    text, tier = below_full[0]
    first = {"text": text, "feature": "inline_assist", "conversation_id": "conv-a",
             "request_id": "a-1"}  # fmt: skip
    assert client.post("/classify", json=first).json()["route"]["tier"] == tier
    _feedback(client, "a-1", tier, "full")
    assert _metric(client, "tierwise_conversation_floors ") == 1.0

    nxt = {**first, "request_id": "a-2"}
    route = client.post("/classify", json=nxt).json()["route"]
    assert route["tier"] == "full" and route["reason_code"] == "conversation_floor"
    assert "conversation_floor" in route["reason"]
    other = {**first, "conversation_id": "conv-b", "request_id": "b-1"}
    assert client.post("/classify", json=other).json()["route"]["tier"] == tier  # not raised
    without = {"text": text, "feature": "inline_assist", "request_id": "none-1"}
    assert client.post("/classify", json=without).json()["route"]["tier"] == tier

    # an operator's cap still has the last word
    cap = {"caps": {"inline_assist": tier}}
    assert client.patch("/admin/switches", json=cap, headers=ADMIN).status_code == 200
    capped = client.post("/classify", json={**first, "request_id": "a-3"}).json()["route"]
    assert capped["tier"] == tier and capped["reason_code"] == "tier_cap"
    lift = {"caps": {"inline_assist": None}, "experiment": {"sticky_escalation": False}}
    assert client.patch("/admin/switches", json=lift, headers=ADMIN).status_code == 200
    assert _metric(client, "tierwise_rollout_sticky_escalation ") == 0.0
    off = client.post("/classify", json={**first, "request_id": "a-4"}).json()["route"]
    assert off["tier"] == tier  # configured otherwise: no floor
    assert _metric(client, 'tierwise_decisions_total{arm="none",policy="learned",'
                           'reason="conversation_floor",tier="full"}') == 1.0  # fmt: skip


def test_a_floor_holds_in_every_worker(tiny_bundle: Path, tmp_path: Path) -> None:
    """Two apps on one TIERWISE_LOG_DIR, as the workers of `tierwise serve --workers 2` are:
    the feedback reaches one, the next turn the other."""
    import time

    settings = _settings(tiny_bundle, tmp_path)
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        text, tier = "", ""
        for i, probe in enumerate(TEXTS):
            body = {"text": probe, "feature": "inline_assist", "request_id": f"probe-{i}"}
            tier = one.post("/classify", json=body).json()["route"]["tier"]
            if tier != "full":
                text = probe
                break
        assert text, "the tiny model routes every probe to full; pick other probe texts"
        turn = {"text": text, "feature": "inline_assist", "conversation_id": "conv-w"}
        assert (
            two.post("/classify", json={**turn, "request_id": "w-0"}).json()["route"]["tier"]
            == tier
        )
        assert one.post("/classify", json={**turn, "request_id": "w-1"}).status_code == 200
        _feedback(one, "w-1", tier, "full")
        deadline, n, route = time.monotonic() + 5.0, 2, {}
        while time.monotonic() < deadline:
            route = two.post("/classify", json={**turn, "request_id": f"w-{n}"}).json()["route"]
            if route["reason_code"] == "conversation_floor":
                break
            n += 1
            time.sleep(0.05)
        assert route["tier"] == "full" and route["reason_code"] == "conversation_floor"
        assert _metric(two, "tierwise_conversation_floors ") == 1.0
    assert (tmp_path / "logs" / "conversation-floors.sqlite").exists()
