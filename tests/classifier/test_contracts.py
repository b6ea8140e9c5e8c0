"""Contracts and routing table: defaults load; bad files fail naming file and key."""

from __future__ import annotations

from pathlib import Path

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
from classifier.taxonomy import INTENTS, TIERS


def _defaults(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(tmp_path: Path, name: str, raw: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_default_contracts_load_with_every_feature_the_generator_uses() -> None:
    contracts = load_contracts()
    assert set(contracts.names) == {
        "inline_assist",
        "support_chat",
        "doc_summary",
        "code_assist",
        "data_extraction",
        "ticket_triage",
        "policy_review",
    }
    shares = [contracts.get(name).share for name in contracts.names]
    assert all(share is not None for share in shares)
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)  # type: ignore[arg-type]
    assert all(contracts.get(name).intent in INTENTS for name in contracts.names)
    assert contracts.get("policy_review").fallback == "fail_closed"


def test_unknown_or_missing_feature_gets_the_default_contract() -> None:
    contracts = load_contracts()
    assert contracts.get("no_such_feature") is contracts.default
    assert contracts.get(None) is contracts.default
    assert not contracts.is_known("no_such_feature")
    assert contracts.is_known("doc_summary")


def test_default_routing_table_maps_every_tier() -> None:
    table = load_routing_table()
    assert tuple(table.tiers) == TIERS
    assert table.model("mini") == "acme-mini-2026-08"
    # 1,000 input + 100 output tokens on nano: (1000*0.05 + 100*0.40) / 1e6
    assert table.price_usd("nano", 1000, 100) == pytest.approx(9e-5)
    assert table.latency_ms("full") > table.latency_ms("nano")


def test_quality_bar_above_one_names_file_and_key(tmp_path: Path) -> None:
    raw = _defaults(DEFAULT_CONTRACTS_PATH)
    raw["features"]["doc_summary"]["quality_bar"] = 1.5
    path = _write(tmp_path, "contracts.yaml", raw)
    with pytest.raises(ConfigError) as info:
        load_contracts(path)
    message = str(info.value)
    assert f"{path}: features.doc_summary.quality_bar: must be <= 1" in message


def test_bad_fallback_and_misspelt_key_are_both_reported(tmp_path: Path) -> None:
    raw = _defaults(DEFAULT_CONTRACTS_PATH)
    raw["features"]["support_chat"]["fallback"] = "shrug"
    raw["features"]["ticket_triage"]["qualty_bar"] = 0.9
    path = _write(tmp_path, "contracts.yaml", raw)
    with pytest.raises(ConfigError) as info:
        load_contracts(path)
    message = str(info.value)
    assert "features.support_chat.fallback: must be one of" in message
    assert "features.ticket_triage.qualty_bar: is not a known key" in message


def test_negative_economics_and_missing_key(tmp_path: Path) -> None:
    raw = _defaults(DEFAULT_CONTRACTS_PATH)
    raw["features"]["code_assist"]["economics"]["failure_usd"] = -1
    del raw["features"]["inline_assist"]["surface"]  # no surface, no latency_budget_ms
    path = _write(tmp_path, "contracts.yaml", raw)
    with pytest.raises(ConfigError) as info:
        load_contracts(path)
    message = str(info.value)
    assert "features.code_assist.economics.failure_usd: must be >= 0" in message
    assert "features.inline_assist.latency_budget_ms: is required" in message


def test_risk_table_must_not_lower_tier_as_risk_rises(tmp_path: Path) -> None:
    raw = _defaults(DEFAULT_CONTRACTS_PATH)
    raw["decision"]["risk_min_tier"] = {"low": "mini", "medium": "nano", "high": "full"}
    path = _write(tmp_path, "contracts.yaml", raw)
    with pytest.raises(ConfigError, match="decision.risk_min_tier|decision: risk_min_tier"):
        load_contracts(path)


def test_file_without_default_section_uses_builtin_default(tmp_path: Path) -> None:
    raw = _defaults(DEFAULT_CONTRACTS_PATH)
    del raw["default"]
    del raw["decision"]
    contracts = load_contracts(_write(tmp_path, "contracts.yaml", raw))
    assert contracts.default.quality_bar == pytest.approx(0.85)
    assert contracts.decision.risk_min_tier["high"] == "mini"


def test_missing_file_and_bad_yaml_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_contracts(tmp_path / "absent.yaml")
    broken = tmp_path / "contracts.yaml"
    broken.write_text("features: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_contracts(broken)
    broken.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_contracts(broken)


def test_routing_table_missing_tier_and_negative_price(tmp_path: Path) -> None:
    raw = _defaults(DEFAULT_ROUTING_TABLE_PATH)
    del raw["tiers"]["full"]
    raw["tiers"]["nano"]["input_per_mtok"] = -0.1
    path = _write(tmp_path, "routing_table.yaml", raw)
    with pytest.raises(ConfigError) as info:
        load_routing_table(path)
    message = str(info.value)
    assert "tiers.nano.input_per_mtok: must be >= 0" in message
    assert "routing_table.yaml" in message


def test_routing_table_missing_tier_is_named(tmp_path: Path) -> None:
    raw = _defaults(DEFAULT_ROUTING_TABLE_PATH)
    del raw["tiers"]["full"]
    with pytest.raises(ConfigError, match="missing \\['full'\\]"):
        load_routing_table(_write(tmp_path, "routing_table.yaml", raw))


def test_unknown_tier_in_table_is_refused() -> None:
    raw = _defaults(DEFAULT_ROUTING_TABLE_PATH)
    raw["tiers"]["ultra"] = dict(raw["tiers"]["full"])
    with pytest.raises(ConfigError, match="tiers: unknown tier 'ultra'"):
        RoutingTable.from_dict(raw, source="table.yaml")


def test_new_model_generation_is_a_table_update() -> None:
    raw = _defaults(DEFAULT_ROUTING_TABLE_PATH)
    raw["tiers"]["full"]["model"] = "acme-flagship-2027-01"
    table = RoutingTable.from_dict(raw)
    assert table.tier_models["full"] == "acme-flagship-2027-01"


def test_contracts_from_dict_names_source() -> None:
    with pytest.raises(ConfigError, match="inline.yaml: features: "):
        Contracts.from_dict({"features": {}}, source="inline.yaml")


def test_with_abstain_overrides_margins_and_validates() -> None:
    contracts = load_contracts()
    strict = contracts.with_abstain(min_intent_prob=0.9)
    assert strict.decision.abstain.min_intent_prob == 0.9
    assert strict.decision.abstain.ok_margin == contracts.decision.abstain.ok_margin
    assert contracts.decision.abstain.min_intent_prob == 0.40  # the original is untouched
    with pytest.raises(ConfigError, match="ok_margin: must be <= 0.5"):
        contracts.with_abstain(ok_margin=0.9)
