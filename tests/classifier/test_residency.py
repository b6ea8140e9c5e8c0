"""Data residency: allowed regions from contracts and guards bound every policy's decision."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from classifier.contracts import (
    DEFAULT_CONTRACTS_PATH,
    DEFAULT_ROUTING_TABLE_PATH,
    Contracts,
    RoutingTable,
    load_contracts,
    load_routing_table,
)
from classifier.errors import ConfigError
from classifier.guards import scan
from classifier.plan import plan_for
from classifier.policies import FixedTierPolicy, LearnedPolicy, RulesPolicy
from classifier.prediction import Prediction
from classifier.switches import Switches
from classifier.taxonomy import INTENTS

RAW_CONTRACTS = yaml.safe_load(DEFAULT_CONTRACTS_PATH.read_text(encoding="utf-8"))
RAW_TABLE = yaml.safe_load(DEFAULT_ROUTING_TABLE_PATH.read_text(encoding="utf-8"))
EMAIL = "Please summarise the complaint from jane.doe@example.com about the late delivery."
CLEAN = "Please summarise the complaint about the late delivery."


def raw_table() -> dict[str, Any]:
    """us endpoints for every tier; eu alternatives for nano and mini only (no eu flagship)."""
    raw = copy.deepcopy(RAW_TABLE)
    raw["regions"] = ["us", "eu"]
    for tier, spec in raw["tiers"].items():
        spec.update(region="us", vendor="acme")
        if tier != "full":
            eu = {k: v for k, v in spec.items() if k not in ("region", "vendor")}
            eu.update(model=f"{spec['model']}-eu", region="eu", vendor="eurocloud")
            eu["input_per_mtok"] = spec["input_per_mtok"] * 2
            spec["alternatives"] = [eu]
    return raw


def raw_contracts(**features: list[str]) -> dict[str, Any]:
    raw = copy.deepcopy(RAW_CONTRACTS)
    for name, regions in features.items():
        raw["features"][name]["regions"] = regions
    return raw


def policy(contracts: dict[str, Any], table: dict[str, Any] | None = None, **kw: Any) -> Any:
    return LearnedPolicy(
        Contracts.from_dict(contracts), RoutingTable.from_dict(table or raw_table()), **kw
    )


def pred(nano: float, mini: float, full: float, risk: str = "low") -> Prediction:
    rest = 0.1 / (len(INTENTS) - 1)
    return Prediction(
        intent="summarize",
        intent_probs={name: (0.9 if name == "summarize" else rest) for name in INTENTS},
        risk=risk,  # type: ignore[arg-type]
        risk_probs={"low": 0.8, "medium": 0.1, "high": 0.1},
        tier="nano",
        tier_ok_probs={"nano": nano, "mini": mini, "full": full},
        model_version="test-1",
        bundle_hash="abc",
        taxonomy_version="1",
        tokens_used=200,
        truncated=False,
    )


def test_without_residency_nothing_changes_and_nothing_is_logged() -> None:
    d = LearnedPolicy().decide(CLEAN, "code_assist", pred(0.95, 0.97, 0.99))
    assert d.model == load_routing_table().model("nano")
    assert d.residency is None and d.region is None and "residency" not in d.reason


def test_contract_regions_pick_the_allowed_endpoint_and_log_the_constraint() -> None:
    p = policy(raw_contracts(code_assist=["eu"]))
    d = p.decide(CLEAN, "code_assist", pred(0.95, 0.97, 0.99))
    assert (d.tier, d.model, d.region, d.vendor) == (
        "nano",
        "acme-nano-2026-08-eu",
        "eu",
        "eurocloud",
    )
    assert d.residency == "regions ['eu'] (contract ['eu'])"
    assert "residency: regions ['eu']" in d.reason
    # the eu endpoint's own (doubled) input price is the one in the expected cost
    us = policy(raw_contracts()).decide(CLEAN, "code_assist", pred(0.95, 0.97, 0.99))
    assert us.region == "us" and d.expected_cost_usd > us.expected_cost_usd


def test_learned_never_chooses_a_tier_without_an_allowed_endpoint() -> None:
    p = policy(raw_contracts(code_assist=["eu"]))
    # only full meets the bar; full has no eu endpoint: the best allowed tier, mini
    d = p.decide(CLEAN, "code_assist", pred(0.3, 0.5, 0.99))
    assert (d.tier, d.region, d.reason_code) == ("mini", "eu", "no_tier_meets_bar")
    assert d.reason.startswith("no_tier_meets_bar: best P(ok) 0.50 < bar 0.85 -> mini")


def test_escalation_is_priced_at_the_next_allowed_tier() -> None:
    raw = raw_table()
    raw["tiers"]["mini"]["alternatives"] = []  # no eu mini: nano escalates straight to full
    raw["tiers"]["full"]["alternatives"] = [
        {**raw["tiers"]["full"], "region": "eu", "model": "f-eu"}
    ]
    contracts = Contracts.from_dict(raw_contracts(code_assist=["eu"]))
    table = RoutingTable.from_dict(raw)
    plan = plan_for(contracts, table, "code_assist")
    assert plan.allowed == (True, False, True)
    assert plan.fail_in_rate[0] == pytest.approx(raw["tiers"]["full"]["input_per_mtok"] / 1e6)
    d = LearnedPolicy(contracts, table).decide(CLEAN, "code_assist", pred(0.5, 0.99, 0.99))
    assert (d.tier, d.model) == ("full", "f-eu")


def test_rules_policy_and_force_mini_move_up_within_the_allowed_set_or_fail_closed() -> None:
    contracts = Contracts.from_dict(raw_contracts(policy_review=["eu"], code_assist=["eu"]))
    table = RoutingTable.from_dict(raw_table())
    rules = RulesPolicy(contracts=contracts, table=table)
    # policy_review's rules say full; full has no eu endpoint and nothing is above it
    d = rules.decide("Review this contract clause against GDPR.", "policy_review")
    assert d.reason_code == "residency_fail_closed" and d.model == "" and d.region is None
    assert d.reason.startswith("residency_fail_closed: no allowed endpoint for full")
    assert "fail closed" in d.reason
    switches = Switches()
    switches.update(force_mini=True)
    forced = FixedTierPolicy("nano", contracts, table, switches=switches).decide(
        CLEAN, "code_assist"
    )
    assert (forced.tier, forced.region, forced.reason_code) == ("mini", "eu", "force_mini")


def test_kill_switch_fallback_and_tier_cap_stay_inside_the_allowed_set() -> None:
    switches = Switches()
    switches.update(kill={"doc_summary": True}, caps={"code_assist": "nano"})
    raw = raw_table()
    raw["tiers"]["nano"]["alternatives"] = []  # no eu nano
    p = policy(raw_contracts(doc_summary=["eu"], code_assist=["eu"]), raw, switches=switches)
    killed = p.decide(CLEAN, "doc_summary")  # rules: feature default mini, in eu
    assert (killed.reason_code, killed.tier, killed.region) == ("kill_switch", "mini", "eu")
    capped = p.decide(CLEAN, "code_assist", pred(0.3, 0.99, 0.99))
    assert capped.reason_code == "residency_fail_closed" and capped.model == ""
    assert "no endpoint for nano in the allowed regions: none left" in capped.reason


def test_guard_findings_narrow_the_regions() -> None:
    raw = raw_contracts(code_assist=["us", "eu"])
    raw["residency"] = {"guards": {"pii": ["eu"]}}
    p = policy(raw)
    clean = p.decide(CLEAN, "code_assist", pred(0.95, 0.97, 0.99))
    found = p.decide(EMAIL, "code_assist", pred(0.95, 0.97, 0.99))
    assert clean.region == "us"
    assert scan(EMAIL).detectors == ("pii.email",)
    assert (found.region, found.model) == ("eu", "acme-mini-2026-08-eu")  # pii: risk high -> mini
    assert found.residency == "regions ['eu'] (contract ['us', 'eu']; guards:pii ['eu'])"
    # a feature that may only use us: a request with personal data fails closed
    only_us = raw_contracts(code_assist=["us"])
    only_us["residency"] = {"guards": {"pii.email": ["eu"]}}
    d = policy(only_us).decide(EMAIL, "code_assist", pred(0.95, 0.97, 0.99))
    assert d.reason_code == "residency_fail_closed" and "regions []" in d.reason


def write(tmp_path: Path, name: str, raw: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_unknown_region_is_refused_naming_file_and_key(tmp_path: Path) -> None:
    contracts = load_contracts(write(tmp_path, "c.yaml", raw_contracts(doc_summary=["eu", "mars"])))
    table = load_routing_table(write(tmp_path, "t.yaml", raw_table()))
    with pytest.raises(
        ConfigError, match=r"c.yaml: features.doc_summary.regions\[1\]: unknown region 'mars'"
    ):
        LearnedPolicy(contracts, table)


def test_a_rule_that_leaves_a_feature_no_endpoint_is_refused(tmp_path: Path) -> None:
    raw = raw_table()
    for spec in raw["tiers"].values():
        spec["alternatives"] = []
    raw["tiers"]["nano"]["alternatives"] = [{**RAW_TABLE["tiers"]["nano"], "region": "eu"}]
    contracts = load_contracts(write(tmp_path, "c.yaml", raw_contracts(policy_review=["eu"])))
    table = load_routing_table(write(tmp_path, "t.yaml", raw))
    # policy_review is high risk: mini at least, and only nano runs in eu
    with pytest.raises(
        ConfigError,
        match=r"c.yaml: features.policy_review.regions: leaves 'policy_review' no endpoint",
    ):
        RulesPolicy(contracts=contracts, table=table)
    # the global default names the residency key
    everyone = raw_contracts()
    everyone["residency"] = {"regions": ["eu"]}
    with pytest.raises(ConfigError, match=r"c2.yaml: residency.regions: leaves"):
        LearnedPolicy(load_contracts(write(tmp_path, "c2.yaml", everyone)), table)


def test_table_and_guard_key_mistakes_are_refused(tmp_path: Path) -> None:
    raw = raw_table()
    raw["tiers"]["mini"]["region"] = "ap"
    with pytest.raises(
        ConfigError,
        match=r"t.yaml: \(top level\): tiers.mini: endpoint 'acme-mini-2026-08' names region 'ap'",
    ):
        load_routing_table(write(tmp_path, "t.yaml", raw))
    contracts = raw_contracts()
    contracts["residency"] = {"guards": {"pi": ["eu"]}}
    with pytest.raises(ConfigError, match=r"residency.guards.pi: not a guard category"):
        LearnedPolicy(Contracts.from_dict(contracts), RoutingTable.from_dict(raw_table()))
    contracts["residency"] = {"guards": {"pii": ["EU!"]}}
    with pytest.raises(ConfigError, match=r"residency.guards.pii\[0\]: String should match"):
        Contracts.from_dict(contracts)


EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "taxonomy"


def four(nano: float, mini: float, full: float, reasoning: float) -> Prediction:
    """A prediction in the docs' four-tier example taxonomy (docs/examples/taxonomy)."""
    intents = ("rewrite", "extract", "reason", "code", "converse")
    return Prediction(
        intent="converse",
        intent_probs={name: (0.9 if name == "converse" else 0.025) for name in intents},
        risk="routine",
        risk_probs={"routine": 0.8, "sensitive": 0.1, "regulated": 0.1},
        tier="nano",
        tier_ok_probs={"nano": nano, "mini": mini, "full": full, "reasoning": reasoning},
        model_version="test-1",
        bundle_hash="abc",
        taxonomy_version="acme-2",
        tokens_used=200,
        truncated=False,
    )


def test_residency_follows_a_four_tier_taxonomy() -> None:
    """No eu `full` in the example's table: eu traffic skips from mini to `reasoning`."""
    raw_c = yaml.safe_load((EXAMPLE / "contracts.yaml").read_text(encoding="utf-8"))
    labels = yaml.safe_load((EXAMPLE / "taxonomy.yaml").read_text(encoding="utf-8"))
    raw_c["taxonomy"] = {**labels, "force_tier": "full"}
    raw_t = yaml.safe_load((EXAMPLE / "routing_table.yaml").read_text(encoding="utf-8"))
    for tier, spec in raw_t["tiers"].items():
        spec["region"] = "us"
        if tier != "full":
            spec["alternatives"] = [{**spec, "model": spec["model"] + "-eu", "region": "eu"}]
    loaded = Contracts.from_dict(raw_c)
    # the run-time override (PUT /admin/residency) keeps the contracts' taxonomy
    contracts = loaded.with_residency({"features": {"support_chat": ["eu"]}}, "admin residency")
    assert contracts.taxonomy == loaded.taxonomy and contracts.taxonomy.tiers[-1] == "reasoning"
    table = RoutingTable.from_dict(raw_t, taxonomy=contracts.taxonomy)
    plan = plan_for(contracts, table, "support_chat")
    assert plan.allowed == (True, True, False, True) and plan.up == (0, 1, 3, 3)
    reasoning_in = raw_t["tiers"]["reasoning"]["input_per_mtok"] / 1e6
    assert plan.fail_in_rate[1] == pytest.approx(reasoning_in)  # mini escalates to reasoning
    p = four(0.3, 0.5, 0.99, 0.99)
    assert LearnedPolicy(loaded, table).decide(CLEAN, "support_chat", p).tier == "full"
    d = LearnedPolicy(contracts, table).decide(CLEAN, "support_chat", p)
    assert (d.tier, d.model, d.region) == ("reasoning", "acme-reasoner-2026-10-eu", "eu")
    # a conversation floor at full moves up to the next allowed tier too
    easy = four(0.99, 0.99, 0.99, 0.99)
    floored = LearnedPolicy(contracts, table).decide(CLEAN, "support_chat", easy, floor="full")
    assert (floored.tier, floored.reason_code) == ("reasoning", "conversation_floor")
    assert "residency: no endpoint for full -> reasoning" in floored.reason
    # force_mini goes to the taxonomy's force tier (full here), then up to an allowed one
    switches = Switches(tiers=contracts.taxonomy.tiers)
    switches.update(force_mini=True)
    forced = FixedTierPolicy("nano", contracts, table, switches=switches).decide(
        CLEAN, "support_chat"
    )
    assert (forced.tier, forced.region, forced.reason_code) == ("reasoning", "eu", "force_mini")
    assert "everything goes to full" in forced.reason
    # regulated contract_review needs full or above: without an eu reasoning, none is left
    del raw_t["tiers"]["reasoning"]["alternatives"]
    no_eu = RoutingTable.from_dict(raw_t, taxonomy=contracts.taxonomy)
    narrowed = loaded.with_residency({"features": {"contract_review": ["eu"]}}, "admin residency")
    with pytest.raises(
        ConfigError,
        match=r"admin residency: features.contract_review.regions: leaves 'contract_review' no "
        r"endpoint: no tier from full up",
    ):
        LearnedPolicy(narrowed, no_eu)
