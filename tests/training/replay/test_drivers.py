"""The evaluation report names the cost that drove each feature's tier (issue 15 item 6)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from classifier.contracts import DEFAULT_CONTRACTS_PATH, Contracts, load_routing_table
from classifier.guards import CLEAN
from classifier.plan import COMPONENTS
from classifier.rules import RuleRouter
from tests.classifier.test_decision import pred
from training.replay.drivers import cost_drivers, drivers_section, with_components
from training.replay.policies import decide_tiers

TABLE = load_routing_table()
RULES = RuleRouter.default(TABLE.tier_models)


def _contracts() -> Contracts:
    raw = yaml.safe_load(DEFAULT_CONTRACTS_PATH.read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    raw["decision"]["thresholds"] = "contract"
    raw["features"]["code_assist"]["economics"]["incident_usd"] = 0.05
    raw["features"]["inline_assist"]["economics"]["failure_usd"] = 1.0
    return Contracts.from_dict(raw)


def _requests() -> tuple[list, list[str], list[str]]:
    rows = [
        ("code_assist", pred(0.95, 0.97, 0.99)),  # incident cost: nano -> mini
        ("inline_assist", pred(0.30, 0.86, 0.99)),  # p95 budget: full -> mini
        ("support_chat", pred(0.999, 0.999, 0.999)),  # nano whatever the pricing
    ] * 3
    return [p for _, p in rows], ["some text"] * len(rows), [f for f, _ in rows]


def test_each_feature_names_the_component_that_moved_its_tier() -> None:
    contracts = _contracts()
    preds, texts, features = _requests()
    guards = [CLEAN] * len(preds)
    chosen = decide_tiers(preds, texts, features, guards, contracts, TABLE, RULES)
    drivers = cost_drivers(preds, texts, features, guards, contracts, TABLE, chosen, RULES)
    assert drivers["code_assist"]["driver"] == "incident"
    assert drivers["code_assist"]["moved"]["incident"] == 1.0
    assert drivers["inline_assist"]["driver"] == "p95"
    assert drivers["support_chat"]["driver"] == "failure"
    assert drivers["support_chat"]["moved_all"] == 0.0
    for d in drivers.values():
        assert set(d["share"]) == set(COMPONENTS)
        assert sum(d["share"].values()) == pytest.approx(1.0)
    assert drivers["code_assist"]["share"]["incident"] > 0.0
    assert drivers["support_chat"]["share"]["incident"] == 0.0
    table = "\n".join(drivers_section(drivers))
    assert "| code_assist | 3 | **incident** |" in table
    assert "| inline_assist | 3 | **p95** |" in table


def test_failure_only_pricing_drops_exactly_the_other_components() -> None:
    contracts = _contracts()
    bare = with_components(contracts, ())
    code = bare.get("code_assist")
    assert (code.economics.incident_usd, code.economics.delay_usd_per_s) == (0.0, 0.0)
    assert code.economics.failure_usd == 0.03 and code.p95_budget_ms is None
    kept = with_components(contracts, ("p95",)).get("inline_assist")
    assert kept.p95_budget_ms == 3000 and kept.economics.delay_usd_per_s == 0.0
    tiers = decide_tiers(
        [pred(0.30, 0.86, 0.99)], ["t"], ["inline_assist"], [None], bare, TABLE, RULES
    )
    assert np.asarray(tiers).tolist() == [2]  # full, once the p95 budget is gone
