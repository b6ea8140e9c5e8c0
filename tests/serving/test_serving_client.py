"""The clients against a real `tierwise serve`: HTTP and in process answer alike, and LiteLLM's
auto router reaches the service through the plugin over HTTP.

The service adds its own abstention margins to the decision layer's; with both at 0 (as here)
it routes exactly as `LocalClient`, which is what makes the switch between the two one line.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from classifier.client import FailurePolicy, RouteRequest
from classifier.errors import InputError
from classifier.http_client import HttpClient
from classifier.local_client import LocalClient

pytestmark = pytest.mark.slow
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map download

TEXTS = [
    "Summarize the incident postmortem in three bullet points.",
    "Translate the product launch notes into French.",
    "Is the sentiment of this customer email positive or negative?",
    "Make a step-by-step plan to act on the vendor contract.",
    "Write a Python function that parses the API changelog.",
    "Does the patient discharge summary comply with GDPR?",
    "Write a short poem about yesterday's standup notes.",
    "My email is jane.doe@example.com, can you fix my invoice?",
]
FEATURES = [None, "doc_summary", "support_chat", "inline_assist", "code_assist", "nope"]


@pytest.fixture(scope="module")
def server(
    tiny_bundle: Path, server_factory: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    logs = tmp_path_factory.mktemp("client-server")
    srv = server_factory(
        ["--bundle", str(tiny_bundle), "--reload-interval", "0"],
        {
            "TIERWISE_ABSTAIN_INTENT_MARGIN": "0",
            "TIERWISE_ABSTAIN_TIER_MARGIN": "0",
            "TIERWISE_CACHE_SIZE": "0",
        },  # fmt: skip
        logs / "server.log",
    )
    yield srv
    srv.stop()


def _key(r: Any) -> tuple[Any, ...]:
    return (r.tier, r.reason, r.reason_code, r.model, r.intent, r.risk, r.contract, r.guards)


def test_http_and_in_process_route_alike(server: Any, tiny_bundle: Path) -> None:
    policy = FailurePolicy.fail_open("mini")
    local = LocalClient.load(tiny_bundle, failure=policy)
    remote = HttpClient(f"http://127.0.0.1:{server.port}", failure=policy, deadline_ms=5000)
    for i, text in enumerate(TEXTS):
        feature = FEATURES[i % len(FEATURES)]
        a = local.classify(text, feature=feature, request_id=f"r{i}")
        b = remote.classify(text, feature=feature, request_id=f"r{i}")
        assert b.failure is None and b.request_id == f"r{i}"
        assert _key(a) == _key(b), (text, feature)
        assert a.tier_ok_probs == pytest.approx(b.tier_ok_probs, abs=1e-6)
    items = [RouteRequest(t, feature=FEATURES[i % 3]) for i, t in enumerate(TEXTS)]
    local_batch = local.classify_batch(items, feature="support_chat")
    remote_batch = asyncio.run(remote.aclassify_batch(items, feature="support_chat"))
    assert [_key(r) for r in local_batch] == [_key(r) for r in remote_batch]
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                {"role": "user", "content": TEXTS[0]}]  # fmt: skip
    assert _key(local.classify(messages=messages)) == _key(remote.classify(messages=messages))
    with pytest.raises(InputError, match="422"):
        remote.classify("   ")


def test_litellm_routes_through_the_service(server: Any, tiny_bundle: Path, run_async: Any) -> None:
    from litellm import Router

    from integrations.litellm import TierwiseClassifier, auto_router_params, tier_groups

    policy = FailurePolicy.fail_open("full")
    remote = HttpClient(f"http://127.0.0.1:{server.port}", failure=policy, deadline_ms=5000)
    plugin = TierwiseClassifier(remote)
    groups = tier_groups()  # the routing table's model names are the LiteLLM model groups
    router = Router(model_list=[
        *({"model_name": group, "litellm_params": {
            "model": f"openai/{group}", "mock_response": f"answer from {tier}", "api_key": "x"}}
          for tier, group in groups.items()),
        {"model_name": "auto", "litellm_params": auto_router_params(plugin, groups)},
    ])  # fmt: skip
    local = LocalClient.load(tiny_bundle, failure=policy)

    async def run() -> list[tuple[str, str]]:
        served = []
        for i, text in enumerate(TEXTS):
            feature = FEATURES[i % len(FEATURES)]
            response = await router.acompletion(
                model="auto", messages=[{"role": "user", "content": text}],
                metadata={"feature": feature} if feature else {},
            )  # fmt: skip
            expected = local.classify(text, feature=feature)
            served.append((response.choices[0].message.content, f"answer from {expected.tier}"))
        return served

    for got, expected in run_async(run()):
        assert got == expected
