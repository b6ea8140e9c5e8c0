"""Switches (force_mini, kill, caps) inside decide(), their thread safety, and the policies."""

from __future__ import annotations

import threading

import pytest

from classifier.contracts import load_contracts, load_routing_table
from classifier.decision import decide
from classifier.errors import InputError
from classifier.guards import scan
from classifier.policies import FixedTierPolicy, LearnedPolicy, Policy, RulesPolicy
from classifier.prediction import Prediction
from classifier.rules import RuleRouter
from classifier.switches import Switches, SwitchState
from classifier.taxonomy import INTENTS

TABLE = load_routing_table()
CONTRACTS = load_contracts()
RULES = RuleRouter.default(TABLE.tier_models)


def pred(nano: float, mini: float, full: float) -> Prediction:
    return Prediction(
        intent="transform",
        intent_probs={name: (0.94 if name == "transform" else 0.01) for name in INTENTS},
        risk="low",
        risk_probs={"low": 0.9, "medium": 0.05, "high": 0.05},
        tier="nano",
        tier_ok_probs={"nano": nano, "mini": mini, "full": full},
        model_version="test-2",
        bundle_hash="def",
        taxonomy_version="1",
        tokens_used=50,
        truncated=False,
    )


CONFIDENT_NANO = pred(0.99, 0.995, 0.999)
NEEDS_FULL = pred(0.2, 0.3, 0.99)


def test_force_mini_overrides_the_model_and_keeps_guard_names() -> None:
    switches = Switches()
    switches.update(force_mini=True, by="oncall")
    text = "card 4111 1111 1111 1111"
    for p in (CONFIDENT_NANO, NEEDS_FULL):
        d = decide(p, "inline_assist", CONTRACTS, TABLE, scan(text), switches)
        assert (d.tier, d.policy, d.reason_code) == ("mini", "force_mini", "force_mini")
        assert d.guards == ("pii.card",) and "force_mini" in d.reason


def test_kill_switch_falls_back_to_rules_with_the_text() -> None:
    switches = Switches()
    switches.update(kill={"inline_assist": True})
    text = "please step by step plan the migration"
    d = decide(
        CONFIDENT_NANO,
        "inline_assist",
        CONTRACTS,
        TABLE,
        scan(text),
        switches,
        text=text,
        rules=RULES,
    )
    assert (d.tier, d.policy, d.reason_code) == ("full", "rules", "kill_switch")
    assert d.reason.startswith("kill_switch:inline_assist -> rules rule:reasoning_keywords")
    # Other features still use the model.
    other = decide(
        CONFIDENT_NANO, "ticket_triage", CONTRACTS, TABLE, scan(text), switches, text=text
    )
    assert other.policy == "learned"


def test_kill_switch_without_text_uses_feature_default_and_guard_floor() -> None:
    switches = Switches()
    switches.update(kill={"*": True})
    d = decide(None, "ticket_triage", CONTRACTS, TABLE, switches=switches)
    assert (d.tier, d.policy) == ("nano", "rules") and "feature_default:ticket_triage" in d.reason
    guarded = decide(None, "ticket_triage", CONTRACTS, TABLE, scan("SSN 123-45-6789"), switches)
    assert guarded.tier == "mini" and "raised to mini" in guarded.reason


def test_tier_cap_lowers_the_tier_last_and_says_so() -> None:
    switches = Switches()
    switches.update(caps={"code_assist": "mini"})
    d = decide(NEEDS_FULL, "code_assist", CONTRACTS, TABLE, switches=switches)
    assert (d.tier, d.reason_code) == ("mini", "tier_cap")
    assert "tier_cap: full -> mini (switch)" in d.reason
    assert decide(CONFIDENT_NANO, "code_assist", CONTRACTS, TABLE, switches=switches).tier == "nano"
    assert decide(NEEDS_FULL, "doc_summary", CONTRACTS, TABLE, switches=switches).tier == "full"
    switches.update(caps={"code_assist": None})
    assert decide(NEEDS_FULL, "code_assist", CONTRACTS, TABLE, switches=switches).tier == "full"


def test_cap_below_risk_floor_is_flagged() -> None:
    switches = Switches()
    switches.update(caps={"code_assist": "nano"})
    d = decide(CONFIDENT_NANO, "code_assist", CONTRACTS, TABLE, scan("a@b.io"), switches)
    assert d.tier == "nano" and "(below risk floor)" in d.reason


def test_switch_state_can_be_passed_directly() -> None:
    state = SwitchState(force_mini=True)
    assert decide(CONFIDENT_NANO, "code_assist", CONTRACTS, TABLE, switches=state).tier == "mini"


def test_updates_validate_before_changing_anything() -> None:
    switches = Switches()
    switches.update(kill={"doc_summary": True})
    before = switches.state
    with pytest.raises(InputError, match="use one of"):
        switches.update(kill={"support_chat": True}, caps={"doc_summary": "ultra"})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="true or false"):
        switches.update(kill={"support_chat": "yes"})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="non-empty"):
        switches.update(kill={"": True})
    assert switches.state is before


def test_snapshot_and_from_dict_round_trip() -> None:
    switches = Switches.from_dict(
        {"force_mini": False, "killed": ["b", "a"], "caps": {"a": "mini"}}
    )
    snap = switches.snapshot()
    assert snap["killed"] == ["a", "b"] and snap["caps"] == {"a": "mini"} and snap["version"] == 1
    switches.reset(by="admin")
    assert switches.snapshot()["killed"] == [] and switches.state.version == 2
    with pytest.raises(InputError, match="unknown switch keys"):
        Switches.from_dict({"force_mini": True, "kill": ["a"]})


def test_concurrent_updates_lose_nothing() -> None:
    switches = Switches()
    names = [f"f{i}" for i in range(8)]

    def worker(name: str) -> None:
        for _ in range(50):
            switches.update(kill={name: True})
            switches.update(caps={name: "mini"})

    threads = [threading.Thread(target=worker, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = switches.state
    assert state.version == len(names) * 100
    assert state.killed == frozenset(names)
    assert dict(state.caps) == {name: "mini" for name in names}


class CountingClassifier:
    def __init__(self, prediction: Prediction) -> None:
        self.prediction = prediction
        self.calls = 0
        self.batch_calls = 0

    def classify(self, text: str, feature: str | None = None) -> Prediction:
        self.calls += 1
        return self.prediction

    def classify_batch(
        self, texts: list[str], features: list[str | None] | None = None
    ) -> list[Prediction]:
        self.batch_calls += 1
        return [self.prediction for _ in texts]


def test_learned_policy_routes_and_kill_switch_skips_the_model() -> None:
    model = CountingClassifier(CONFIDENT_NANO)
    policy = LearnedPolicy(CONTRACTS, TABLE, classifier=model)
    d = policy.route("Translate to French: good morning", "inline_assist")
    assert (d.tier, d.policy, model.calls) == ("nano", "learned", 1)
    assert d.prediction is CONFIDENT_NANO
    policy.switches.update(kill={"inline_assist": True})
    d = policy.route("Translate to French: good morning", "inline_assist")
    assert d.policy == "rules" and d.prediction is None and model.calls == 1
    policy.switches.update(kill={"inline_assist": False}, force_mini=True)
    assert policy.route("hello", "inline_assist").tier == "mini" and model.calls == 1


def test_learned_policy_batch_uses_one_model_call() -> None:
    model = CountingClassifier(CONFIDENT_NANO)
    policy = LearnedPolicy(CONTRACTS, TABLE, classifier=model)
    texts = ["a", "reach me at x@y.io", "c"]
    out = policy.route_batch(texts, ["doc_summary", "doc_summary", None])
    assert model.batch_calls == 1 and model.calls == 0
    assert [d.tier for d in out] == ["nano", "mini", "nano"]
    with pytest.raises(ValueError, match="one per text"):
        policy.route_batch(texts, ["doc_summary"])


def test_every_policy_satisfies_the_protocol() -> None:
    fixed = FixedTierPolicy("full", CONTRACTS, TABLE)
    learned = LearnedPolicy(CONTRACTS, TABLE, classifier=CountingClassifier(CONFIDENT_NANO))
    for policy in (fixed, learned, RulesPolicy(RULES, CONTRACTS, TABLE)):
        assert isinstance(policy, Policy)
        assert policy.route("some text", "doc_summary").reason
    assert fixed.route("x").model == TABLE.model("full") and fixed.name == "always_full"
    with pytest.raises(ValueError):
        FixedTierPolicy("huge")  # type: ignore[arg-type]
