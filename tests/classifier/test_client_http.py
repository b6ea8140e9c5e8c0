"""HttpClient against a real HTTP server on loopback that misbehaves on purpose.

A tiny ASGI app under uvicorn (tests/conftest.py `stub_server`) answers /classify slowly, with
5xx, with 4xx or with garbage, as each test asks; the client must apply its failure policy with
the reason, keep the caller's 4xx errors as errors, and reuse one connection. Answers from the
real service are checked in tests/serving/test_serving_client.py.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from classifier.client import FailurePolicy, RouteRequest, RoutingClient
from classifier.errors import ClassifierUnavailable, InputError
from classifier.http_client import HttpClient


def _answer(tier: str = "mini", request_id: str = "r1") -> dict[str, Any]:
    """A /classify answer in the service's shape (serving.schemas.ClassifyResponse)."""
    return {
        "request_id": request_id, "feature": "doc_summary", "intent": "summarize",
        "intent_probs": {"summarize": 0.9}, "risk": "medium", "risk_probs": {"medium": 0.8},
        "tier": "nano", "tier_ok_probs": {"nano": 0.5, "mini": 0.9, "full": 0.97},
        "abstain": False, "abstain_reason": None, "arm": None, "notes": [],
        "route": {"tier": tier, "model": f"m-{tier}", "reason": "cheapest_ok:mini",
                  "reason_code": "cheapest_ok", "policy": "learned", "guards": ["pii.email"],
                  "risk_floor": "medium", "contract": "doc_summary", "expected_cost_usd": 0.001},
        "provenance": {"model_name": "t", "model_version": "7", "bundle_hash": "h",
                       "taxonomy_version": "1", "tokens_used": 5, "truncated": False,
                       "context_chars": 0, "cached": False},
    }  # fmt: skip


def test_answer_is_mapped_to_routed_and_the_interface_holds(stub: Any, stub_server: Any) -> None:
    stub.body = _answer()
    with HttpClient(stub_server[1], failure=FailurePolicy.fail_open("full")) as client:
        assert isinstance(client, RoutingClient)
        routed = client.classify("Summarize the thread", feature="doc_summary", request_id="r1")
    assert (routed.tier, routed.model, routed.reason_code) == ("mini", "m-mini", "cheapest_ok")
    assert routed.p_ok == 0.9 and routed.intent == "summarize" and routed.risk == "medium"
    assert routed.failure is None and routed.safety_flags == ("pii",)
    assert routed.model_version == "7" and routed.propensity == 1.0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_deadline_fails_open_with_the_reason(stub: Any, stub_server: Any, mode: str) -> None:
    stub.delay_s = 1.0
    client = HttpClient(
        stub_server[1], failure=FailurePolicy.fail_open("full"), deadline_ms=100,
        models={"full": "acme-flagship"},
    )  # fmt: skip
    start = time.monotonic()
    if mode == "sync":
        routed = client.classify("hello", feature="support_chat", request_id="r9")
    else:
        routed = asyncio.run(client.aclassify("hello", feature="support_chat", request_id="r9"))
    elapsed = time.monotonic() - start
    assert elapsed < 0.9, f"the client waited {elapsed:.2f} s past its 100 ms deadline"
    assert routed.tier == "full" and routed.model == "acme-flagship"
    assert routed.failure == "timeout after 100 ms"
    assert routed.reason == "fail_open:full (classifier unavailable: timeout after 100 ms)"
    assert (routed.policy, routed.request_id, routed.feature) == ("fail_open", "r9", "support_chat")
    assert routed.intent is None and routed.p_ok is None


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_follow_the_policy(stub: Any, stub_server: Any, status: int) -> None:
    stub.status = status
    stub.body = {"error": "not_ready", "detail": "no model is loaded"}
    opened = HttpClient(stub_server[1], failure=FailurePolicy.fail_open("mini")).classify("hi")
    assert opened.tier == "mini"
    assert opened.failure == f"HTTP {status} not_ready: no model is loaded"
    closed = HttpClient(stub_server[1], failure=FailurePolicy.fail_closed())
    with pytest.raises(ClassifierUnavailable) as info:
        asyncio.run(closed.aclassify("hi"))
    assert info.value.reason == f"HTTP {status} not_ready: no model is loaded"
    assert "fails closed" in str(info.value)


def test_callers_bad_input_raises_whatever_the_policy(stub: Any, stub_server: Any) -> None:
    stub.status = 422
    stub.body = {"error": "invalid_request", "detail": "text is empty or only whitespace"}
    client = HttpClient(stub_server[1], failure=FailurePolicy.fail_open("mini"))
    with pytest.raises(InputError, match="HTTP 422 invalid_request: text is empty"):
        client.classify("   ")


def test_garbage_answer_is_an_outage(stub: Any, stub_server: Any) -> None:
    stub.body = b"<html>proxy error</html>"
    routed = HttpClient(stub_server[1], failure=FailurePolicy.fail_open("mini")).classify("hi")
    assert routed.tier == "mini" and routed.failure.startswith("invalid response from the service")


def test_batch_failure_keeps_order_ids_and_features(stub: Any, stub_server: Any) -> None:
    stub.status = 503
    items = [RouteRequest("a", request_id="1", feature="x"), RouteRequest("b", request_id="2")]
    client = HttpClient(stub_server[1], failure=FailurePolicy.fail_open("nano"))
    routed = asyncio.run(client.aclassify_batch(items, feature="dflt"))
    assert [(r.request_id, r.feature, r.tier) for r in routed] == [
        ("1", "x", "nano"), ("2", "dflt", "nano")]  # fmt: skip
    stub.status = 200
    stub.body = {"items": [_answer("full", "1"), _answer("nano", "2")]}
    assert [r.tier for r in client.classify_batch(items)] == ["full", "nano"]


def test_one_connection_is_reused(stub: Any, stub_server: Any) -> None:
    stub.body = _answer()
    client = HttpClient(stub_server[1], failure=FailurePolicy.fail_open("mini"))
    for _ in range(5):
        client.classify("hello")

    async def five() -> None:
        for _ in range(5):
            await client.aclassify("hello")

    asyncio.run(five())
    client.close()
    # One port for the sync client's calls (warm-up included), one for the async client's.
    assert len(stub.ports) == 12 and len(set(stub.ports)) == 2, stub.ports


def test_connection_refused_is_an_outage() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    client = HttpClient(f"http://127.0.0.1:{port}", failure=FailurePolicy.fail_closed())
    with pytest.raises(ClassifierUnavailable, match="connection error"):
        client.classify("hello")
