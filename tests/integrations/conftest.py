"""LiteLLM fixtures: no network (the cost map is the packaged one), callbacks restored after."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

# LiteLLM fetches its model cost map from the internet at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


_CALLBACK_LISTS = ("input_callback", "success_callback", "failure_callback",
                   "_async_success_callback", "_async_failure_callback", "callbacks")  # fmt: skip


@pytest.fixture
def litellm_callbacks() -> Iterator[list[Any]]:
    """`litellm.callbacks`, empty for the test and restored afterwards. LiteLLM copies loggers
    from it into lists of its own (one logger per class), so those are emptied and restored too."""
    import litellm

    saved = {name: getattr(litellm, name) for name in _CALLBACK_LISTS}
    for name in _CALLBACK_LISTS:
        setattr(litellm, name, [])
    yield litellm.callbacks
    for name, value in saved.items():
        setattr(litellm, name, value)


GROUPS = {"nano": "fast", "mini": "mid", "full": "best"}  # LiteLLM model groups per tier
_FEATURE = {"latency_budget_ms": 5000, "economics": {"failure_usd": 0.0}}
# One text, three contracts: with no failure cost the cheapest tier the risk floor allows wins,
# so the tier follows the contract of the feature named in the request metadata.
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
TEXT = "Translate this sentence into French: the meeting moved to Tuesday."


@pytest.fixture(scope="module")
def local_client(tiny_bundle: Any) -> Any:
    """In-process client on the tiny bundle with the contracts above, failing open to mini."""
    from classifier.client import FailurePolicy
    from classifier.contracts import Contracts
    from classifier.local_client import LocalClient
    from classifier.runtime import Classifier

    client = LocalClient(
        Classifier.load(tiny_bundle),
        failure=FailurePolicy.fail_open("mini"),
        contracts=Contracts.from_dict(CONTRACTS),
    )
    prediction = client.classifier.classify(TEXT)
    assert prediction.risk == "low", "precondition: the fixture model reads TEXT as low risk"
    return client


@pytest.fixture
def make_router() -> Any:
    """make_router(plugin, answers={tier: mock}, **router_kwargs) -> litellm.Router.

    Each tier's group has one deployment answering `answers[tier]` (default: "answer from
    <tier>"); a LiteLLM error name (e.g. "litellm.InternalServerError") makes it fail, and
    "timeout" makes it time out. "auto" is the auto router with tierwise as its classifier.
    """
    from litellm import Router

    from integrations.litellm import auto_router_params

    def make(plugin: Any, answers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        model_list = []
        for tier, group in GROUPS.items():
            answer = (answers or {}).get(tier, f"answer from {tier}")
            params: dict[str, Any] = {"model": f"openai/acme-{tier}", "api_key": "x"}
            if answer == "timeout":
                params.update(mock_timeout=True, timeout=0.01)
            else:
                params["mock_response"] = answer
            model_list.append({"model_name": group, "litellm_params": params})
        model_list.append(
            {"model_name": "auto", "litellm_params": auto_router_params(plugin, GROUPS)}
        )
        kwargs.setdefault("num_retries", 0)
        return Router(model_list=model_list, disable_cooldowns=True, **kwargs)

    return make


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    """LiteLLM delivers success/failure callbacks after the call returns: wait for them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"LiteLLM callbacks did not arrive in time: {predicate}"
        await asyncio.sleep(0.01)


@pytest.fixture
def wait() -> Any:
    return wait_until


@pytest.fixture
def groups() -> dict[str, str]:
    return dict(GROUPS)


@pytest.fixture
def text() -> str:
    return TEXT
