"""A team's own taxonomy: validated on load (file and key named), and followed by the contracts,
routing table, rules, switches and decide() (any number of tiers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from classifier.contracts import Contracts, RoutingTable, load_contracts, load_routing_table
from classifier.decision import decide
from classifier.errors import BundleError, ConfigError, InputError
from classifier.guards import scan
from classifier.prediction import Prediction
from classifier.rules import RuleRouter
from classifier.switches import Switches
from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy, require_same

RAW = {
    "version": "acme-2",
    "intents": ["rewrite", "extract", "reason", "code", "converse"],
    "risks": ["routine", "sensitive", "regulated"],
    "tiers": ["nano", "mini", "full", "reasoning"],
}
TAXONOMY = Taxonomy.from_dict(RAW)
ECON = {"failure_usd": 0.01}


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _contracts(**extra: Any) -> dict[str, Any]:
    return {
        "taxonomy": RAW,
        "features": {
            "support": {"intent": "converse", "quality_bar": 0.8, "latency_budget_ms": 2000,
                        "economics": ECON},
            "legal": {"intent": "reason", "quality_bar": 0.8, "latency_budget_ms": 60000,
                      "risk_profile": "regulated", "economics": ECON},
        },
        **extra,
    }  # fmt: skip


def _table(tiers: tuple[str, ...] = TAXONOMY.tiers) -> dict[str, Any]:
    return {
        "version": "t1",
        "tiers": {t: {"model": f"m-{t}", "input_per_mtok": 0.1 * 4**i,
                      "output_per_mtok": 0.4 * 4**i, "p50_latency_ms": 300 * (i + 1)}
                  for i, t in enumerate(tiers)},
    }  # fmt: skip


def _pred(p_ok: dict[str, float], risk: str = "routine", intent: str = "converse") -> Prediction:
    return Prediction(
        intent=intent, intent_probs={i: (0.9 if i == intent else 0.025) for i in RAW["intents"]},
        risk=risk, risk_probs={r: 1.0 / 3 for r in RAW["risks"]}, tier="nano", tier_ok_probs=p_ok,
        model_version="t", bundle_hash="h", taxonomy_version="acme-2", tokens_used=50,
        truncated=False,
    )  # fmt: skip


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Contracts, RoutingTable]:
    _write(tmp_path, "taxonomy.yaml", RAW)
    contracts = load_contracts(
        _write(tmp_path, "contracts.yaml", {**_contracts(), "taxonomy": "taxonomy.yaml"})
    )
    table = load_routing_table(_write(tmp_path, "table.yaml", _table()), contracts.taxonomy)
    return contracts, table


def test_the_default_taxonomy_is_the_seven_intents_and_three_tiers() -> None:
    assert load_taxonomy() is DEFAULT_TAXONOMY
    assert len(DEFAULT_TAXONOMY.intents) == 7 and DEFAULT_TAXONOMY.tiers == ("nano", "mini", "full")
    assert load_contracts().taxonomy == DEFAULT_TAXONOMY
    assert TAXONOMY.force_tier == "mini" and TAXONOMY.tier_rank["reasoning"] == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tiers": ["nano", "mini", "nano"]}, "tiers: label 'nano' appears twice"),
        ({"intents": ["a", "b", "a"]}, "intents: label 'a' appears twice"),
        ({"tiers": ["only"]}, "tiers: needs at least 2 entries"),
        ({"tiers": []}, "tiers: needs at least 2 entries"),
        ({"risks": ["Low", "high"]}, "risks[0]: String should match pattern"),
        ({"force_tier": "ultra"}, "force_tier 'ultra' is not one of the tiers"),
        ({"colours": ["red"]}, "colours: is not a known key"),
    ],
)
def test_a_bad_taxonomy_file_names_the_file_and_the_key(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, "taxonomy.yaml", {**RAW, **change})
    with pytest.raises(ConfigError) as info:
        load_taxonomy(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_bad_inline_taxonomy_in_contracts_names_the_contracts_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "contracts.yaml", _contracts(taxonomy={**RAW, "tiers": ["x", "x"]}))
    with pytest.raises(ConfigError, match=rf"{path}: taxonomy.tiers: label 'x' appears twice"):
        load_contracts(path)


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("features.support.intent", "chat", "features.support.intent: unknown intent 'chat'"),
        ("features.support.risk_profile", "high", "risk_profile: unknown risk 'high'"),
        (
            "decision.risk_min_tier",
            {"routine": "nano", "sensitive": "mini", "regulated": "ultra"},
            "unknown tier 'ultra'",
        ),  # fmt: skip
        ("decision.risk_min_tier", {"routine": "nano"}, "missing ['sensitive', 'regulated']"),
    ],
)
def test_contracts_with_labels_outside_their_taxonomy_are_refused(
    tmp_path: Path, where: str, value: Any, message: str
) -> None:
    raw = _contracts(decision={})
    node = raw
    *parents, key = where.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[key] = value
    path = _write(tmp_path, "contracts.yaml", raw)
    with pytest.raises(ConfigError) as info:
        load_contracts(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_routing_table_and_rules_must_use_the_taxonomy_tiers(tmp_path: Path) -> None:
    path = _write(tmp_path, "table.yaml", _table(("nano", "mini", "full")))
    with pytest.raises(ConfigError, match="missing \\['reasoning'\\]"):
        load_routing_table(path, TAXONOMY)
    table = RoutingTable.from_dict(_table(), taxonomy=TAXONOMY)
    rules = _write(tmp_path, "rules.yaml", {"feature_defaults": {"support": "huge"}})
    with pytest.raises(ConfigError, match=r"feature_defaults: must be one of \['nano', 'mini'"):
        RuleRouter.from_yaml(rules, table.tier_models)
    # the packaged rules name nano/mini/full: valid here, since the taxonomy has those tiers
    assert RuleRouter.default(table.tier_models).choose("hi", "support")[0] in TAXONOMY.tiers


def test_decide_follows_a_four_tier_taxonomy(loaded: tuple[Contracts, RoutingTable]) -> None:
    contracts, table = loaded
    p_ok = {"nano": 0.5, "mini": 0.7, "full": 0.85, "reasoning": 0.99}
    got = decide(_pred(p_ok), "support", contracts, table)
    assert (got.tier, got.model, got.reason_code) == ("full", "m-full", "cheapest_ok")
    # nothing meets the bar: the strongest tier, which is the fourth
    low = {"nano": 0.1, "mini": 0.2, "full": 0.3, "reasoning": 0.4}
    got = decide(_pred(low), "support", contracts, table)
    assert (got.tier, got.reason_code) == ("reasoning", "no_tier_meets_bar")
    assert got.reason.startswith("no_tier_meets_bar: best P(ok) 0.40 < bar 0.80 -> reasoning")
    # the contract's risk level maps through the default risk_min_tier: the top risk -> tier 2
    got = decide(_pred({t: 0.99 for t in TAXONOMY.tiers}), "legal", contracts, table)
    assert (got.tier, got.risk_floor) == ("mini", "regulated")
    # a guard's `high` floor is this taxonomy's highest risk
    text = "Customer jane@example.com asks about their loan."
    got = decide(_pred({t: 0.99 for t in TAXONOMY.tiers}), "support", contracts, table, scan(text))
    assert (got.tier, got.risk_floor) == ("mini", "regulated")


def test_switches_follow_the_taxonomy_tiers(loaded: tuple[Contracts, RoutingTable]) -> None:
    contracts, table = loaded
    switches = Switches(tiers=contracts.taxonomy.tiers)
    with pytest.raises(InputError, match="use one of \\['nano', 'mini', 'full', 'reasoning'\\]"):
        switches.update(caps={"support": "ultra"})
    low = {"nano": 0.1, "mini": 0.2, "full": 0.3, "reasoning": 0.4}
    switches.update(caps={"support": "full"})
    got = decide(_pred(low), "support", contracts, table, switches=switches)
    assert (got.tier, got.reason_code) == ("full", "tier_cap")
    switches.update(force_mini=True)
    got = decide(None, "support", contracts, table, switches=switches)
    assert (got.tier, got.reason_code) == ("mini", "force_mini")
    assert "everything goes to mini" in got.reason


def test_a_table_of_another_taxonomy_is_refused_by_the_decision(
    loaded: tuple[Contracts, RoutingTable],
) -> None:
    contracts, _ = loaded
    p_ok = {t: 0.9 for t in TAXONOMY.tiers}
    with pytest.raises(ConfigError, match="tiers: only in the first \\[\\]"):
        decide(_pred(p_ok), "support", contracts, load_routing_table())


def test_a_bundle_of_another_taxonomy_is_refused_naming_the_labels() -> None:
    with pytest.raises(BundleError) as info:
        require_same(TAXONOMY, DEFAULT_TAXONOMY, bundle_source="b/", contracts_source="c.yaml")
    text = str(info.value)
    assert "bundle at b/ speaks taxonomy 'acme-2', the contracts at c.yaml speak '1'" in text
    assert "intents: only in the first ['rewrite', 'extract', 'reason', 'code', 'converse']" in text
    assert "tiers: only in the first ['reasoning'], only in the second []" in text
    reordered = Taxonomy.from_dict({**RAW, "tiers": ["mini", "nano", "full", "reasoning"]})
    with pytest.raises(BundleError, match="tiers: same labels in another order"):
        require_same(reordered, TAXONOMY, bundle_source="b/", contracts_source="c.yaml")
    require_same(TAXONOMY, Taxonomy.from_dict(RAW), bundle_source="b/", contracts_source="c")


def test_the_documented_example_loads_and_serves_its_tiers() -> None:
    root = Path(__file__).resolve().parents[2] / "docs" / "examples" / "taxonomy"
    contracts = load_contracts(root / "contracts.yaml")
    table = load_routing_table(root / "routing_table.yaml", contracts.taxonomy)
    assert contracts.taxonomy == load_taxonomy(root / "taxonomy.yaml") == TAXONOMY
    p_ok = {"nano": 0.2, "mini": 0.5, "full": 0.8, "reasoning": 0.99}
    got = decide(_pred(p_ok, risk="regulated", intent="reason"), "contract_review", contracts,
                 table)  # fmt: skip
    assert (got.tier, got.model) == ("reasoning", "acme-reasoner-2026-10")
