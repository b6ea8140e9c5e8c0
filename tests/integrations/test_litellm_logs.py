"""The gateway's own traffic as training logs: a run of successes, failures, fallbacks, the
application's checks and escalations, a correction, a fail-open and a refused request through a
real LiteLLM Router; `tierwise ingest` accepts every record and the censored tier labels are the
ones the label rules give (docs/logs-and-labels.md)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from classifier.client import FailurePolicy
from classifier.errors import ClassifierUnavailable
from classifier.http_client import HttpClient
from integrations.litellm import GatewayLog, TierwiseClassifier, escalation_fallbacks
from training.ingest.load import load_training_set

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
OK, FAIL, UNKNOWN = 1, 0, -1
# request id -> (nano, mini, full) as the label rules derive them from what the gateway saw
EXPECTED = {
    "ok-nano": (OK, OK, OK),  # nano answered and passed
    "first-mini": (UNKNOWN, OK, OK),  # first routed to mini: nano stays unknown
    "fallback": (FAIL, OK, OK),  # nano 500, LiteLLM fell back to mini
    "timeout": (FAIL, OK, OK),  # nano timed out, fell back to mini
    "schema": (FAIL, OK, OK),  # nano failed the app's schema check, the app asked mini
    "compliance": (FAIL, UNKNOWN, OK),  # nano failed compliance, the app asked full
    "correction": (FAIL, FAIL, UNKNOWN),  # mini answered, the user edited it within 300 s
    "full-down": (FAIL, FAIL, FAIL),  # full failed and nothing was above it
    "fail-open": (UNKNOWN, OK, OK),  # classifier down: fail open to mini, which answered
}


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens


def test_gateway_traffic_becomes_valid_training_logs(
    local_client: Any, make_router: Any, litellm_callbacks: list[Any], text: str, wait: Any,
    run_async: Any, tmp_path: Path, groups: dict[str, str],
) -> None:  # fmt: skip
    log = GatewayLog(tmp_path, groups=groups, hold_s=60)
    plugin = TierwiseClassifier(local_client, log=log)
    litellm_callbacks.append(plugin.logger)
    fallbacks = escalation_fallbacks(groups)
    healthy = make_router(plugin, fallbacks=fallbacks)
    nano_down = make_router(plugin, {"nano": "litellm.InternalServerError"}, fallbacks=fallbacks)
    nano_slow = make_router(plugin, {"nano": "timeout"}, fallbacks=fallbacks)
    full_down = make_router(plugin, {"full": "litellm.InternalServerError"}, num_retries=1)

    async def ask(router: Any, request_id: str, feature: str, model: str = "auto") -> Any:
        return await router.acompletion(
            model=model,
            messages=[{"role": "user", "content": text}],
            metadata={
                "request_id": request_id,
                "feature": feature,
                "prompt_id": f"{feature}_reply@v2",
            },  # fmt: skip
        )

    def calls() -> int:
        return sum(len(entry[0].calls) for entry in log._open.values())

    async def run() -> None:
        await ask(healthy, "ok-nano", "cheap")
        await ask(healthy, "first-mini", "everyday")
        await ask(nano_down, "fallback", "cheap")
        await ask(nano_slow, "timeout", "cheap")
        answer = await ask(healthy, "schema", "cheap")
        # Checked at once: the report may come before LiteLLM delivers the call's callback.
        assert log.report_checks("schema", schema_ok=False, response=answer)
        await ask(healthy, "schema", "cheap", model=groups["mini"])
        await ask(healthy, "compliance", "cheap")
        await ask(healthy, "correction", "everyday")
        with pytest.raises(Exception, match="InternalServerError"):
            await ask(full_down, "full-down", "regulated")
        await wait(lambda: calls() >= 11)
        # The application checks answers and escalates on its own, under the same request id.
        assert log.report_checks("compliance", compliance_ok=False)
        await ask(healthy, "compliance", "cheap", model=groups["full"])
        log.report_correction("correction", "edit")
        plugin.client = HttpClient(_dead_url(), failure=FailurePolicy.fail_open("mini"))
        await ask(healthy, "fail-open", "cheap")
        plugin.client = HttpClient(_dead_url(), failure=FailurePolicy.fail_closed())
        with pytest.raises(ClassifierUnavailable):
            await ask(healthy, "refused", "regulated")
        await wait(lambda: calls() >= 13 and log.stats["refused"] >= 1)
        assert not log._pending  # every early report found its call

    run_async(run())
    log.close()
    assert log.stats["written"] == len(EXPECTED) and log.stats["rejected"] == 0

    logs, corrections, quarantine = (tmp_path / n for n in
                                     ("logs.jsonl", "corrections.jsonl", "q.jsonl"))  # fmt: skip
    cli = subprocess.run(
        [sys.executable, "-m", "training.ingest.cli", str(logs), "--corrections", str(corrections),
         "--quarantine", str(quarantine)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    report = json.loads(cli.stdout)
    assert report["valid"] == len(EXPECTED) and report["quarantined"] == 0, report
    assert report["corrections_joined"] == 1 and report["corrections_quarantined"] == 0

    data, _ = load_training_set([logs], [corrections])
    derived = {
        rid: tuple(int(v) for v in row)
        for rid, row in zip(data.request_id, data.tier_ok, strict=True)
    }
    assert derived == EXPECTED
    assert int(data.risk[data.request_id.index("compliance")]) == 2  # compliance_fail -> high

    records = {r["request_id"]: r for r in map(json.loads, logs.read_text().splitlines())}
    causes = {rid: [e["cause"] for e in r["escalations"]] for rid, r in records.items()}
    assert causes["fallback"] == ["error_internal_server"] and causes["timeout"] == ["timeout"]
    assert causes["schema"] == ["schema_fail"] and causes["compliance"] == ["compliance_fail"]
    assert causes["ok-nano"] == causes["full-down"] == []
    down = records["full-down"]
    assert all(a["tier"] == "full" and a["error"].startswith("InternalServerError")
               for a in down["attempts"])  # fmt: skip
    if len(down["attempts"]) > 1:  # LiteLLM's retry: another attempt, listed with its cause
        assert down["meta"]["retries"][0] == {"tier": "full", "cause": "error_internal_server"}
    ok = records["ok-nano"]
    routed = local_client.classify(text, feature="cheap")
    assert ok["route"] == {"policy": "learned", "variant": None, "tier": "nano",
                           "reason": routed.reason, "model_version": routed.model_version,
                           "propensity": 1.0}  # fmt: skip
    assert ok["attempts"][0]["model"] == "openai/acme-nano" and ok["meta"]["tierwise"]["intent"]
    assert ok["prompt_id"] == "cheap_reply@v2" and records["correction"]["prompt_id"] == (
        "everyday_reply@v2"
    )
    assert ok["meta"]["checks"].startswith("not reported")
    assert records["schema"]["meta"]["checks"] == "reported by the application"
    failed_open = records["fail-open"]["route"]
    assert failed_open["policy"] == "fail_open" and failed_open["tier"] == "mini"
    assert "connection error" in failed_open["reason"]
    assert "refused" not in records and log.stats["refused"] >= 1


def test_a_call_after_the_record_is_written_is_kept_aside(
    tmp_path: Path, groups: dict[str, str]
) -> None:
    log = GatewayLog(tmp_path, groups=groups, hold_s=0)
    kwargs = {
        "litellm_call_id": "c1", "litellm_trace_id": "t1",
        "messages": [{"role": "user", "content": "Fix the grammar in this note."}],
        "litellm_params": {"metadata": {"request_id": "late", "deployment_model_name": "fast"}},
        "standard_logging_object": {"startTime": 1_800_000_000.0, "endTime": 1_800_000_000.5,
                                    "model": "openai/acme-nano", "prompt_tokens": 9,
                                    "completion_tokens": 4, "response_cost": 0.0001},
    }  # fmt: skip
    log.observe(kwargs, ok=True)
    assert log.finish("late")
    log.observe(kwargs, ok=True)  # the same request again: its record is already written
    log.close()
    assert log.stats == {**log.stats, "written": 1, "rejected": 1}
    rejected = json.loads((tmp_path / "rejected.jsonl").read_text())
    assert rejected["request_id"] == "late" and "hold_s" in rejected["reason"]
    record = json.loads((tmp_path / "logs.jsonl").read_text())
    assert record["route"]["policy"] == "direct" and record["route"]["propensity"] is None
    assert record["attempts"][0]["latency_ms"] == 500.0 and record["ts"].endswith("Z")
