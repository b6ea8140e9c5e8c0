"""LocalClient: the in-process route, the feature's contract, the failure policy, chat messages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from classifier.client import FailurePolicy, RouteRequest, RoutingClient
from classifier.contracts import Contracts, RoutingTable, load_routing_table
from classifier.decision import decide
from classifier.errors import ClassifierUnavailable, ConfigError, InputError
from classifier.guards import scan
from classifier.local_client import LocalClient
from classifier.messages import compose_text
from classifier.runtime import Classifier

TEXT = "Translate this sentence into French: the meeting moved to Tuesday."
_FEATURE = {"latency_budget_ms": 5000, "economics": {"failure_usd": 0.0}}
# Same text, three contracts: the tier must follow the contract of the feature named.
CONTRACTS = {
    "decision": {
        "risk_min_tier": {"low": "nano", "medium": "mini", "high": "full"},
        "abstain": {"min_intent_prob": 0.0, "ok_margin": 0.0},
    },
    "features": {
        "cheap": {**_FEATURE, "quality_bar": 0.01, "risk_profile": "low"},
        "everyday": {**_FEATURE, "quality_bar": 0.01, "risk_profile": "medium"},
        "regulated": {**_FEATURE, "quality_bar": 0.01, "risk_profile": "high"},
    },
}


@pytest.fixture(scope="module")
def classifier(tiny_bundle: Path) -> Classifier:
    return Classifier.load(tiny_bundle)


@pytest.fixture
def client(classifier: Classifier) -> LocalClient:
    return LocalClient(
        classifier,
        failure=FailurePolicy.fail_open("mini"),
        contracts=Contracts.from_dict(CONTRACTS),
        table=load_routing_table(),
    )


def test_route_is_the_decision_layers_with_prediction_fields(client: LocalClient) -> None:
    assert isinstance(client, RoutingClient)
    routed = client.classify(TEXT, feature="everyday", request_id="r1")
    prediction = client.classifier.classify(TEXT)
    expected = decide(prediction, "everyday", client.contracts, client.table, scan(TEXT), text=TEXT)
    assert (routed.tier, routed.reason, routed.model) == (
        expected.tier, expected.reason, expected.model)  # fmt: skip
    assert routed.intent == prediction.intent and routed.risk == prediction.risk
    assert routed.p_ok == prediction.tier_ok_probs[routed.tier]
    assert (routed.request_id, routed.feature, routed.failure) == ("r1", "everyday", None)
    assert routed.propensity == 1.0 and routed.contract == "everyday"


def test_the_features_contract_decides(client: LocalClient) -> None:
    prediction = client.classifier.classify(TEXT)
    assert prediction.risk != "high", "precondition: the fixture model reads this text as not high"
    tiers = {f: client.classify(TEXT, feature=f).tier for f in ("cheap", "everyday", "regulated")}
    assert tiers["everyday"] == "mini" and tiers["regulated"] == "full"
    assert tiers["cheap"] == ("nano" if prediction.risk == "low" else "mini")


def test_messages_classify_the_last_user_turn_with_context(client: LocalClient) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi! What can I do?"},
        {"role": "user", "content": [{"type": "text", "text": TEXT}, {"type": "image_url"}]},
    ]
    text, context = compose_text(messages)
    assert text == f"hello\nHi! What can I do?\n{TEXT}" and context == len(
        "hello\nHi! What can I do?"
    )
    by_messages = client.classify(messages=messages, feature="everyday")
    by_text = client.classify(text, feature="everyday")
    assert (by_messages.tier, by_messages.reason) == (by_text.tier, by_text.reason)


def test_compose_text_matches_the_service(client: LocalClient) -> None:
    from serving.inputs import compose_text as service_compose
    from serving.schemas import ClassifyRequest

    conversations: list[list[dict[str, Any]]] = [
        [{"role": "user", "content": "only turn"}],
        [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}],
        [{"role": "user", "content": "a" * 500}, {"role": "assistant", "content": "b"},
         {"role": "user", "content": [{"type": "text", "text": "c"}]},
         {"role": "assistant", "content": None}],
        [{"role": "user", "content": "  "}, {"role": "tool", "content": "x"},
         {"role": "user", "content": "last"}],
    ]  # fmt: skip
    for messages in conversations:
        for limit in (0, 300, 10):
            request = ClassifyRequest.model_validate({"messages": messages})
            assert compose_text(messages, limit) == service_compose(request, limit)


def test_bad_input_raises_whatever_the_policy(client: LocalClient) -> None:
    with pytest.raises(InputError):
        client.classify("   ")
    with pytest.raises(InputError, match="no user turn"):
        client.classify(messages=[{"role": "assistant", "content": "hi"}])
    with pytest.raises(InputError, match="exactly one"):
        client.classify("x", messages=[{"role": "user", "content": "y"}])


class _Broken(Classifier):
    """A loaded classifier whose session has gone bad (what a corrupted runtime looks like)."""

    def classify(self, text: str, feature: str | None = None) -> Any:
        raise RuntimeError("onnxruntime: session is closed")

    def classify_batch(self, texts: Any, features: Any = None) -> Any:
        raise RuntimeError("onnxruntime: session is closed")


def test_a_failing_classifier_fails_open_or_closed(classifier: Classifier) -> None:
    broken = _Broken(classifier._session, classifier._encoder, classifier.manifest,
                     classifier.bundle_dir)  # fmt: skip
    opened = LocalClient(broken, failure=FailurePolicy.fail_open("full"))
    routed = opened.classify(TEXT, feature="support_chat", request_id="r2")
    assert (routed.tier, routed.model, routed.policy) == ("full", opened.table.model("full"),
                                                         "fail_open")  # fmt: skip
    assert (
        routed.failure
        == "in-process classifier failed: RuntimeError: onnxruntime: session is closed"
    )
    assert routed.reason == f"fail_open:full (classifier unavailable: {routed.failure})"
    batch = asyncio.run(opened.aclassify_batch([RouteRequest(TEXT, request_id="a"),
                                                RouteRequest(TEXT, request_id="b")]))  # fmt: skip
    assert [(r.request_id, r.tier) for r in batch] == [("a", "full"), ("b", "full")]
    closed = LocalClient(broken, failure=FailurePolicy.fail_closed())
    with pytest.raises(ClassifierUnavailable) as info:
        closed.classify(TEXT)
    assert info.value.reason == routed.failure


def test_batch_keeps_order_and_item_features(client: LocalClient) -> None:
    items = [RouteRequest(TEXT, feature="regulated"), RouteRequest(TEXT), RouteRequest(TEXT)]
    routed = client.classify_batch(items, feature="everyday")
    one = [client.classify(TEXT, feature=f) for f in ("regulated", "everyday", "everyday")]
    assert [(r.tier, r.reason) for r in routed] == [(r.tier, r.reason) for r in one]
    assert [r.feature for r in routed] == ["regulated", "everyday", "everyday"]


def test_failure_policy_is_checked() -> None:
    with pytest.raises(ConfigError, match="needs a tier"):
        FailurePolicy.fail_open("huge")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="takes no tier"):
        FailurePolicy("closed", "mini")


def test_fail_open_keeps_to_the_regions_the_request_may_go_to(classifier: Classifier) -> None:
    """The classifier is down, but residency needs no model: a request with an e-mail address
    (guards: pii -> eu) must not be sent to the us-only flagship; a clean one still may."""
    from tests.classifier.test_residency import CLEAN, EMAIL, raw_contracts, raw_table

    contracts = raw_contracts()
    contracts["residency"] = {"guards": {"pii": ["eu"]}}
    broken = _Broken(classifier._session, classifier._encoder, classifier.manifest,
                     classifier.bundle_dir)  # fmt: skip
    opened = LocalClient(
        broken,
        failure=FailurePolicy.fail_open("full"),
        contracts=Contracts.from_dict(contracts),
        table=RoutingTable.from_dict(raw_table()),
    )
    clean = opened.classify(CLEAN, feature="support_chat")
    assert (clean.tier, clean.model) == ("full", opened.table.model("full"))
    assert "residency" not in clean.reason
    pii = opened.classify(EMAIL, feature="support_chat")
    assert pii.tier == "mini" and pii.model == opened.table.model("mini") + "-eu"
    assert pii.reason.endswith("residency: regions ['eu'] (guards:pii ['eu']), "
                               "full has no endpoint there")  # fmt: skip
    (batched,) = opened.classify_batch([RouteRequest(EMAIL, feature="support_chat")])
    assert (batched.tier, batched.model) == (pii.tier, pii.model)
