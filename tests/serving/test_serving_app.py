"""The app in process (TestClient) with a real bundle: responses agree with the runtime, the cache
is exact, margins abstain and escalate, and metrics/metadata/docs say what they should."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifier.runtime import Classifier
from classifier.taxonomy import TIER_RANK
from serving.app import create_app
from serving.settings import ServingSettings

TEXT = "Rewrite this customer email in a friendlier tone."


def _client(bundle: Path, **overrides: Any) -> TestClient:
    settings = ServingSettings(
        bundle_path=bundle, reload_interval_s=0, warmup_requests=1, **overrides
    )
    return TestClient(create_app(settings))


@pytest.fixture
def client(tiny_bundle: Path) -> Iterator[TestClient]:
    with _client(tiny_bundle) as c:
        yield c


def test_response_agrees_with_the_runtime(client: TestClient, tiny_bundle: Path) -> None:
    expected = Classifier.load(tiny_bundle).classify(TEXT)
    got = client.post(
        "/classify", json={"text": TEXT, "feature": "inline_assist", "request_id": "a1"}
    )
    assert got.status_code == 200
    body = got.json()
    assert body["request_id"] == "a1" and body["feature"] == "inline_assist"
    assert (body["intent"], body["risk"], body["tier"]) == (
        expected.intent,
        expected.risk,
        expected.tier,
    )
    assert body["intent_probs"] == pytest.approx(expected.intent_probs)
    assert body["tier_ok_probs"] == pytest.approx(expected.tier_ok_probs)
    prov = body["provenance"]
    assert prov["bundle_hash"] == expected.bundle_hash
    assert prov["model_version"] == expected.model_version
    assert prov["tokens_used"] == expected.tokens_used and prov["truncated"] is False
    route = body["route"]
    assert route is not None and route["reason"] and route["model"]
    assert TIER_RANK[route["tier"]] >= 0


def test_cache_hit_is_the_same_answer(client: TestClient) -> None:
    first = client.post("/classify", json={"text": TEXT}).json()
    second = client.post("/classify", json={"text": f"  {TEXT.replace(' ', '   ')} \n"}).json()
    assert first["provenance"]["cached"] is False and second["provenance"]["cached"] is True
    assert first["request_id"] != second["request_id"]
    for key in ("intent_probs", "risk_probs", "tier_ok_probs", "route", "abstain"):
        assert first[key] == second[key]
    other_feature = client.post("/classify", json={"text": TEXT, "feature": "policy_review"}).json()
    assert other_feature["provenance"]["cached"] is False
    metrics = client.get("/metrics").text
    assert "tierwise_decision_cache_hits_total 1.0" in metrics
    assert "tierwise_decision_cache_hit_ratio" in metrics


def test_long_text_is_truncated_and_says_so(client: TestClient) -> None:
    body = client.post(
        "/classify", json={"text": "Summarize the quarterly sales report. " * 400}
    ).json()
    assert body["provenance"]["truncated"] is True


def test_batch_equals_singles_in_order(client: TestClient) -> None:
    texts = [
        TEXT,
        "Write SQL to load the API changelog into a table.",
        "Tell me a joke about cats.",
    ]
    batch = client.post("/classify/batch", json={"items": [{"text": t} for t in texts]})
    assert batch.status_code == 200
    items = batch.json()["items"]
    for text, item in zip(texts, items, strict=True):
        single = client.post("/classify", json={"text": text}).json()
        assert item["intent"] == single["intent"]
        assert item["tier_ok_probs"] == pytest.approx(single["tier_ok_probs"], abs=1e-5)


def test_chat_messages_classify_the_last_user_turn(tiny_bundle: Path) -> None:
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Tell me a joke about cats."},
        {"role": "assistant", "content": "Why did the cat sit on the computer?"},
        {"role": "user", "content": [{"type": "text", "text": "Write SQL to load the report."}]},
    ]
    with _client(tiny_bundle, max_context_chars=0) as c:
        chat = c.post("/classify", json={"messages": messages}).json()
        plain = c.post("/classify", json={"text": "Write SQL to load the report."}).json()
    assert chat["intent_probs"] == pytest.approx(plain["intent_probs"])
    assert chat["provenance"]["context_chars"] == 0
    with _client(tiny_bundle, max_context_chars=20) as c:
        bounded = c.post("/classify", json={"messages": messages}).json()
    assert bounded["provenance"]["context_chars"] == 20


def test_margins_abstain_and_escalate(tiny_bundle: Path) -> None:
    with _client(tiny_bundle, abstain_intent_margin=0.0, abstain_tier_margin=0.0) as c:
        calm = c.post("/classify", json={"text": TEXT, "feature": "inline_assist"}).json()
    with _client(tiny_bundle, abstain_intent_margin=1.0, abstain_tier_margin=1.0) as c:
        unsure = c.post("/classify", json={"text": TEXT, "feature": "inline_assist"}).json()
        metrics = c.get("/metrics").text
    assert unsure["abstain"] is True and "below the margin" in unsure["abstain_reason"]
    # abstaining changes the route, not the model's probabilities
    assert unsure["intent_probs"] == calm["intent_probs"]
    if not calm["abstain"]:
        assert TIER_RANK[unsure["route"]["tier"]] >= TIER_RANK[calm["route"]["tier"]]
        if calm["route"]["tier"] != "full":
            assert TIER_RANK[unsure["route"]["tier"]] == TIER_RANK[calm["route"]["tier"]] + 1
    assert 'tierwise_abstentions_total{reason="intent+tier"} 1.0' in metrics


def test_unknown_feature_can_be_rejected(tiny_bundle: Path) -> None:
    with _client(tiny_bundle, unknown_feature="reject") as c:
        got = c.post("/classify", json={"text": TEXT, "feature": "nope"})
        known = c.post("/classify", json={"text": TEXT, "feature": "doc_summary"})
    assert got.status_code == 422 and got.json()["error"] == "unknown_feature"
    assert "doc_summary" in got.json()["detail"]
    assert known.status_code == 200 and known.json()["notes"] == []


def test_metrics_and_metadata(client: TestClient) -> None:
    client.post("/classify", json={"text": TEXT, "feature": "doc_summary"})
    client.post("/classify", json={"text": ""})
    text = client.get("/metrics").text
    assert 'tierwise_http_requests_total{route="/classify",status="200"} 1.0' in text
    assert 'tierwise_http_requests_total{route="/classify",status="422"} 1.0' in text
    assert 'tierwise_predictions_total{feature="doc_summary"' in text
    assert "tierwise_model_loads_total 1.0" in text
    assert "tierwise_http_request_duration_seconds_bucket" in text
    meta = client.get("/v2/models/tiny").json()
    assert meta["platform"] == "onnx" and meta["versions"] == ["1"]
    assert [o["shape"][1] for o in meta["outputs"]] == [7, 3, 3]
    assert client.get("/v2/models/other").status_code == 404
    ready = client.get("/v2/health/ready").json()
    assert ready["ready"] is True and ready["degraded"] == [] and ready["model"]["version"] == "1"


def test_openapi_documents_bodies_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["ClassifyRequest"]["examples"][0]["text"]
    assert "ChatMessage" in schemas
    body = spec["paths"]["/classify"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/ClassifyRequest")
    assert {"200", "400", "413", "422", "503"} <= set(
        spec["paths"]["/classify"]["post"]["responses"]
    )
