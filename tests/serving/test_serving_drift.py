"""Drift through a real `tierwise serve`: /metrics compares the live window with the bundle's
training reference, traffic like the reference stays calm, other traffic crosses, feedback
outcomes feed the failure rate, and a bundle without a reference is still served. The same
logs give the same verdict through `tierwise drift`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from classifier.runtime import Classifier
from classifier.taxonomy import TIERS
from training.drift.reference import reference_stats

ROOT = Path(__file__).resolve().parents[2]
SUBJECTS = ["the sales report", "this email", "the incident notes", "our onboarding guide",
            "the release plan", "the support ticket", "the meeting minutes"]  # fmt: skip
SHORT = [f"{verb} {s}." for verb in ("Summarize", "Translate", "Tag", "Review") for s in SUBJECTS]
LONG = [
    (
        f"Here is {s} in full. "
        + "The team discussed the migration, budgets, hiring and risks. " * 40
    )
    + "Write a detailed multi-step plan with trade-offs for each option."
    for s in SUBJECTS
]
TOKEN = "drift-test-router-token"
ENV = {"TIERWISE_DRIFT_WINDOW": "100", "TIERWISE_DRIFT_MIN_REQUESTS": "40",
       "TIERWISE_RELOAD_INTERVAL_S": "0"}  # fmt: skip


def with_reference(tiny_bundle: Path, out: Path) -> Path:
    shutil.copytree(tiny_bundle, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["reference_stats"] = reference_stats(Classifier.load(out), SHORT * 20)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def metric_lines(server: Any, name: str) -> dict[str, float]:
    _, body, _ = server.request("GET", "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def send(server: Any, texts: list[str], n: int) -> list[str]:
    ids = []
    for i in range(n):
        status, body = server.post_json("/classify", {"text": texts[i % len(texts)]})
        assert status == 200, body
        ids.append(body["request_id"])
    return ids


def test_metrics_show_drift_against_the_bundles_reference(
    tiny_bundle: Path, tmp_path: Path, start_server: Any
) -> None:
    bundle = with_reference(tiny_bundle, tmp_path / "bundle")
    logs = tmp_path / "logs"
    callers = json.dumps({"router": {"token": TOKEN, "role": "client"}})
    env = {**ENV, "TIERWISE_LOG_DIR": str(logs), "TIERWISE_FEEDBACK_CALLERS": callers}
    server = start_server(["--bundle", str(bundle)], env)
    assert metric_lines(server, "tierwise_drift_reference") == {"tierwise_drift_reference": 1.0}
    ids = send(server, SHORT, 60)
    calm = metric_lines(server, "tierwise_drift_psi")
    assert set(calm) == {f'tierwise_drift_psi{{signal="{s}"}}' for s in
                         ("tokens", "confidence", "intent", "risk", "tier")}  # fmt: skip
    assert max(calm.values()) < 0.2, calm
    assert not any(metric_lines(server, "tierwise_drift_crossed").values())
    # feedback: every first attempt at the lowest tier failed (the reference has no rates)
    failed = {"tier": TIERS[0], "model": "m", "schema_ok": False, "compliance_ok": True,
              "latency_ms": 1, "input_tokens": 1, "output_tokens": 1, "cost_usd": 0.0}  # fmt: skip
    outcomes = [{"request_id": rid, "attempts": [failed]} for rid in ids[:5]]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    body = json.dumps({"outcomes": outcomes}).encode()
    status, raw, _ = server.request("POST", "/feedback", body, headers)
    assert status == 202, raw
    rates = metric_lines(server, "tierwise_drift_rate")
    assert rates[f'tierwise_drift_rate{{signal="failure:{TIERS[0]}",source="live"}}'] == 1.0
    send(server, LONG, 100)  # the window now holds long, plan-like requests only
    loud = metric_lines(server, "tierwise_drift_psi")
    assert loud['tierwise_drift_psi{signal="tokens"}'] > 1.0, loud
    assert (
        metric_lines(server, "tierwise_drift_crossed")['tierwise_drift_crossed{signal="tokens"}']
        == 1.0
    )
    assert metric_lines(server, "tierwise_drift_window_requests")[
        "tierwise_drift_window_requests"] >= 75  # fmt: skip
    decisions = logs / "decisions.jsonl"
    server.wait_for(lambda: decisions.exists() and len(decisions.read_text().splitlines()) >= 160)
    # the same logs through the CLI: the newest 100 are long, the oldest 60 short
    newest = _drift_cli("--bundle", str(bundle), "--logs", str(decisions), "--window", "100",
                        "--min-requests", "40", "--json")  # fmt: skip
    assert newest.returncode == 3, newest.stderr
    report = json.loads(newest.stdout)
    assert "psi:tokens" in report["crossed"] and report["n"] == 100
    oldest = tmp_path / "short.jsonl"
    oldest.write_text("".join(decisions.read_text().splitlines(keepends=True)[:60]))
    calm_cli = _drift_cli("--bundle", str(bundle), "--logs", str(oldest), "--min-requests", "40")
    assert calm_cli.returncode == 0, calm_cli.stdout + calm_cli.stderr
    assert "drift: none crossed" in calm_cli.stdout


def _drift_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "training.drift.cli", "drift", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(ROOT)})  # fmt: skip


def test_a_bundle_without_reference_is_served_and_says_so(
    tiny_bundle: Path, start_server: Any
) -> None:
    server = start_server(["--bundle", str(tiny_bundle)], ENV)
    send(server, SHORT, 50)
    assert metric_lines(server, "tierwise_drift_reference") == {"tierwise_drift_reference": 0.0}
    assert metric_lines(server, "tierwise_drift_psi") == {}
    assert metric_lines(server, "tierwise_drift_window_requests") == {
        "tierwise_drift_window_requests": 50.0
    }


@pytest.mark.parametrize("bad", ["--window=abc"])
def test_the_cli_refuses_bad_input_with_exit_2(bad: str, tiny_bundle: Path) -> None:
    missing = _drift_cli("--bundle", str(tiny_bundle), "--logs", "/nonexistent.jsonl")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert _drift_cli("--bundle", str(tiny_bundle), "--logs", "x", bad).returncode == 2
