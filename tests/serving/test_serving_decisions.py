"""The service decides through the classifier's one seam: an operator's switch beats the
abstention margins, the model is not called under force_mini, and the service and the offline
replay give the same decision for the same inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifier.abstain import Margins
from classifier.contracts import load_contracts, load_routing_table
from classifier.guards import scan
from classifier.policies import LearnedPolicy
from classifier.runtime import Classifier
from classifier.taxonomy import TIERS
from serving.app import create_app
from serving.settings import ServingSettings
from training.replay.policies import decide_tiers

TOKEN = "t0ken-for-decision-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXT = "Rewrite this customer email in a friendlier tone."
UNSURE = {"abstain_intent_margin": 1.0, "abstain_tier_margin": 1.0}  # every request abstains


@pytest.fixture
def unsure(tiny_bundle: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = ServingSettings(bundle_path=tiny_bundle, reload_interval_s=0, warmup_requests=1,
                               admin_token=TOKEN, switches_path=tmp_path / "sw.json",
                               **UNSURE)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        yield client


class Spy:
    """Counts the served classifier's calls (wraps the real one)."""

    def __init__(self, client: TestClient) -> None:
        self.calls = 0
        classifier = client.app.state.tierwise.store.current.classifier  # type: ignore[attr-defined]
        real_one, real_many = classifier.classify, classifier.classify_batch

        def one(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real_one(*args, **kwargs)

        def many(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real_many(*args, **kwargs)

        classifier.classify, classifier.classify_batch = one, many


def _classify(client: TestClient, feature: str = "doc_summary") -> dict[str, Any]:
    got = client.post("/classify", json={"text": TEXT, "feature": feature})
    assert got.status_code == 200, got.text
    return got.json()


def test_force_mini_with_margins_at_one_gives_mini_without_the_model(unsure: TestClient) -> None:
    before = _classify(unsure)
    assert before["abstain"] is True and before["route"]["reason_code"] == "abstain"
    assert unsure.patch("/admin/switches", headers=AUTH, json={"force_mini": True}).is_success
    spy = Spy(unsure)
    body = _classify(unsure)
    batch = unsure.post("/classify/batch", json={"items": [{"text": TEXT}, {"text": "hi"}]})
    assert spy.calls == 0  # the switch exists for when the model cannot be trusted
    assert (body["route"]["tier"], body["route"]["reason_code"]) == ("mini", "force_mini")
    assert body["abstain"] is False and body["abstain_reason"] is None
    assert body["intent"] is None and body["tier_ok_probs"] is None
    assert body["provenance"]["tokens_used"] is None and body["provenance"]["model_version"]
    assert {i["route"]["tier"] for i in batch.json()["items"]} == {"mini"}


def test_a_cap_of_nano_with_low_confidence_gives_nano(unsure: TestClient) -> None:
    got = unsure.patch("/admin/switches", headers=AUTH, json={"caps": {"support_chat": "nano"}})
    assert got.is_success
    body = _classify(unsure, "support_chat")
    assert (body["route"]["tier"], body["route"]["reason_code"]) == ("nano", "tier_cap")
    assert body["abstain"] is True and "below the margin" in body["abstain_reason"]
    assert body["intent"] is not None  # the cap uses the model; only its last word is the cap
    other = _classify(unsure, "inline_assist")
    assert other["route"]["reason_code"] == "abstain" and other["route"]["tier"] != "nano"


def test_the_service_and_the_replay_decide_the_same(tiny_bundle: Path) -> None:
    margins = {"abstain_intent_margin": 0.55, "abstain_tier_margin": 0.6}
    texts = [
        "Summarize the incident postmortem in three bullet points.",
        "Translate this support ticket into French.",
        "Is the sentiment of this customer email positive or negative?",
        "Make a step-by-step plan to migrate the billing database.",
        "Write a Python function that parses ISO dates.",
        "Does the vendor contract comply with GDPR?",
        "Email me at jane.doe@example.com about my loan application.",
        "Tell me a joke about standup meetings.",
    ]
    features = ["doc_summary", "support_chat", "ticket_triage", "code_assist", "code_assist",
                "policy_review", "support_chat", "no_such_feature"]  # fmt: skip
    settings = ServingSettings(bundle_path=tiny_bundle, reload_interval_s=0, warmup_requests=1,
                               **margins)  # fmt: skip
    items = [{"text": t, "feature": f} for t, f in zip(texts, features, strict=True)]
    with TestClient(create_app(settings)) as client:
        got = client.post("/classify/batch", json={"items": items})
    assert got.status_code == 200, got.text
    served = [item["route"] for item in got.json()["items"]]

    contracts, table = load_contracts(), load_routing_table()
    same = Margins(margins["abstain_intent_margin"], margins["abstain_tier_margin"])
    predictions = Classifier.load(tiny_bundle).classify_batch(texts, features)
    guards = [scan(t) for t in texts]
    tiers = decide_tiers(predictions, texts, features, guards, contracts, table, margins=same)
    assert [TIERS[t] for t in tiers] == [route["tier"] for route in served]
    policy = LearnedPolicy(contracts, table, margins=same)
    for text, feature, p, route in zip(texts, features, predictions, served, strict=True):
        d = policy.decide(text, feature, p)
        assert (d.tier, d.reason, d.reason_code, d.expected_cost_usd) == (
            route["tier"], route["reason"], route["reason_code"], route["expected_cost_usd"]
        )  # fmt: skip
    assert any(route["reason_code"] == "abstain" for route in served)  # the margins took part
