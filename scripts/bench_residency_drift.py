"""Per-call cost of drift statistics and of residency in the decision (µs).

Run: .venv/bin/python scripts/bench_residency_drift.py   (seconds; numbers in docs/drift.md and
docs/residency.md). The machine is shared: the least-disturbed of five runs is reported.
"""

from __future__ import annotations

import copy
import timeit
from collections.abc import Callable

import yaml

from classifier.contracts import (
    DEFAULT_CONTRACTS_PATH,
    DEFAULT_ROUTING_TABLE_PATH,
    Contracts,
    RoutingTable,
    load_contracts,
    load_routing_table,
)
from classifier.decision import decide
from classifier.drift import DriftStats
from classifier.guards import scan
from classifier.prediction import Prediction
from classifier.taxonomy import INTENTS, RISKS, TIERS


def per_call_us(fn: Callable[[], object], calls: int = 20_000) -> float:
    return min(timeit.repeat(fn, number=calls, repeat=5)) / calls * 1e6


def main() -> None:
    top = INTENTS[0]
    p = Prediction(
        intent=top,
        intent_probs={n: (0.88 if n == top else 0.02) for n in INTENTS},
        risk=RISKS[0],
        risk_probs={n: 1.0 / len(RISKS) for n in RISKS},
        tier=TIERS[0],
        tier_ok_probs={t: 0.9 + 0.03 * i for i, t in enumerate(TIERS)},
        model_version="bench",
        bundle_hash="x",
        taxonomy_version="1",
        tokens_used=120,
        truncated=False,
    )
    stats = DriftStats(INTENTS, RISKS, TIERS)
    contracts, table = load_contracts(), load_routing_table()
    raw_c = yaml.safe_load(DEFAULT_CONTRACTS_PATH.read_text(encoding="utf-8"))
    raw_t = yaml.safe_load(DEFAULT_ROUTING_TABLE_PATH.read_text(encoding="utf-8"))
    raw_t["regions"] = ["us", "eu"]
    for spec in raw_t["tiers"].values():
        eu = {**copy.deepcopy(spec), "region": "eu", "model": spec["model"] + "-eu"}
        spec.update(region="us", alternatives=[eu])
    raw_c["residency"] = {"guards": {"pii": ["eu"]}}
    raw_c["features"]["doc_summary"]["regions"] = ["us", "eu"]
    eu_contracts, eu_table = Contracts.from_dict(raw_c), RoutingTable.from_dict(raw_t)
    pii = scan("Customer jane@example.com asks for a summary")
    rows = [
        ("DriftStats.observe (per request in the service)", lambda: stats.observe(p, False)),
        ("decide, no residency", lambda: decide(p, "doc_summary", contracts, table)),
        ("decide, contract regions", lambda: decide(p, "doc_summary", eu_contracts, eu_table)),
        ("decide, regions + pii guard rule",
         lambda: decide(p, "doc_summary", eu_contracts, eu_table, pii)),
    ]  # fmt: skip
    print("| call | µs per call |\n|---|---|")
    for name, fn in rows:
        print(f"| {name} | {per_call_us(fn):.2f} |")


if __name__ == "__main__":
    main()
