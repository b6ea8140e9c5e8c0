"""Tuned thresholds: the bundle's replay curves, the price a contract picks, decide() using it."""

from __future__ import annotations

import pytest
import yaml

from classifier.contracts import (
    DEFAULT_CONTRACTS_PATH,
    Contracts,
    load_contracts,
    load_routing_table,
)
from classifier.decision import decide
from classifier.prediction import Prediction
from classifier.tuning import (
    ALL,
    MIN_ROWS,
    TierTuning,
    at_failure_price,
    contract_failure_price,
    with_failure_price,
)

TABLE = load_routing_table()
CONTRACTS = load_contracts()
PRICES = [0.0, 0.001, 0.01, 0.1, 1.0]


def tuning(**curves: tuple[list[float], list[float], int]) -> TierTuning:
    raw = {
        "prices": PRICES,
        "mode": "exact",
        "rows": 1000,
        "features": {
            name.replace("ALL", ALL): {"cost_usd": c, "failure_rate": f, "rows": n}
            for name, (c, f, n) in curves.items()
        },
    }
    return TierTuning.from_dict(raw)


# cheap and failing at low prices, dear and safe at high ones
COST = [0.0010, 0.0012, 0.0016, 0.0030, 0.0036]
FAIL = [0.30, 0.12, 0.05, 0.02, 0.016]


def pred(nano: float, mini: float, full: float, tuned: TierTuning | None) -> Prediction:
    return Prediction(
        intent="summarize",
        intent_probs={"summarize": 0.3, "chat": 0.7},  # low: the contracts would abstain
        risk="low",
        risk_probs={"low": 0.9, "medium": 0.05, "high": 0.05},
        tier="nano",
        tier_ok_probs={"nano": nano, "mini": mini, "full": full},
        model_version="t",
        bundle_hash="h",
        taxonomy_version="1",
        tokens_used=300,
        truncated=False,
        tier_tuning=tuned,
    )


def test_the_contract_price_picks_the_cheapest_point_of_its_feature_curve() -> None:
    t = tuning(doc_summary=(COST, FAIL, 500), ALL=(COST, FAIL, 1000))
    # objective cost + price x failure at each grid point, by hand
    for price in (0.0, 0.002, 0.02, 0.2, 10.0):
        objective = [c + price * f for c, f in zip(COST, FAIL, strict=True)]
        assert t.failure_price("doc_summary", price) == PRICES[objective.index(min(objective))]
    assert t.failure_price("doc_summary", 0.0) == 0.0
    assert t.failure_price("doc_summary", 10.0) == 1.0


def test_small_or_unknown_features_use_the_curve_over_all_rows() -> None:
    safe = [0.5, 0.4, 0.3, 0.2, 0.1]  # "*" says: failures cost a lot, buy safety
    t = tuning(
        doc_summary=(COST, [0.0] * 5, MIN_ROWS - 1),  # too few rows: ignored
        ALL=([0.001] * 5, safe, 1000),
    )
    assert t.failure_price("doc_summary", 0.01) == 1.0
    assert t.failure_price("nobody_knows", 0.01) == 1.0
    assert t.failure_price(None, 0.01) == 1.0
    assert TierTuning.from_dict({**t.to_dict(), "features": {}}).failure_price("x", 1.0) is None


def test_tied_prices_resolve_to_the_middle_of_the_tie() -> None:
    flat = tuning(ALL=([0.001] * 5, [0.1] * 5, 1000))
    assert flat.failure_price("x", 0.05) == PRICES[2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prices": [0.1, 0.01]}, "increasing"),
        ({"prices": []}, "increasing"),
        ({"features": {"*": {"cost_usd": [1.0], "failure_rate": [0.1], "rows": 5}}}, "one value"),
        (
            {"features": {"*": {"cost_usd": [-1.0] * 5, "failure_rate": [0.1] * 5, "rows": 5}}},
            "negative",
        ),
        ({"mode": None, "prices": "x"}, "malformed"),
        ({"features": None}, "malformed"),
    ],
)
def test_malformed_tuning_is_refused_with_a_reason(change: dict, message: str) -> None:
    raw = {**tuning(ALL=(COST, FAIL, 1000)).to_dict(), **change}
    with pytest.raises(ValueError, match=message):
        TierTuning.from_dict(raw)


def test_round_trip_keeps_curves_and_key() -> None:
    t = tuning(doc_summary=(COST, FAIL, 500), ALL=(COST, FAIL, 1000))
    again = TierTuning.from_dict(t.to_dict())
    assert again == t and again.key == t.key and len(t.key) == 16


def test_contract_price_of_a_failure_adds_review_only_when_failing_closed() -> None:
    review = CONTRACTS.get("policy_review")
    assert review.fallback == "fail_closed"
    assert contract_failure_price(review) == pytest.approx(0.5 + 5.0 + 2.0)  # + incident_usd
    chat = CONTRACTS.get("support_chat")
    assert chat.fallback == "escalate"
    assert contract_failure_price(chat) == pytest.approx(0.03)
    tuned = at_failure_price(chat, 0.007)
    assert tuned.quality_bar == 0.0 and tuned.economics.failure_usd == 0.007
    assert tuned.economics.review_usd == 0.0 and tuned.latency_budget_ms == chat.latency_budget_ms


def test_tuned_decision_is_the_contract_decision_at_the_tuned_price() -> None:
    """decide() with a tuned bundle == decide() with every failure priced at the tuned price."""
    t = tuning(
        support_chat=(COST, FAIL, 400),
        doc_summary=([0.001, 0.0011, 0.0013, 0.005, 0.006], FAIL, 400),
        ALL=(COST, FAIL, 1000),
    )
    assert CONTRACTS.decision.thresholds == "tuned"
    cases = [(0.55, 0.9, 0.99), (0.9, 0.97, 0.995), (0.2, 0.6, 0.97), (0.93, 0.94, 0.95)]
    seen_tiers = set()
    for feature in ("support_chat", "doc_summary", "policy_review", "unknown_feature"):
        price = t.failure_price(feature, contract_failure_price(CONTRACTS.get(feature)))
        assert price is not None
        same = with_failure_price(CONTRACTS, price)
        for probs in cases:
            tuned = decide(pred(*probs, t), feature, CONTRACTS, TABLE)
            plain = decide(pred(*probs, None), feature, same, TABLE)
            assert (tuned.tier, tuned.abstain) == (plain.tier, plain.abstain), (feature, probs)
            assert f"tuned: failure priced ${price:g}" in tuned.reason
            assert not tuned.abstain  # a tuned price does not abstain on top
            seen_tiers.add(tuned.tier)
    assert len(seen_tiers) > 1


def test_contract_mode_and_untuned_bundles_keep_the_contracts_bars() -> None:
    t = tuning(ALL=(COST, FAIL, 1000))
    raw = yaml.safe_load(DEFAULT_CONTRACTS_PATH.read_text(encoding="utf-8"))
    raw["decision"]["thresholds"] = "contract"
    as_written = Contracts.from_dict(raw)
    a = decide(pred(0.5, 0.9, 0.99, t), "doc_summary", as_written, TABLE)
    b = decide(pred(0.5, 0.9, 0.99, None), "doc_summary", as_written, TABLE)
    assert (a.tier, a.reason) == (b.tier, b.reason) and "tuned" not in a.reason
    # tuned contracts, but the prediction's bundle has no tuning: the contract's bar 0.85 and
    # its abstention rules hold, as before tuning existed
    untuned = decide(pred(0.5, 0.9, 0.99, None), "doc_summary", CONTRACTS, TABLE)
    assert "tuned" not in untuned.reason and "bar 0.85" in untuned.reason
    assert untuned.abstain  # intent P 0.3 < 0.40
