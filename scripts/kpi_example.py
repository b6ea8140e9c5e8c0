#!/usr/bin/env python
"""The KPI report example of docs/rollout.md: a real service in ab mode, simulated outcomes and
KPI events, then `tierwise evaluate --kpi`.

The service (in-process, a real bundle) routes every turn; a seeded simulation plays the router
(a call fails with a probability that falls with the tier, a failure escalates one tier) and the
product (conversions and support tickets depend on whether the conversation failed). Only the
simulation is made up; routes, logs, joins and the report are the real code paths.

Example:
    python scripts/kpi_example.py --bundle models/default --out .tierwise/kpi-example
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from classifier.cli import main as tierwise
from serving.app import create_app
from serving.settings import ServingSettings

TEXTS = [
    "Summarize this support ticket for the handover: the export failed twice since Monday.",
    "Draft a reply that apologises and gives the manual CSV export steps.",
    "Translate the reply into German, keep it formal.",
    "Is this customer angry or just confused? Answer with one word.",
    "Plan the steps to migrate their invoices to the new billing system, with risks.",
]
FAIL = {"nano": 0.2, "mini": 0.08, "full": 0.03}
NEXT = {"nano": "mini", "mini": "full"}
PRICE = {"nano": 0.00002, "mini": 0.0002, "full": 0.002}  # one call, USD
TOKEN = "example-router-token"


def _outcome(request_id: str, tier: str, rng: random.Random) -> tuple[dict[str, Any], bool]:
    attempts, escalations, failed = [], [], False
    while True:
        ok = rng.random() >= FAIL[tier]
        attempts.append({"tier": tier, "model": f"acme-{tier}", "schema_ok": ok,
                         "compliance_ok": True, "latency_ms": 300.0, "input_tokens": 200,
                         "output_tokens": 150, "cost_usd": PRICE[tier], "error": None})  # fmt: skip
        if ok or tier not in NEXT:
            failed = not ok
            break
        escalations.append({"from": tier, "to": NEXT[tier], "cause": "schema_fail"})
        tier = NEXT[tier]
    return {"request_id": request_id, "attempts": attempts, "escalations": escalations}, failed


def run(bundle: Path, out: Path, conversations: int, seed: int) -> int:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="kpi-example-"))
    settings = ServingSettings(
        bundle_path=bundle, reload_interval_s=0, log_dir=work / "logs", policy_mode="ab",
        ab_learned_share=0.5, feedback_callers={"router": {"token": TOKEN, "role": "client"}},
    )  # fmt: skip
    events = []
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as app:
        for c in range(conversations):
            prompt = "support_reply@v3" if c % 2 else "support_reply@v4"
            failed_any = False
            for turn in range(2):
                body = {"text": TEXTS[(c + turn) % len(TEXTS)], "feature": "support_chat",
                        "conversation_id": f"conv-{c}", "prompt_id": prompt}  # fmt: skip
                reply = app.post("/classify", json=body).json()
                outcome, failed = _outcome(reply["request_id"], reply["route"]["tier"], rng)
                failed_any |= failed or bool(outcome["escalations"])
                app.post("/feedback", json={"outcomes": [outcome]}).raise_for_status()
            p_convert = (0.15 if failed_any else 0.3) + (0.05 if prompt.endswith("v4") else 0.0)
            if rng.random() < p_convert:
                events.append({"conversation_id": f"conv-{c}", "ts": "2030-01-01T00:00:00Z",
                               "kind": "conversion"})  # fmt: skip
            if failed_any and rng.random() < 0.3:
                events.append({"conversation_id": f"conv-{c}", "ts": "2030-01-01T00:00:00Z",
                               "kind": "support_ticket"})  # fmt: skip
    kpi = work / "kpi-events.jsonl"
    kpi.write_text("".join(json.dumps(e) + "\n" for e in events))
    return tierwise(["evaluate", "--kpi", str(kpi), "--logs", str(work / "logs" / "outcomes.jsonl"),
                     "--out", str(out), "--bootstrap", "1000", "--seed", str(seed)])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("models/default"))
    parser.add_argument("--out", type=Path, default=Path(".tierwise/kpi-example"))
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    return run(args.bundle, args.out, args.conversations, args.seed)


if __name__ == "__main__":
    raise SystemExit(main())
