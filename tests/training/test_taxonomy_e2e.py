"""A team's own taxonomy end to end: five intents, two risks, four tiers, trained and served.

The simulator speaks the default labels, so its records are mapped into the custom ones here
(intents and risks by a fixed table; a request whose last answer, at `full`, failed gets a
`reasoning` attempt that passed, as a router with a fourth tier would log it). Training reads
the taxonomy from its config, the bundle carries it, the service refuses it under contracts
of another taxonomy and serves it under its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow

TAXONOMY = {
    "version": "acme-2",
    "intents": ["rewrite", "extract", "reason", "code", "converse"],
    "risks": ["routine", "sensitive"],
    "tiers": ["nano", "mini", "full", "reasoning"],
}
INTENT_MAP = {
    "summarize": "extract", "transform": "rewrite", "classify": "extract", "plan": "reason",
    "generate_code": "code", "review_policy": "reason", "chat": "converse",
}  # fmt: skip
RISK_MAP = {"low": "routine", "medium": "sensitive", "high": "sensitive"}


def _ok(attempt: dict[str, Any]) -> bool:
    return attempt["schema_ok"] and attempt["compliance_ok"] and attempt["error"] is None


def _to_custom(record: dict[str, Any]) -> dict[str, Any]:
    labels = record.get("labels")
    if labels:
        if labels.get("intent"):
            labels["intent"] = INTENT_MAP[labels["intent"]]
        if labels.get("risk"):
            labels["risk"] = RISK_MAP[labels["risk"]]
    attempts = record["attempts"]
    if attempts and attempts[-1]["tier"] == "full" and not _ok(attempts[-1]):
        last = attempts[-1]
        attempts.append({**last, "tier": "reasoning", "model": "acme-reasoning-1",
                         "schema_ok": True, "compliance_ok": True, "error": None})  # fmt: skip
        record["escalations"].append({"from": "full", "to": "reasoning", "cause": "schema_fail"})
    return record


def _write_config(tmp: Path) -> dict[str, Path]:
    files = {n: tmp / f"{n}.yaml" for n in ("taxonomy", "contracts", "routing_table")}
    files["taxonomy"].write_text(yaml.safe_dump(TAXONOMY))
    economics = {"failure_usd": 0.02, "delay_usd_per_s": 0.0005}
    files["contracts"].write_text(yaml.safe_dump({
        "taxonomy": "taxonomy.yaml",  # relative to the contracts file
        "decision": {"risk_min_tier": {"routine": "nano", "sensitive": "mini"}},
        "features": {
            "support_chat": {"intent": "converse", "quality_bar": 0.8, "latency_budget_ms": 3000,
                             "risk_profile": "sensitive", "economics": economics},
            "proof_check": {"intent": "reason", "quality_bar": 1.0, "latency_budget_ms": 60000,
                            "economics": economics},
        },
    }))  # fmt: skip
    spec = {"input_per_mtok": 1.0, "output_per_mtok": 4.0, "p50_latency_ms": 500}
    files["routing_table"].write_text(yaml.safe_dump({
        "version": "acme-2026-12",
        "tiers": {t: {**spec, "model": f"acme-{t}", "input_per_mtok": 0.1 * 4 ** i}
                  for i, t in enumerate(TAXONOMY["tiers"])},
    }))  # fmt: skip
    return files


def test_a_four_tier_five_intent_taxonomy_trains_and_serves(
    generated_logs: Path, sqlite_tracking: str, student_dir: Path, small_config, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from classifier.client import FailurePolicy
    from classifier.errors import BundleError
    from classifier.local_client import LocalClient
    from classifier.runtime import Classifier
    from serving.app import create_app
    from serving.settings import ServingSettings
    from training.pipeline import train

    logs = tmp_path / "logs.jsonl"
    with open(generated_logs / "logs.jsonl") as src, open(logs, "w") as out:
        for line in src:
            out.write(json.dumps(_to_custom(json.loads(line))) + "\n")
    files = _write_config(tmp_path)
    result = train(
        [logs],
        corrections=[generated_logs / "corrections.jsonl"],
        bundle_dir=tmp_path / "bundle",
        config=small_config(
            taxonomy=str(files["taxonomy"]), teacher__enabled=False, heads__n_threads=1
        ),  # fmt: skip
        work_dir=tmp_path / "w",
        student_dir=student_dir,
        register=False,
        progress=False,
    )

    # the bundle carries the taxonomy, and the graph's heads are sized by it
    clf = Classifier.load(result.bundle_dir)
    manifest = clf.manifest
    assert manifest.taxonomy_version == "acme-2"
    assert manifest.taxonomy == {**TAXONOMY, "force_tier": "mini"}
    assert manifest.labels == {"intent": TAXONOMY["intents"], "risk": TAXONOMY["risks"],
                               "tier": TAXONOMY["tiers"]}  # fmt: skip
    widths = [o.shape[1] for o in clf._session.get_outputs()]
    assert widths == [5, 2, 4]
    assert manifest.heads["tier_rows"][3] > 0  # the fourth tier had observed outcomes

    # under the packaged (default-taxonomy) contracts the bundle is refused, saying what differs
    refused = ServingSettings(bundle_path=result.bundle_dir, warmup_requests=1)
    with TestClient(create_app(refused)) as client:
        assert client.get("/v2/health/ready").status_code == 503
        error = client.app.state.tierwise.store.last_error  # type: ignore[attr-defined]
    assert "only in the first ['rewrite', 'extract', 'reason', 'code', 'converse']" in error
    assert "tiers: only in the first ['reasoning']" in error

    # under its own contracts and routing table it serves, and every label is the taxonomy's
    settings = ServingSettings(
        bundle_path=result.bundle_dir,
        contracts_path=files["contracts"],
        routing_table_path=files["routing_table"],
        warmup_requests=1,
        admin_token="t0ken",
        switches_path=tmp_path / "switches.json",
    )
    auth = {"Authorization": "Bearer t0ken"}
    with TestClient(create_app(settings)) as client:
        spec = client.get("/openapi.json").json()["components"]["schemas"]
        tier_schema = spec["ClassifyResponse"]["properties"]["tier"]["anyOf"][0]
        assert tier_schema["enum"] == TAXONOMY["tiers"]
        texts = [
            ("Rewrite this sentence in a friendlier tone: your order is late.", "support_chat"),
            ("Prove that the square root of two is irrational, step by step.", "proof_check"),
            ("Email me at jane.doe@example.com about my loan.", None),
        ]
        bodies = []
        for text, feature in texts:
            got = client.post("/classify", json={"text": text, "feature": feature})
            assert got.status_code == 200, got.text
            bodies.append(got.json())
        metrics = client.get("/metrics").text
        assert re.search(r'tierwise_decisions_total\{[^}]*tier="reasoning"', metrics)
        predicted = re.findall(r'tierwise_predictions_total\{[^}]*intent="(\w+)"', metrics)
        assert predicted and set(predicted) <= set(TAXONOMY["intents"])
        # the admin API caps by the taxonomy's tiers: an unknown one is a 422, the old state kept
        got = client.patch("/admin/switches", headers=auth, json={"caps": {"proof_check": "max"}})
        assert got.status_code == 422 and "'reasoning'" in got.json()["detail"]
        assert client.get("/admin/switches", headers=auth).json()["switches"]["caps"] == {}
        got = client.patch("/admin/switches", headers=auth, json={"caps": {"proof_check": "full"}})
        assert got.status_code == 200, got.text
        capped = client.post("/classify", json={"text": texts[1][0], "feature": "proof_check"})
        assert capped.json()["route"]["tier"] == "full"
        assert capped.json()["route"]["reason_code"] == "tier_cap"
    for body in bodies:
        assert body["intent"] in TAXONOMY["intents"]
        assert list(body["intent_probs"]) == TAXONOMY["intents"]
        assert body["risk"] in TAXONOMY["risks"]
        assert list(body["tier_ok_probs"]) == TAXONOMY["tiers"]
        p_ok = list(body["tier_ok_probs"].values())
        assert p_ok == sorted(p_ok)  # monotone over four tiers
        assert body["route"]["tier"] in TAXONOMY["tiers"]
        assert body["route"]["model"] == f"acme-{body['route']['tier']}"
        assert body["provenance"]["taxonomy_version"] == "acme-2"
    support, proof, pii = bodies

    # in process, the same: LocalClient under its own contracts; refused under the packaged ones
    fail_open = FailurePolicy.fail_open("reasoning", tuple(TAXONOMY["tiers"]))
    local = LocalClient.load(result.bundle_dir, failure=fail_open,
                             contracts_path=files["contracts"],
                             table_path=files["routing_table"])  # fmt: skip
    assert local.classify(texts[1][0], feature="proof_check").tier == "reasoning"
    with pytest.raises(BundleError, match="tiers: only in the first \\['reasoning'\\]"):
        LocalClient(clf, failure=FailurePolicy.fail_open("mini"))
    assert support["route"]["risk_floor"] == "sensitive"  # the contract's own risk level
    assert support["route"]["tier"] != "nano"  # sensitive -> at least mini
    # a bar no tier meets sends the request to the strongest tier: the fourth
    assert proof["route"]["reason_code"] == "no_tier_meets_bar"
    assert proof["route"]["tier"] == "reasoning"
    assert pii["route"]["risk_floor"] == "sensitive"  # guard's `high` -> the top risk level
