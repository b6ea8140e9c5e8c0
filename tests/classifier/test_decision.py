"""decide(): quality bar, expected cost, risk floor, abstention, and every reason."""

from __future__ import annotations

import copy

import pytest
import yaml

from classifier.contracts import (
    DEFAULT_CONTRACTS_PATH,
    Contracts,
    load_contracts,
    load_routing_table,
)
from classifier.decision import decide
from classifier.errors import InputError
from classifier.guards import scan
from classifier.plan import expected_costs, plan_for
from classifier.prediction import Prediction
from classifier.taxonomy import INTENTS, TIER_RANK

TABLE = load_routing_table()
CONTRACTS = load_contracts()
RAW_CONTRACTS = yaml.safe_load(DEFAULT_CONTRACTS_PATH.read_text(encoding="utf-8"))


def pred(
    nano: float,
    mini: float,
    full: float,
    *,
    intent: str = "summarize",
    intent_p: float = 0.9,
    risk: str = "low",
    tokens: int = 200,
    truncated: bool = False,
) -> Prediction:
    rest = (1.0 - intent_p) / (len(INTENTS) - 1)
    return Prediction(
        intent=intent,  # type: ignore[arg-type]
        intent_probs={name: (intent_p if name == intent else rest) for name in INTENTS},
        risk=risk,  # type: ignore[arg-type]
        risk_probs={"low": 0.8, "medium": 0.1, "high": 0.1},
        tier="nano",
        tier_ok_probs={"nano": nano, "mini": mini, "full": full},
        model_version="test-1",
        bundle_hash="abc",
        taxonomy_version="1",
        tokens_used=tokens,
        truncated=truncated,
    )


def contracts_with(**changes: object) -> Contracts:
    """Default contracts with `feature__key=value` (or `feature__economics__key=value`) changed."""
    raw = copy.deepcopy(RAW_CONTRACTS)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = raw["features"]
        for part in parents:
            node = node[part]
        node[key] = value
    return Contracts.from_dict(raw)


def test_cheapest_tier_meeting_the_bar_wins_with_its_cost() -> None:
    d = decide(pred(0.95, 0.97, 0.99), "code_assist", CONTRACTS, TABLE)
    assert (d.tier, d.reason_code, d.policy) == ("nano", "cheapest_ok", "learned")
    assert d.model == TABLE.model("nano")
    assert d.reason.startswith("cheapest_ok:nano")
    assert not d.abstain and d.guards == () and d.contract == "code_assist"
    assert d.model_version == "test-1" and d.propensity == 1.0
    # price (200 in, 500 typical out) + P(fail) x (failure + escalation to mini: price and wait)
    c = CONTRACTS.get("code_assist")
    recovery = TABLE.price_usd("mini", 200, c.typical_output_tokens)
    recovery += TABLE.latency_ms("mini") / 1000 * c.economics.delay_usd_per_s
    failure = c.economics.failure_usd + recovery
    expected = TABLE.price_usd("nano", 200, c.typical_output_tokens) + 0.05 * failure
    assert d.expected_cost_usd == pytest.approx(expected)


def test_quality_bar_excludes_tiers_below_it() -> None:
    d = decide(pred(0.50, 0.93, 0.99), "code_assist", CONTRACTS, TABLE)
    assert d.tier == "mini"
    d = decide(pred(0.50, 0.70, 0.93), "code_assist", CONTRACTS, TABLE)
    assert d.tier == "full"


def test_no_tier_meets_the_bar_goes_full_and_says_so() -> None:
    d = decide(pred(0.40, 0.60, 0.90), "policy_review", CONTRACTS, TABLE)
    assert (d.tier, d.reason_code) == ("full", "no_tier_meets_bar")
    assert "bar 0.95" in d.reason and not d.abstain


def test_expensive_failures_buy_a_bigger_tier() -> None:
    # nano and mini both meet the bar; with a costly failure mini's higher P(ok) pays for itself.
    p = pred(0.90, 0.995, 0.999)
    cheap = decide(
        p, "code_assist", contracts_with(code_assist__economics__failure_usd=0.001), TABLE
    )
    dear = decide(p, "code_assist", contracts_with(code_assist__economics__failure_usd=1.0), TABLE)
    assert (cheap.tier, dear.tier) == ("nano", "mini")
    assert dear.reason_code == "cheapest_ok"


@pytest.mark.parametrize("failure_usd", [0.0, 0.001, 0.01, 0.1, 1.0, 10.0])
def test_raising_failure_cost_never_lowers_the_tier(failure_usd: float) -> None:
    p = pred(0.88, 0.95, 0.99)
    lower = decide(
        p, "doc_summary", contracts_with(doc_summary__economics__failure_usd=failure_usd), TABLE
    )
    higher = decide(
        p,
        "doc_summary",
        contracts_with(doc_summary__economics__failure_usd=failure_usd * 2 + 0.01),
        TABLE,
    )
    assert TIER_RANK[higher.tier] >= TIER_RANK[lower.tier]


def test_delay_over_budget_is_costed() -> None:
    p = pred(0.96, 0.97, 0.99)
    # an old-style contract (no surface): latency_budget_ms is the p50 budget
    loose = contracts_with(inline_assist__surface=None, inline_assist__latency_budget_ms=60000)
    tight = contracts_with(inline_assist__surface=None, inline_assist__latency_budget_ms=100)
    full_loose = expected_costs(plan_for(loose, TABLE, "inline_assist"), (0.96, 0.97, 0.99), 100)[2]
    full_tight = expected_costs(plan_for(tight, TABLE, "inline_assist"), (0.96, 0.97, 0.99), 100)[2]
    over_s = (TABLE.latency_ms("full") - 100) / 1000
    assert full_tight - full_loose == pytest.approx(over_s * 0.002, rel=1e-6)
    assert decide(p, "inline_assist", tight, TABLE).tier == "nano"


def test_fail_closed_failures_include_human_review() -> None:
    plan = plan_for(CONTRACTS, TABLE, "policy_review")
    costs_ok = expected_costs(plan, (1.0, 1.0, 1.0), 1000)
    costs_bad = expected_costs(plan, (0.0, 0.0, 0.0), 1000)
    # failure + review + incident (2.0, the incident cost the contract gained with issue 15)
    assert costs_bad[2] - costs_ok[2] == pytest.approx(0.50 + 5.0 + 2.0)


def test_guard_raises_risk_floor_and_is_named() -> None:
    text = "Summarise the thread and keep bob@example.com in the summary."
    d = decide(pred(0.99, 0.99, 0.99), "doc_summary", CONTRACTS, TABLE, scan(text))
    assert d.tier == "mini"
    assert d.guards == ("pii.email",) and d.safety_flags == ("pii",)
    assert d.risk_floor == "high"
    assert "guards:pii.email" in d.reason and "risk_floor:high (guards) -> min mini" in d.reason


def test_predicted_and_contract_risk_raise_the_floor() -> None:
    p_high = pred(0.99, 0.99, 0.99, risk="high")
    assert decide(p_high, "code_assist", CONTRACTS, TABLE).tier == "mini"
    d = decide(pred(0.99, 0.99, 0.99), "policy_review", CONTRACTS, TABLE)
    assert d.tier == "mini" and "(contract)" in d.reason
    assert (
        decide(pred(0.99, 0.99, 0.99, risk="medium"), "code_assist", CONTRACTS, TABLE).tier
        == "nano"
    )


def test_unknown_feature_uses_default_contract_and_says_so() -> None:
    d = decide(pred(0.99, 0.99, 0.99), "brand_new_feature", CONTRACTS, TABLE)
    assert d.contract == "default" and d.feature == "brand_new_feature"
    assert "no contract for feature 'brand_new_feature'" in d.reason
    assert decide(pred(0.99, 0.99, 0.99), None, CONTRACTS, TABLE).contract == "default"


def test_unknown_features_share_one_cached_plan() -> None:
    contracts = load_contracts()
    for index in range(50):
        decide(pred(0.99, 0.99, 0.99), f"junk_{index}", contracts, TABLE)
    assert len(contracts._plans) == 1


def test_low_intent_confidence_abstains_one_tier_up() -> None:
    d = decide(pred(0.99, 0.99, 0.99, intent_p=0.30), "code_assist", CONTRACTS, TABLE)
    assert (d.tier, d.reason_code, d.abstain) == ("mini", "abstain", True)
    assert "abstain: intent P 0.30 < 0.40; nano -> mini" in d.reason


def test_thin_margin_over_the_bar_abstains() -> None:
    # ticket_triage: bar 0.85, margin 0.02, cheap failures, so nano is the cheapest at 0.86.
    d = decide(pred(0.86, 0.865, 0.99), "ticket_triage", CONTRACTS, TABLE)
    assert d.tier == "mini" and d.abstain
    assert "P(ok) 0.86 within 0.02 of bar; nano -> mini" in d.reason
    clear = decide(pred(0.90, 0.905, 0.99), "ticket_triage", CONTRACTS, TABLE)
    assert clear.tier == "nano" and not clear.abstain


def test_abstain_at_full_stays_full() -> None:
    d = decide(pred(0.1, 0.2, 0.86), "code_assist", CONTRACTS, TABLE)
    assert d.tier == "full" and d.abstain


def test_input_tokens_drive_the_price() -> None:
    short = decide(pred(0.95, 0.97, 0.99), "doc_summary", CONTRACTS, TABLE, input_tokens=100)
    long = decide(pred(0.95, 0.97, 0.99), "doc_summary", CONTRACTS, TABLE, input_tokens=100_000)
    assert long.expected_cost_usd > short.expected_cost_usd  # type: ignore[operator]


def test_truncated_input_is_estimated_from_the_whole_text() -> None:
    text = "word " * 4000  # 20,000 chars, about 5,000 tokens
    p = pred(0.95, 0.97, 0.99, tokens=128, truncated=True)
    estimated = decide(p, "doc_summary", CONTRACTS, TABLE, text=text)
    explicit = decide(p, "doc_summary", CONTRACTS, TABLE, input_tokens=len(text) // 4)
    assert estimated.expected_cost_usd == pytest.approx(explicit.expected_cost_usd)


def test_prediction_required_when_no_switch_is_set() -> None:
    with pytest.raises(InputError, match="classify the text first"):
        decide(None, "doc_summary", CONTRACTS, TABLE)


def test_decision_serialises() -> None:
    d = decide(pred(0.95, 0.97, 0.99), "doc_summary", CONTRACTS, TABLE)
    out = d.to_dict(include_prediction=True)
    assert out["tier"] == "nano" and out["prediction"]["model_version"] == "test-1"
    assert "prediction" not in d.to_dict()
    assert d.with_arm("B").arm == "B"


def test_decision_layer_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, classifier.policies, classifier.decision, classifier.guards;"
        "heavy = {'torch', 'sklearn', 'mlflow', 'sentence_transformers', 'training', 'serving'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_worked_example_in_docs() -> None:
    """docs/decisions.md walks through this request; keep the two in step."""
    p = pred(0.91, 0.95, 0.98, intent_p=0.88, tokens=1200)
    d = decide(p, "doc_summary", CONTRACTS, TABLE)
    assert d.tier == "nano" and d.expected_cost_usd == pytest.approx(0.0021015)
    costs = expected_costs(plan_for(CONTRACTS, TABLE, "doc_summary"), (0.91, 0.95, 0.98), 1200)
    assert costs == pytest.approx((0.0021015, 0.00219, 0.005016))
    dear = contracts_with(doc_summary__economics__failure_usd=0.10)
    assert decide(p, "doc_summary", dear, TABLE).tier == "mini"
    text = "Summarise this complaint from jane@example.com for the support lead."
    guarded = decide(p, "doc_summary", CONTRACTS, TABLE, scan(text), text=text)
    assert guarded.tier == "mini" and guarded.expected_cost_usd == pytest.approx(0.00219)
