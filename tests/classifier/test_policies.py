"""The one decision seam: abstention inside the decision, switches and caps after it, for every
policy; the model is not needed under force_mini or a kill switch."""

from __future__ import annotations

import pytest

from classifier.abstain import Margins
from classifier.contracts import load_contracts, load_routing_table
from classifier.decision import decide
from classifier.errors import InputError
from classifier.guards import scan
from classifier.policies import FixedTierPolicy, LearnedPolicy, RulesPolicy
from classifier.prediction import Prediction
from classifier.rules import RuleRouter
from classifier.switches import Switches, SwitchState
from classifier.taxonomy import INTENTS

TABLE = load_routing_table()
CONTRACTS = load_contracts()
RULES = RuleRouter.default(TABLE.tier_models)
UNSURE = Margins(intent=1.0, tier=1.0)  # every prediction is below these: always abstains
TEXT = "Translate to French: good morning"


def pred(nano: float, mini: float, full: float, intent_p: float = 0.94) -> Prediction:
    rest = (1.0 - intent_p) / (len(INTENTS) - 1)
    return Prediction(
        intent="transform",
        intent_probs={name: (intent_p if name == "transform" else rest) for name in INTENTS},
        risk="low",
        risk_probs={"low": 0.9, "medium": 0.05, "high": 0.05},
        tier="nano",
        tier_ok_probs={"nano": nano, "mini": mini, "full": full},
        model_version="test-3",
        bundle_hash="ghi",
        taxonomy_version="1",
        tokens_used=20,
        truncated=False,
    )


CONFIDENT_NANO = pred(0.99, 0.995, 0.999)


def test_force_mini_beats_margins_at_one_and_needs_no_model() -> None:
    policy = LearnedPolicy(CONTRACTS, TABLE, margins=UNSURE)
    calm = policy.decide(TEXT, "inline_assist", CONFIDENT_NANO)
    assert calm.abstain and calm.tier == "mini"  # the margins alone: one tier up
    forced = SwitchState(force_mini=True)
    assert not policy.needs_model("inline_assist", forced)
    d = policy.decide(TEXT, "inline_assist", None, switches=forced)
    assert (d.tier, d.reason_code, d.policy) == ("mini", "force_mini", "force_mini")
    assert not d.abstain and d.abstain_reason is None and d.prediction is None
    # even with a prediction at hand, nothing escalates past the switch
    with_prediction = policy.decide(TEXT, "inline_assist", pred(0.2, 0.3, 0.99), switches=forced)
    assert with_prediction.tier == "mini"


def test_a_cap_of_nano_beats_low_confidence() -> None:
    policy = LearnedPolicy(CONTRACTS, TABLE, margins=UNSURE)
    capped = SwitchState(caps={"inline_assist": "nano"})
    d = policy.decide(TEXT, "inline_assist", CONFIDENT_NANO, switches=capped)
    assert (d.tier, d.reason_code) == ("nano", "tier_cap")
    # the abstention is kept on record: what the model's confidence asked for
    assert d.abstain and d.abstain_kind == "intent+tier"
    assert "below the margin" in (d.abstain_reason or "")
    assert d.reason.index("abstain:") < d.reason.index("tier_cap: mini -> nano")
    # the contracts' own margins (intent P 0.30 < 0.40) lose to the cap too
    unsure = pred(0.99, 0.995, 0.999, intent_p=0.30)
    assert decide(unsure, "inline_assist", CONTRACTS, TABLE, switches=capped).tier == "nano"


def test_abstain_reason_is_a_field_not_inside_a_string() -> None:
    d = decide(pred(0.99, 0.995, 0.999, intent_p=0.30), "inline_assist", CONTRACTS, TABLE)
    assert (d.tier, d.reason_code, d.abstain_kind) == ("mini", "abstain", "decision")
    assert d.abstain_reason == "intent P 0.30 < 0.40"
    assert d.to_dict()["abstain_reason"] == d.abstain_reason
    # the operator's margins are checked first and name the reason when they fire
    first = decide(pred(0.99, 0.995, 0.999, intent_p=0.30), "inline_assist", CONTRACTS, TABLE,
                   margins=Margins(intent=0.5))  # fmt: skip
    assert first.abstain_kind == "intent" and first.tier == "mini"
    assert first.abstain_reason == "top intent probability 0.300 is below the margin 0.5"
    assert not decide(CONFIDENT_NANO, "inline_assist", CONTRACTS, TABLE).abstain


def test_kill_switch_falls_back_to_rules_without_the_model_or_its_margins() -> None:
    policy = LearnedPolicy(CONTRACTS, TABLE, margins=UNSURE)
    killed = SwitchState(killed=frozenset({"inline_assist"}))
    assert not policy.needs_model("inline_assist", killed)
    assert policy.needs_model("doc_summary", killed)
    d = policy.decide("please step by step plan the migration", "inline_assist", switches=killed)
    assert (d.policy, d.reason_code, d.tier, d.abstain) == ("rules", "kill_switch", "full", False)
    with pytest.raises(InputError, match="classify the text first"):
        policy.decide(TEXT, "doc_summary", None, switches=killed)


def test_rules_policy_keeps_guard_floor_force_mini_and_caps() -> None:
    """Moved from serving's rules arm: the same guards, floors and switches as learned."""
    rules = RulesPolicy(RULES, CONTRACTS, TABLE)
    text = "Fix grammar: my card is 4111 1111 1111 1111"
    guards = scan(text)
    plain = RULES.route(text, "inline_assist")
    switches = Switches()
    guarded = rules.decide(text, "inline_assist", guards=guards, switches=switches.state)
    assert guarded.policy == "rules" and guarded.guards == guards.detectors
    assert guarded.risk_floor == "high"
    assert guarded.tier != "nano" and "risk_floor" in guarded.reason
    assert plain.reason in guarded.reason  # the rule that fired is still named
    assert not rules.needs_model("inline_assist", switches.state)
    switches.update(caps={"inline_assist": "nano"})
    capped = rules.decide(text, "inline_assist", guards=guards, switches=switches.state)
    assert capped.tier == "nano" and capped.reason_code == "tier_cap"
    switches.update(force_mini=True)
    forced = rules.decide(text, "inline_assist", guards=guards, switches=switches.state)
    assert forced.tier == "mini" and forced.reason_code == "force_mini"


def test_fixed_tiers_go_through_the_same_switches() -> None:
    fixed = FixedTierPolicy("full", CONTRACTS, TABLE)
    d = fixed.route("anything", "doc_summary")
    assert (d.tier, d.policy, d.reason_code) == ("full", "always_full", "fixed")
    capped = fixed.decide("anything", "doc_summary", switches=SwitchState(caps={"*": "mini"}))
    assert capped.tier == "mini" and capped.reason_code == "tier_cap"
    forced = fixed.decide("anything", "doc_summary", switches=SwitchState(force_mini=True))
    assert forced.reason_code == "force_mini"
