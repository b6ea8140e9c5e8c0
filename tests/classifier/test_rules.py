"""The rule router: ordering, word matching, defaults, validation, and its RouteDecision."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from classifier.contracts import load_routing_table
from classifier.errors import ConfigError
from classifier.rules import DEFAULT_RULES_PATH, RuleRouter

MODELS = {"nano": "n-model", "mini": "m-model", "full": "f-model"}


@pytest.fixture(scope="module")
def router() -> RuleRouter:
    return RuleRouter.from_yaml(DEFAULT_RULES_PATH, MODELS)


def test_default_constructor_uses_packaged_files() -> None:
    router = RuleRouter.default()
    assert router.tier_models == dict(load_routing_table().tier_models)
    assert router.choose("Fix grammar: teh cat sat", "inline_assist") == (
        "nano",
        "rule:short_simple",
    )


@pytest.mark.parametrize(
    ("text", "feature", "expected"),
    [
        ("Is this clause GDPR compliant?", "support_chat", ("full", "rule:regulated_keywords")),
        ("x" * 12_500, "doc_summary", ("full", "rule:long_input")),
        ("Give me a plan for the launch", "support_chat", ("full", "rule:reasoning_keywords")),
        ("Why does this Python function crash?", "support_chat", ("mini", "rule:code_keywords")),
        ("y" * 3000, "inline_assist", ("mini", "rule:medium_input")),
        ("Translate 'hello' into German", "support_chat", ("nano", "rule:short_simple")),
        ("hello there", "support_chat", ("mini", "feature_default:support_chat")),
        ("hello there", "policy_review", ("full", "feature_default:policy_review")),
        ("hello there", "never_heard_of_it", ("mini", "unknown_feature_default")),
        ("hello there", None, ("mini", "unknown_feature_default")),
    ],
)
def test_choose(
    router: RuleRouter, text: str, feature: str | None, expected: tuple[str, str]
) -> None:
    assert router.choose(text, feature) == expected


def test_first_matching_rule_wins(router: RuleRouter) -> None:
    # Both regulated (full) and code (mini) keywords: the earlier rule decides.
    assert (
        router.choose("SQL query for the tax report", "code_assist")[1] == "rule:regulated_keywords"
    )


def test_keywords_match_whole_words_only(router: RuleRouter) -> None:
    # "syntax" contains "tax", "planet" contains "plan", "debugger" contains "bug".
    assert router.choose("Explain the syntax of the planet debugger", "support_chat") == (
        "mini",
        "feature_default:support_chat",
    )


def test_substring_rules_still_possible() -> None:
    raw = {
        "feature_defaults": {},
        "rules": [{"name": "any_tax", "tier": "full", "keywords": ["TAX"], "match": "substring"}],
    }
    router = RuleRouter.from_dict(raw, MODELS)
    assert router.choose("fix the syntax", None) == ("full", "rule:any_tax")


def test_feature_scoped_rule() -> None:
    raw = {
        "feature_defaults": {"a": "nano"},
        "rules": [{"name": "b_long", "tier": "full", "features": ["b"], "min_chars": 5}],
    }
    router = RuleRouter.from_dict(raw, MODELS)
    assert router.choose("long text", "b") == ("full", "rule:b_long")
    assert router.choose("long text", "a") == ("nano", "feature_default:a")


def test_route_returns_a_full_decision(router: RuleRouter) -> None:
    d = router.route("Translate 'hello' into German", "inline_assist")
    assert (d.tier, d.model, d.policy, d.reason_code) == ("nano", "n-model", "rules", "rule")
    assert d.reason == "rule:short_simple" and d.feature == "inline_assist" and d.propensity == 1.0
    assert router.route("hi", "x").reason_code == "unknown_feature"
    assert router.name == "rules"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"name": "all", "tier": "full"}], "rules[0]: rule 'all' has no condition"),
        ([{"name": "r", "tier": "huge", "keywords": ["a"]}], "rules[0].tier: must be one of"),
        (
            [{"name": "r", "tier": "mini", "min_chars": 10, "max_chars": 5}],
            "min_chars 10 > max_chars 5",
        ),
        (
            [
                {"name": "r", "tier": "mini", "keywords": ["a"]},
                {"name": "r", "tier": "full", "max_chars": 1},
            ],
            "repeated: ['r']",
        ),
        ([{"name": "r", "tier": "mini", "keywords": ["  "]}], "keywords must not be empty"),
        ([{"name": "r", "tier": "mini", "keyword": ["a"]}], "rules[0].keyword: is not a known key"),
    ],
)
def test_invalid_rules_name_file_and_key(tmp_path: Path, rules: list[dict], message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"feature_defaults": {}, "rules": rules}), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        RuleRouter.from_yaml(path, MODELS)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        RuleRouter.from_yaml(tmp_path / "nope.yaml", MODELS)
