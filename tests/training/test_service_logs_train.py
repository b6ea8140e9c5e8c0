"""End to end: a real `tierwise serve` process routes requests in A/B mode and takes feedback over
HTTP; its own logs then go through ingestion (zero quarantined) and `tierwise train`, and the
bundle that comes out classifies. Logs written by the service are valid training input."""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from classifier.taxonomy import TIERS

ROOT = Path(__file__).resolve().parents[2]
SUBJECTS = [
    "the quarterly sales report",
    "this customer email",
    "the incident postmortem",
    "the patient discharge summary",
    "the loan application",
    "our onboarding guide",
]
TEMPLATES = {
    "summarize": ["Summarize {s} in three bullet points.", "Give me a short summary of {s}."],
    "transform": ["Translate {s} into French.", "Fix the grammar in {s}."],
    "classify": ["Is the sentiment of {s} positive or negative?", "Tag {s} with a topic."],
    "plan": ["Make a step-by-step plan to act on {s}.", "Analyse the trade-offs in {s}."],
    "generate_code": ["Write a Python function that parses {s}.", "Write SQL to load {s}."],
    "review_policy": ["Check {s} against our retention policy.", "Does {s} comply with GDPR?"],
    "chat": ["What do you think about {s}?", "Write a short poem about {s}."],
}
TOKEN = "review-tool-token"  # the outcomes carry human-review labels: a reviewer sends them
NEEDS = {"transform": 0, "classify": 0, "summarize": 1, "chat": 1, "generate_code": 1,
         "plan": 2, "review_policy": 2}  # fmt: skip


class _Server:
    def __init__(self, bundle: Path, env: dict[str, str], log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "serving", "--bundle", str(bundle), "--port", str(self.port),
             "--reload-interval", "0", "--workers", "1"],  # feedback joins in one process
            cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()
            try:
                if self.call("GET", "/v2/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server did not become ready:\n{log.read_text()}")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw.startswith((b"{", b"[")) else raw
        finally:
            conn.close()

    def stop(self) -> bool:
        """SIGTERM, as an orchestrator would: the logs must be flushed on the way out.

        uvicorn re-raises the signal after a graceful shutdown, so the exit code is -15 either
        way; its log line says whether the lifespan (which flushes the logs) finished.
        """
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()
        return b"Application shutdown complete" in Path(self.log.name).read_bytes()


def _traffic(n_per_intent: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for intent, templates in TEMPLATES.items():
        for i in range(n_per_intent):
            subject = rng.choice(SUBJECTS)
            text = rng.choice(templates).format(s=subject) + f" (ref {rng.randint(100, 999)})"
            risk = ("high" if any(w in subject for w in ("patient", "loan")) else
                    "medium" if "customer" in subject else "low")  # fmt: skip
            need = max(NEEDS[intent], 2 if risk == "high" else 0)
            rows.append({"text": text, "intent": intent, "risk": risk, "need": need,
                         "request_id": f"{intent}-{i}"})  # fmt: skip
    return rows


def _outcome(row: dict[str, Any], first: str) -> dict[str, Any]:
    """What a caller observes: attempts from the routed tier up until one succeeds."""
    attempts, escalations = [], []
    tier = TIERS.index(first)
    while True:
        ok = tier >= row["need"]
        attempts.append({"tier": TIERS[tier], "model": f"acme-{TIERS[tier]}", "schema_ok": ok,
                         "compliance_ok": True, "latency_ms": 100.0 * (tier + 1),
                         "input_tokens": 30, "output_tokens": 20, "cost_usd": 0.0001 * 10**tier,
                         "error": None})  # fmt: skip
        if ok or tier == len(TIERS) - 1:
            break
        escalations.append({"from": TIERS[tier], "to": TIERS[tier + 1], "cause": "schema_fail_x2"})
        tier += 1
    labels = {"intent": row["intent"], "risk": row["risk"], "source": "human_review"}
    return {"request_id": row["request_id"], "attempts": attempts, "escalations": escalations,
            "labels": labels}  # fmt: skip


@pytest.mark.slow
def test_service_logs_train_a_bundle(tiny_bundle: Path, student_dir: Path, tmp_path: Path) -> None:
    from classifier.cli import main as tierwise
    from classifier.runtime import Classifier
    from training.ingest.load import load_training_set

    logs = tmp_path / "service-logs"
    callers = {"review-ui": {"token": TOKEN, "role": "reviewer"}}
    env = {"TIERWISE_LOG_DIR": str(logs), "TIERWISE_POLICY_MODE": "ab",
           "TIERWISE_AB_LEARNED_SHARE": "0.5",
           "TIERWISE_FEEDBACK_CALLERS": json.dumps(callers)}  # fmt: skip
    server = _Server(tiny_bundle, env, tmp_path / "server.log")
    rows = _traffic(n_per_intent=30)
    try:
        served: dict[str, dict[str, Any]] = {}
        for row in rows:
            item = {"text": row["text"], "feature": "support_chat", "request_id": row["request_id"]}
            status, body = server.call("POST", "/classify", item)
            assert status == 200, body
            served[row["request_id"]] = body
        assert {b["arm"] for b in served.values()} == {"learned", "rules"}
        outcomes = [_outcome(r, served[r["request_id"]]["route"]["tier"]) for r in rows]
        now = datetime.now(UTC).isoformat()
        corrections = [{"request_id": r["request_id"], "ts": now, "kind": "thumbs_down"}
                       for r in rows[::9]]  # fmt: skip
        for start in range(0, len(outcomes), 50):
            status, body = server.call(
                "POST", "/feedback", {"outcomes": outcomes[start : start + 50]}
            )
            assert status == 202, body
            assert {o["status"] for o in body["outcomes"]} == {"recorded"}
        status, body = server.call("POST", "/feedback", {"corrections": corrections})
        assert status == 202, body
        status, metrics = server.call("GET", "/metrics")
        escalated = sum(len(o["escalations"]) for o in outcomes)
        reported = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.decode().splitlines()
                       if line.startswith("tierwise_escalations_total{"))  # fmt: skip
        assert reported == escalated
    finally:
        assert server.stop(), (tmp_path / "server.log").read_text()

    decisions, report = load_training_set([logs / "decisions.jsonl"], [], tmp_path / "q1.jsonl")
    assert (report.valid, report.quarantined) == (len(rows), 0), report.quarantine_by_reason
    data, report = load_training_set(
        [logs / "reviewed-outcomes.jsonl"], [logs / "corrections.jsonl"], tmp_path / "q2.jsonl"
    )
    assert (report.valid, report.quarantined, report.corrections_quarantined) == (len(rows), 0, 0)
    assert report.corrections_joined == len(corrections)
    assert report.corrections_in_window == len(corrections)
    assert (data.tier_ok >= 0).any(axis=1).all()  # every record carries a tier observation
    assert set(data.propensity.tolist()) <= {0.5, 1.0}

    bundle = tmp_path / "bundle"
    code = tierwise([
        "train", "--logs", str(logs / "reviewed-outcomes.jsonl"),
        "--corrections", str(logs / "corrections.jsonl"),
        "--bundle-dir", str(bundle), "--work-dir", str(tmp_path / "work"),
        "--student-dir", str(student_dir), "--no-register", "--no-progress",
        "--set", f"tracking.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
        "--set", "teacher.enabled=false", "--set", "embed.cache=false",
        "--set", "heads.max_iter=15", "--set", "heads.min_samples_leaf=3",
        "--set", "data.holdout_templates=0", "--set", "data.holdout_domains=0",
    ])  # fmt: skip
    assert code == 0
    quarantine = tmp_path / "work" / "quarantine.jsonl"
    assert not quarantine.exists() or quarantine.stat().st_size == 0
    prediction = Classifier.load(bundle).classify("Translate this customer email into French.")
    assert prediction.tier in TIERS and sum(prediction.tier_ok_probs.values()) > 0
