"""Shadow and A/B: the split is a deterministic function of request_id with the configured share,
both decisions are logged, disagreements counted (the rules arm's guards and switches:
tests/classifier/test_policies.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from classifier.logschema import LogRecord
from serving.app import create_app
from serving.experiment import Experiment
from serving.settings import ServingSettings

TEXTS = [
    "Summarize the incident postmortem in three bullet points.",
    "Translate this support ticket into French.",
    "Is the sentiment of this customer email positive or negative?",
    "Make a step-by-step plan to migrate the billing database.",
    "Write a Python function that parses ISO dates.",
    "Does the vendor contract comply with GDPR?",
    "Tell me a joke about standup meetings.",
    "Email me at jane.doe@example.com about my loan application.",
]


def test_split_is_deterministic_and_matches_the_share() -> None:
    exp = Experiment("ab", learned_share=0.3)
    ids = [f"req-{i}" for i in range(4000)]
    arms = [exp.assign(i).arm for i in ids]
    assert arms == [Experiment("ab", learned_share=0.3).assign(i).arm for i in ids]
    share = arms.count("learned") / len(arms)
    assert 0.27 < share < 0.33  # 4000 draws: the standard deviation is 0.007
    first = exp.assign(ids[0])
    assert first.arm_probability == (0.3 if first.arm == "learned" else 0.7)
    salted = [Experiment("ab", learned_share=0.3, salt="exp-2").assign(i).arm for i in ids]
    assert salted != arms  # a new salt is a new draw
    assert {Experiment("ab", learned_share=0.0).assign(i).arm for i in ids[:200]} == {"rules"}
    assert {Experiment("ab", learned_share=1.0).assign(i).arm for i in ids[:200]} == {"learned"}


def test_fixed_modes() -> None:
    assert Experiment("shadow").assign("x").served == "learned"
    assert Experiment("shadow").assign("x").shadow == "rules"
    flipped = Experiment("shadow", shadow_serve="rules").assign("x")
    assert (flipped.served, flipped.shadow, flipped.arm) == ("rules", "learned", None)
    assert Experiment("rules").assign("x").served == "rules"
    with pytest.raises(ValueError, match="mode"):
        Experiment("canary")  # type: ignore[arg-type]


def _run(bundle: Path, log_dir: Path, **overrides: Any) -> tuple[list[dict[str, Any]], str]:
    settings = ServingSettings(
        bundle_path=bundle, reload_interval_s=0, warmup_requests=1, log_dir=log_dir, **overrides
    )
    bodies = []
    with TestClient(create_app(settings)) as client:
        for n in range(3):
            for i, text in enumerate(TEXTS):
                item = {"text": text, "feature": "support_chat", "request_id": f"r{n}-{i}"}
                got = client.post("/classify", json=item)
                assert got.status_code == 200, got.text
                bodies.append(got.json())
        metrics = client.get("/metrics").text
    return bodies, metrics


def _records(log_dir: Path) -> dict[str, LogRecord]:
    lines = (log_dir / "decisions.jsonl").read_bytes().splitlines()
    records = [LogRecord.model_validate_json(line, strict=True) for line in lines]
    return {r.request_id: r for r in records}


def _metric_sum(metrics: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(prefix)
    )


def test_ab_mode_puts_the_arm_in_response_and_log(tiny_bundle: Path, tmp_path: Path) -> None:
    bodies, metrics = _run(tiny_bundle, tmp_path, policy_mode="ab", ab_learned_share=0.5)
    records = _records(tmp_path)
    assert len(records) == len(bodies)
    exp = Experiment("ab", learned_share=0.5)
    arms = set()
    for body in bodies:
        arm = exp.assign(body["request_id"]).arm
        arms.add(arm)
        assert body["arm"] == arm and body["route"]["policy"] == arm
        record = records[body["request_id"]]
        assert record.route.variant == arm and record.route.tier == body["route"]["tier"]
        assert record.route.propensity in (0.5, 1.0)
        assert record.meta["arm_probability"] == 0.5
    assert arms == {"learned", "rules"}
    for arm in ("learned", "rules"):
        served = sum(1 for b in bodies if b["arm"] == arm)
        assert _metric_sum(metrics, f'tierwise_decisions_total{{arm="{arm}"') == served


def test_shadow_mode_logs_both_and_counts_disagreements(tiny_bundle: Path, tmp_path: Path) -> None:
    bodies, metrics = _run(tiny_bundle, tmp_path, policy_mode="shadow", shadow_serve="rules")
    records = _records(tmp_path)
    assert all(b["arm"] is None and b["route"]["policy"] == "rules" for b in bodies)
    disagreements = 0
    for body in bodies:
        record = records[body["request_id"]]
        shadow = record.meta["shadow"]
        assert record.route.policy == "rules" and shadow["policy"] == "learned"
        assert record.route.variant is None and record.route.propensity == 1.0
        assert shadow["agrees"] == (shadow["tier"] == record.route.tier)
        disagreements += not shadow["agrees"]
    assert _metric_sum(metrics, "tierwise_shadow_disagreements_total") == disagreements
    assert 'tierwise_experiment_info{ab_learned_share="",mode="shadow",shadow_serve="rules"}' in (
        metrics
    )


def test_learned_mode_without_log_dir_writes_nothing(tiny_bundle: Path, tmp_path: Path) -> None:
    settings = ServingSettings(bundle_path=tiny_bundle, reload_interval_s=0, warmup_requests=1)
    with TestClient(create_app(settings)) as client:
        body = client.post("/classify", json={"text": TEXTS[0]}).json()
        assert body["arm"] is None and body["route"]["policy"] == "learned"
        assert len(body["request_id"]) == 32  # generated and returned
        got = client.post("/feedback", json={"corrections": []})
        assert got.status_code == 404 and "TIERWISE_LOG_DIR" in got.json()["detail"]
    assert list(tmp_path.iterdir()) == []
    assert orjson.dumps(body)  # still plain JSON
