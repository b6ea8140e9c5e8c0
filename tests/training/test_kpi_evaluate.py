"""`tierwise evaluate --kpi`: the real service's logs (ab rollout, prompt versions, feedback)
joined to KPI events, reported per arm and per prompt version with intervals, through the CLI."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from classifier.cli import main
from classifier.logschema import LogRecord
from serving.app import create_app
from serving.settings import ServingSettings
from training.ingest.load import load_training_set
from training.kpi.stats import ratio_estimate

CLIENT = {"Authorization": "Bearer client-token-123"}
TEXTS = [
    "Summarize the incident postmortem in three bullet points.",
    "Translate this support ticket into French.",
    "Tell me a joke about standup meetings.",
]
COST = {"learned": 0.001, "rules": 0.003}  # what the fake router's answers cost per arm


def _attempt(tier: str, cost: float, ok: bool) -> dict[str, Any]:
    return {"tier": tier, "model": f"acme-{tier}", "schema_ok": ok, "compliance_ok": True,
            "latency_ms": 250.0, "input_tokens": 30, "output_tokens": 20, "cost_usd": cost,
            "error": None}  # fmt: skip


@pytest.fixture(scope="module")
def served(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """80 conversations of two turns through the real app in ab mode, each with its outcome."""
    tmp = tmp_path_factory.mktemp("kpi")
    settings = ServingSettings(
        bundle_path=tiny_bundle, reload_interval_s=0, warmup_requests=1, log_dir=tmp / "logs",
        policy_mode="ab", ab_learned_share=0.5,
        feedback_callers={"router": {"token": "client-token-123", "role": "client"}},
    )  # fmt: skip
    replies = []
    with TestClient(create_app(settings), headers=CLIENT) as client:
        for c in range(80):
            prompt = "support_reply@v3" if c % 2 else "support_reply@v4"
            for turn in range(2):
                body = {"text": TEXTS[(c + turn) % 3], "feature": "support_chat",
                        "conversation_id": f"conv-{c}", "prompt_id": prompt,
                        "request_id": f"c{c}-t{turn}"}  # fmt: skip
                got = client.post("/classify", json=body)
                assert got.status_code == 200, got.text
                reply = got.json()
                tier, arm = reply["route"]["tier"], reply["arm"]
                ok = (c + turn) % 5 != 0  # every fifth turn fails its schema
                outcome = {"request_id": reply["request_id"],
                           "attempts": [_attempt(tier, COST[arm], ok)]}  # fmt: skip
                fed = client.post("/feedback", json={"outcomes": [outcome]})
                assert fed.status_code == 202, fed.text
                replies.append({**reply, "prompt": prompt, "conversation": f"conv-{c}", "ok": ok})
    return {"dir": tmp, "replies": replies}


def test_decision_records_carry_the_prompt_and_experiment(served: dict[str, Any]) -> None:
    lines = (served["dir"] / "logs" / "decisions.jsonl").read_bytes().splitlines()
    records = [LogRecord.model_validate_json(line, strict=True) for line in lines]
    assert {r.prompt_id for r in records} == {"support_reply@v3", "support_reply@v4"}
    meta = orjson.loads(lines[0])["meta"]
    experiment = meta["experiment"]
    assert experiment["policy"] == experiment["arm"] in ("learned", "rules")
    assert experiment["contracts_version"].startswith("sha256:")
    assert experiment["routing_table_version"] and experiment["model_version"] == "1"
    assert meta["conversation_id"] == "conv-0"
    # and into training: the prompt version is a column of the training set
    outcomes = served["dir"] / "logs" / "outcomes.jsonl"
    data, report = load_training_set([outcomes], [], served["dir"] / "quarantine.jsonl")
    assert report.quarantined == 0
    assert data.prompt_id is not None and set(data.prompt_id) == {
        "support_reply@v3",
        "support_reply@v4",
    }
    sub = data.subset(np.arange(3))
    assert sub.prompt_id == data.prompt_id[:3]


def test_evaluate_kpi_per_arm_and_prompt(
    served: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replies = served["replies"]
    events, expected = [], defaultdict(float)
    for i, reply in enumerate(replies):
        if i % 3 == 0:  # a conversion on one request in three, by request id
            events.append({"request_id": reply["request_id"], "ts": "2030-01-01T00:00:00Z",
                           "kind": "conversion", "value": 1})  # fmt: skip
            expected[("conversion", reply["arm"])] += 1
    for c in range(0, 80, 4):  # a support ticket by conversation: its last turn before it
        events.append({"conversation_id": f"conv-{c}", "ts": "2030-01-01T00:00:00Z",
                       "kind": "support_ticket"})  # fmt: skip
        last = [r for r in replies if r["conversation"] == f"conv-{c}"][-1]
        expected[("support_ticket", last["arm"])] += 1
    events.append(
        {"request_id": "never-served", "ts": "2030-01-01T00:00:00Z", "kind": "activation"}
    )
    events.append({"conversation_id": "conv-1", "ts": "2001-01-01T00:00:00Z", "kind": "retention"})
    lines = [json.dumps(e) for e in events]
    lines.insert(5, '{"request_id": "c0-t0", "kind": "refund", "ts": "2030-01-01T00:00:00Z"}')
    kpi = tmp_path / "kpi.jsonl"
    kpi.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report"
    logs = served["dir"] / "logs" / "outcomes.jsonl"
    code = main(["evaluate", "--kpi", str(kpi), "--logs", str(logs), "--out", str(out),
                 "--bootstrap", "300"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "## Per arm" in printed and "## Per prompt version" in printed

    report = json.loads((out / "kpi.json").read_text())
    assert report["decisions"] == len(replies)
    assert report["events"]["refused"] == 1 and report["events"]["joined"] == len(events) - 2
    assert report["events"]["unmatched"] == {
        "unknown request_id": 1,
        "before the conversation's first decision": 1,
    }
    per_arm = report["groups"]["arm"]
    assert set(per_arm) == {"learned", "rules"}
    for arm, group in per_arm.items():
        mine = [r for r in replies if r["arm"] == arm]
        assert group["requests"] == len(mine)
        assert group["units"] == len({r["conversation"] for r in mine})
        assert group["cost_per_request_usd"]["value"] == pytest.approx(COST[arm])
        failure = group["failure_rate"]
        assert failure["value"] == pytest.approx(sum(not r["ok"] for r in mine) / len(mine))
        assert failure["low"] <= failure["value"] <= failure["high"]
        for kind in ("conversion", "support_ticket"):
            est = group["kpi_per_request"][kind]
            assert est["value"] == pytest.approx(expected[(kind, arm)] / len(mine))
            assert est["low"] <= est["value"] <= est["high"] and est["high"] > est["low"]
        assert group["versions"]["contracts_version"][0].startswith("sha256:")
    per_prompt = report["groups"]["prompt"]
    assert set(per_prompt) == {"support_reply@v3", "support_reply@v4"}
    assert sum(g["requests"] for g in per_prompt.values()) == len(replies)
    assert len(report["groups"]["arm_prompt"]) == 4
    assert "kind: Input should be" in (out / "kpi-report.md").read_text()  # the refused line


def test_cluster_bootstrap_is_wider_than_row_bootstrap_for_correlated_turns() -> None:
    rng = np.random.default_rng(3)
    unit_rate = rng.random(60) < 0.3  # each conversation converts on every turn, or never
    values = np.repeat(unit_rate.astype(float), 10)
    units = np.repeat(np.arange(60), 10)
    clustered = ratio_estimate(values, units, n_resamples=400)
    rows = ratio_estimate(values, np.arange(values.size), n_resamples=400)
    assert clustered.value == rows.value == pytest.approx(unit_rate.mean())
    assert (clustered.high - clustered.low) > 2 * (rows.high - rows.low)


def test_kpi_without_logs_says_what_to_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kpi = tmp_path / "kpi.jsonl"
    kpi.write_text("")
    assert main(["evaluate", "--kpi", str(kpi), "--out", str(tmp_path)]) == 2
    assert "--logs" in capsys.readouterr().err
