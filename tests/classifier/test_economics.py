"""Error economics (issue 15 item 6): incident cost, p50/p95 surface budgets, endpoint p95."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from classifier.contracts import (
    DEFAULT_CONTRACTS_PATH,
    DEFAULT_ROUTING_TABLE_PATH,
    P95_FACTOR,
    Contracts,
    RoutingTable,
    load_contracts,
    load_routing_table,
)
from classifier.decision import decide
from classifier.errors import ConfigError
from classifier.plan import cost_parts, expected_costs, plan_for
from tests.classifier.test_decision import pred

RAW = yaml.safe_load(DEFAULT_CONTRACTS_PATH.read_text(encoding="utf-8"))
RAW_TABLE = yaml.safe_load(DEFAULT_ROUTING_TABLE_PATH.read_text(encoding="utf-8"))
TABLE = load_routing_table()


def _write(tmp_path: Path, name: str, raw: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_latency_budget_contradicting_the_surface_names_file_and_key(tmp_path: Path) -> None:
    raw = copy.deepcopy(RAW)
    raw["features"]["inline_assist"]["latency_budget_ms"] = 900  # surface p50 is 1200
    path = _write(tmp_path, "contracts.yaml", raw)
    with pytest.raises(ConfigError) as info:
        load_contracts(path)
    message = str(info.value)
    assert str(path) in message
    assert "features.inline_assist.latency_budget_ms: 900 contradicts surface" in message


def test_unknown_surface_and_inverted_surface_budgets_name_the_key(tmp_path: Path) -> None:
    raw = copy.deepcopy(RAW)
    raw["features"]["support_chat"]["surface"] = "voice"
    with pytest.raises(
        ConfigError, match=r"features.support_chat.surface: unknown surface 'voice'"
    ):
        load_contracts(_write(tmp_path, "a.yaml", raw))
    raw = copy.deepcopy(RAW)
    raw["surfaces"]["chat"] = {"p50_ms": 4000, "p95_ms": 3000}
    with pytest.raises(ConfigError, match=r"a.yaml: surfaces.chat: p95_ms \(3000\) must be >="):
        load_contracts(_write(tmp_path, "a.yaml", raw))


def test_old_contract_files_keep_latency_budget_ms_as_the_p50_budget() -> None:
    raw = copy.deepcopy(RAW)
    del raw["surfaces"]
    raw["features"]["support_chat"].pop("surface")
    raw["features"]["support_chat"]["latency_budget_ms"] = 3000
    contract = Contracts.from_dict(raw).get("support_chat")
    assert (contract.latency_budget_ms, contract.p95_budget_ms) == (3000, None)
    surfaced = load_contracts().get("inline_assist")
    assert (surfaced.latency_budget_ms, surfaced.p95_budget_ms) == (1200, 3000)


def test_endpoint_p95_defaults_to_p50_times_the_factor_and_must_not_undercut_it(
    tmp_path: Path,
) -> None:
    raw = copy.deepcopy(RAW_TABLE)
    del raw["tiers"]["mini"]["p95_latency_ms"]
    assert RoutingTable.from_dict(raw).tiers["mini"].p95_ms == 900 * P95_FACTOR
    raw["tiers"]["full"]["p95_latency_ms"] = 1000  # below its p50 of 2600
    path = _write(tmp_path, "routing_table.yaml", raw)
    with pytest.raises(ConfigError) as info:
        load_routing_table(path)
    assert f"{path}: tiers.full: " in str(info.value)
    assert "p95_latency_ms (1000) must be >= p50_latency_ms (2600)" in str(info.value)


def test_a_p95_budget_excludes_the_tier_whose_tail_is_too_slow() -> None:
    p = pred(0.30, 0.86, 0.99)  # full is the cheapest in expectation: failures dominate
    raw = copy.deepcopy(RAW)
    raw["features"]["inline_assist"]["economics"]["failure_usd"] = 1.0
    raw["decision"]["thresholds"] = "contract"
    roomy = copy.deepcopy(raw)
    roomy["surfaces"]["inline_assist"]["p95_ms"] = 7000  # full's p95 is 6500
    assert decide(p, "inline_assist", Contracts.from_dict(roomy), TABLE).tier == "full"
    d = decide(p, "inline_assist", Contracts.from_dict(raw), TABLE)
    assert d.tier == "mini" and d.reason_code == "cheapest_ok"
    assert "p95_budget 3000 ms excludes acme-flagship-2026-06 p95 6500 ms" in d.reason


def test_when_no_tier_within_the_p95_budget_meets_the_bar_quality_wins() -> None:
    d = decide(pred(0.10, 0.20, 0.99), "inline_assist", load_contracts(), TABLE)
    assert (d.tier, d.reason_code) == ("full", "no_tier_meets_bar")
    assert "p95_budget 3000 ms excludes" in d.reason


def test_incident_cost_moves_the_choice_up() -> None:
    raw = copy.deepcopy(RAW)
    raw["decision"]["thresholds"] = "contract"
    p = pred(0.95, 0.97, 0.99)
    assert decide(p, "code_assist", Contracts.from_dict(raw), TABLE).tier == "nano"
    raw["features"]["code_assist"]["economics"]["incident_usd"] = 0.05
    risky = Contracts.from_dict(raw)
    assert decide(p, "code_assist", risky, TABLE).tier == "mini"
    plan = plan_for(risky, TABLE, "code_assist")
    bad, good = expected_costs(plan, (0.0,) * 3, 100), expected_costs(plan, (1.0,) * 3, 100)
    assert bad[2] - good[2] == pytest.approx(0.03 + 0.05, abs=0.01)  # + recovery attempt


def test_cost_parts_add_up_to_the_expected_cost_and_price_the_recovery_wait() -> None:
    contracts = load_contracts()
    for feature in contracts.names:
        plan = plan_for(contracts, TABLE, feature)
        p_ok = (0.7, 0.8, 0.9)
        parts = cost_parts(plan, p_ok, 500)
        for tier_parts, total in zip(parts, expected_costs(plan, p_ok, 500), strict=True):
            assert sum(tier_parts.values()) == pytest.approx(total, rel=1e-12)
    plan = plan_for(contracts, TABLE, "ticket_triage")  # 1500 ms p50 budget, retry, 0.002 USD/s
    parts = cost_parts(plan, (0.5, 0.5, 0.5), 100)
    over_s = (2600 - 1500) / 1000
    wait_s = 2600 / 1000  # the retry of full: the user waits for it again
    assert parts[2]["delay"] == pytest.approx(0.002 * (over_s + 0.5 * wait_s))
    assert parts[0]["delay"] == pytest.approx(0.002 * 0.5 * 0.350)


def test_the_documented_example_loads_and_prices_every_component(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "decisions.md").read_text(encoding="utf-8")
    section = doc.split("### Error economics", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    contracts = load_contracts(_write(tmp_path, "contracts.yaml", yaml.safe_load(example)))
    bot = contracts.get("refund_bot")
    assert (bot.latency_budget_ms, bot.p95_budget_ms, bot.economics.incident_usd) == (
        4000,
        10000,
        0.40,
    )
    assert contracts.get("legacy_feature").p95_budget_ms is None
    parts = cost_parts(plan_for(contracts, TABLE, "refund_bot"), (0.5, 0.5, 0.5), 100)
    assert parts[0]["incident"] == pytest.approx(0.5 * 0.40)
