"""tierwise as the classifier of a real LiteLLM Router (model answers mocked, no network).

The router's auto model routes through the plugin to the model group of the tier tierwise
decides under the feature's contract; the decision's details ride in the request metadata; a
classifier that times out or answers 5xx triggers the configured failure policy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from classifier.client import FailurePolicy
from classifier.errors import ClassifierUnavailable
from classifier.http_client import HttpClient
from integrations.litellm import (
    GatewayLog,
    TierwiseClassifier,
    auto_router_params,
    escalation_fallbacks,
    tier_groups,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _capture() -> Any:
    """A LiteLLM logger that keeps the metadata of every successful call (to look at it)."""
    from litellm.integrations.custom_logger import CustomLogger

    class Capture(CustomLogger):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.metadata: list[dict[str, Any]] = []

        async def async_log_success_event(self, kwargs: Any, response_obj: Any,
                                          start_time: Any, end_time: Any) -> None:  # fmt: skip
            self.metadata.append(kwargs["litellm_params"]["metadata"])

    return Capture()


async def _ask(router: Any, content: str, **metadata: Any) -> str:
    response = await router.acompletion(
        model="auto", messages=[{"role": "user", "content": content}], metadata=metadata
    )
    return str(response.choices[0].message.content)


def test_requests_reach_the_group_of_the_features_tier(
    local_client: Any, make_router: Any, litellm_callbacks: list[Any], text: str, wait: Any,
    run_async: Any,
) -> None:  # fmt: skip
    plugin = TierwiseClassifier(local_client)
    capture = _capture()
    litellm_callbacks.extend([plugin.logger, capture])
    router = make_router(plugin)

    async def run() -> list[str]:
        answers = [await _ask(router, text, feature=f, request_id=f"r-{f}")
                   for f in ("cheap", "everyday", "regulated")]  # fmt: skip
        await wait(lambda: len(capture.metadata) == 3)
        return answers

    answers = run_async(run())
    assert answers == ["answer from nano", "answer from mini", "answer from full"]
    by_id = {m["request_id"]: m for m in capture.metadata}
    for feature, tier in (("cheap", "nano"), ("everyday", "mini"), ("regulated", "full")):
        note = by_id[f"r-{feature}"]["tierwise"]
        expected = local_client.classify(text, feature=feature, request_id=f"r-{feature}")
        assert note["tier"] == tier == expected.tier
        assert (note["intent"], note["risk"], note["reason"]) == (
            expected.intent, expected.risk, expected.reason)  # fmt: skip
        assert note["p_ok"] == pytest.approx(expected.p_ok)
        assert note["tier_ok_probs"] == pytest.approx(dict(expected.tier_ok_probs))
        assert note["contract"] == feature and note["failure"] is None
        assert by_id[f"r-{feature}"]["routing_decision"]["cause"] == "classifier_plugin"


def test_without_request_id_the_decision_is_found_by_text(
    local_client: Any, make_router: Any, litellm_callbacks: list[Any], text: str, wait: Any,
    run_async: Any,
) -> None:  # fmt: skip
    plugin = TierwiseClassifier(local_client)
    capture = _capture()
    litellm_callbacks.extend([plugin.logger, capture])
    router = make_router(plugin)

    async def run() -> None:
        await _ask(router, text, feature="regulated")
        await _ask(router, "Write a short poem about the sea.")
        await wait(lambda: len(capture.metadata) == 2)

    run_async(run())
    first, second = capture.metadata
    assert first["tierwise"]["tier"] == "full" and first["tierwise"]["feature"] == "regulated"
    poem = local_client.classify("Write a short poem about the sea.")
    assert (second["tierwise"]["tier"], second["tierwise"]["reason"]) == (poem.tier, poem.reason)


@pytest.mark.parametrize("outage", ["slow", "503", "500"])
def test_classifier_outage_fails_open_to_the_configured_tier(
    stub: Any, stub_server: Any, make_router: Any, litellm_callbacks: list[Any], wait: Any,
    outage: str, run_async: Any,
) -> None:  # fmt: skip
    if outage == "slow":
        stub.delay_s = 1.0
    else:
        stub.status, stub.body = int(outage), {"error": "boom", "detail": "model crashed"}
    client = HttpClient(stub_server[1], failure=FailurePolicy.fail_open("mini"), deadline_ms=100)
    plugin = TierwiseClassifier(client)
    capture = _capture()
    litellm_callbacks.extend([plugin.logger, capture])
    router = make_router(plugin)

    async def run() -> str:
        answer = await _ask(router, "Summarize the incident report", feature="cheap")
        await wait(lambda: len(capture.metadata) == 1)
        return answer

    assert run_async(run()) == "answer from mini"
    note = capture.metadata[0]["tierwise"]
    failure = "timeout after 100 ms" if outage == "slow" else f"HTTP {outage} boom: model crashed"
    assert (note["tier"], note["policy"], note["failure"]) == ("mini", "fail_open", failure)
    assert note["reason"] == f"fail_open:mini (classifier unavailable: {failure})"


def test_classifier_outage_fails_closed_and_no_model_is_called(
    stub: Any, stub_server: Any, make_router: Any, litellm_callbacks: list[Any],
    tmp_path: Path, groups: dict[str, str], run_async: Any,
) -> None:  # fmt: skip
    stub.status = 503
    client = HttpClient(stub_server[1], failure=FailurePolicy.fail_closed(), deadline_ms=100)
    log = GatewayLog(tmp_path, groups=groups, hold_s=0)
    plugin = TierwiseClassifier(client, log=log)
    capture = _capture()
    litellm_callbacks.extend([plugin.logger, capture])
    router = make_router(plugin, fallbacks=escalation_fallbacks(groups), num_retries=1)

    with pytest.raises(ClassifierUnavailable) as info:
        run_async(_ask(router, "Draft the loan decision letter", feature="regulated"))
    assert info.value.reason.startswith("HTTP 503")
    log.close()
    assert capture.metadata == [] and log.stats["refused"] >= 1 and log.stats["written"] == 0
    assert not (tmp_path / "logs.jsonl").exists()


def test_groups_come_from_the_routing_table(local_client: Any) -> None:
    table = local_client.table
    groups = tier_groups(table)
    assert groups == {tier: table.model(tier) for tier in ("nano", "mini", "full")}
    assert tier_groups(table, {"mini": "mid"})["mini"] == "mid"
    with pytest.raises(ValueError, match="unknown tier"):
        tier_groups(table, {"large": "x"})
    params = auto_router_params(TierwiseClassifier(local_client), groups)
    config = params["complexity_router_config"]
    assert config["classifier_type"] == "custom" and config["tiers"] == groups
    assert config["fallback_tier"] == "mini" and params["complexity_router_default_model"] == (
        groups["mini"])  # fmt: skip
    assert escalation_fallbacks(groups) == [
        {groups["nano"]: [groups["mini"]]}, {groups["mini"]: [groups["full"]]}]  # fmt: skip


def test_proxy_module_builds_plugin_and_logger_from_the_environment(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    script = (
        "import json, integrations.litellm.proxy as p\n"
        "print(json.dumps({'same': p.logger.plugin is p.plugin,"
        " 'policy': [p.plugin.client.failure.mode, p.plugin.client.failure.tier],"
        " 'log': str(p.plugin.gateway_log.dir), 'groups': p.plugin.gateway_log.tier_of}))\n"
        "p.plugin.gateway_log.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "TIERWISE_BUNDLE_PATH": str(tiny_bundle), "TIERWISE_FAILURE": "open:full",
           "TIERWISE_LITELLM_GROUPS": json.dumps({"nano": "fast"}),
           "TIERWISE_GATEWAY_LOG_DIR": str(tmp_path / "gw")}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["same"] and report["policy"] == ["open", "full"]
    assert report["log"] == str(tmp_path / "gw") and report["groups"]["fast"] == "nano"


def test_the_proxys_requester_metadata_is_read_too() -> None:
    from integrations.litellm import request_key

    nested = {"requester_metadata": {"request_id": "req-7", "feature": "x"}}
    assert request_key(nested, None, request_id_key="request_id", feature_key="feature") == (
        "id:req-7"
    )
    messages = [{"role": "user", "content": "hello"}]
    by_text = request_key({"feature": "x"}, messages, request_id_key="request_id",
                          feature_key="feature")  # fmt: skip
    other = request_key({"feature": "y"}, messages, request_id_key="request_id",
                        feature_key="feature")  # fmt: skip
    assert by_text.startswith("text:") and by_text != other
