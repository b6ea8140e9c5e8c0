"""The rule-based router: keyword, length and feature rules from YAML.

It is what a team runs before tierwise, so it is the baseline every learned policy is compared
with, and the fallback when no model is loaded or a feature's kill switch is on. Deliberately
simple and transparent: first matching rule wins, top to bottom; otherwise the feature's default
tier; otherwise `unknown_feature_tier`.

Keywords match whole words by default (`tax` does not fire on "syntax", `plan` not on "planet");
a rule may set `match: substring` to match anywhere.

Example:
    router = RuleRouter.default()
    router.choose("Fix grammar: teh cat", "inline_assist")  # ("nano", "rule:short_simple")
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from classifier.configio import format_validation_error, load_yaml_model
from classifier.errors import ConfigError
from classifier.routing import RouteDecision
from classifier.taxonomy import TIERS, Tier
from classifier.words import words_of

DEFAULT_RULES_PATH = Path(__file__).parent / "defaults" / "rules.yaml"
_WORD = re.compile(r"\w+")


def _known_tier(tier: str, info: ValidationInfo) -> str:
    """A tier the routing table prices (validation context `tiers`: the taxonomy's)."""
    tiers = (info.context or {}).get("tiers") or TIERS
    if tier not in tiers:
        raise ValueError(
            f"must be one of {list(tiers)} (the routing table's tiers; rules for another "
            "taxonomy need their own file, TIERWISE_RULES_PATH)"
        )
    return tier


class Rule(BaseModel):
    """Matches when every condition it names holds (keywords: any one of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    tier: str = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    match: Literal["word", "substring"] = "word"
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=0)
    features: tuple[str, ...] = ()

    @field_validator("tier")
    @classmethod
    def _known(cls, tier: str, info: ValidationInfo) -> str:
        return _known_tier(tier, info)

    @field_validator("keywords")
    @classmethod
    def _lower_keywords(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(keyword.strip().lower() for keyword in keywords)
        if any(not keyword for keyword in cleaned):
            raise ValueError("keywords must not be empty strings")
        return cleaned

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        if not (
            self.keywords
            or self.features
            or self.min_chars is not None
            or self.max_chars is not None
        ):
            raise ValueError(
                f"rule {self.name!r} has no condition and would match everything; "
                "give it keywords, features, min_chars or max_chars (or use feature_defaults)"
            )
        if (
            self.min_chars is not None
            and self.max_chars is not None
            and self.min_chars > self.max_chars
        ):
            raise ValueError(
                f"rule {self.name!r}: min_chars {self.min_chars} > max_chars {self.max_chars}"
            )
        return self

    def compile(self) -> CompiledRule:
        """The matcher used per request (plain attributes: pydantic access is slow here)."""
        if self.match == "substring":
            single: frozenset[str] = frozenset()
            phrases: tuple[tuple[str, re.Pattern[str] | None], ...] = tuple(
                (k, None) for k in self.keywords
            )
        else:
            # Single words are a set lookup against the text's words; only phrases
            # ("step by step", "trade-off") need a regex, and only after a cheap `in` check.
            single = frozenset(k for k in self.keywords if _WORD.fullmatch(k))
            phrases = tuple(
                (k, re.compile(rf"(?<!\w){re.escape(k)}(?!\w)"))
                for k in self.keywords
                if k not in single
            )
        return CompiledRule(
            tier=self.tier,
            reason=f"rule:{self.name}",
            features=frozenset(self.features),
            min_chars=self.min_chars,
            max_chars=self.max_chars,
            has_keywords=bool(self.keywords),
            words=single,
            phrases=phrases,
        )

    def matches(self, lowered_text: str, feature: str | None) -> bool:
        """Convenience for one-off checks; the router uses precompiled rules."""
        return self.compile().matches(lowered_text, feature, None)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    tier: str
    reason: str
    features: frozenset[str]
    min_chars: int | None
    max_chars: int | None
    has_keywords: bool
    words: frozenset[str]
    phrases: tuple[tuple[str, re.Pattern[str] | None], ...]

    def shape_ok(self, length: int, feature: str | None) -> bool:
        """The feature and length conditions (cheap; checked before any keyword)."""
        if self.features and feature not in self.features:
            return False
        if self.min_chars is not None and length < self.min_chars:
            return False
        return self.max_chars is None or length <= self.max_chars

    def keywords_ok(self, lowered_text: str, words: frozenset[str] | None) -> bool:
        if not self.has_keywords:
            return True
        if self.words:
            if words is None:
                words = text_words(lowered_text)
            if not self.words.isdisjoint(words):
                return True
        for phrase, pattern in self.phrases:
            if phrase in lowered_text and (pattern is None or pattern.search(lowered_text)):
                return True
        return False

    def matches(self, lowered_text: str, feature: str | None, words: frozenset[str] | None) -> bool:
        return self.shape_ok(len(lowered_text), feature) and self.keywords_ok(lowered_text, words)


def text_words(lowered_text: str) -> frozenset[str]:
    """The distinct word tokens of a text, as whole-word keyword matching sees them."""
    return words_of(lowered_text)


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feature_defaults: dict[str, str]
    unknown_feature_tier: str = "mini"
    rules: tuple[Rule, ...] = ()

    @field_validator("unknown_feature_tier")
    @classmethod
    def _known_default(cls, tier: str, info: ValidationInfo) -> str:
        return _known_tier(tier, info)

    @field_validator("feature_defaults")
    @classmethod
    def _known_defaults(cls, tiers: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for tier in tiers.values():
            _known_tier(tier, info)
        return tiers

    @model_validator(mode="after")
    def _unique_names(self) -> RulesConfig:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(
                f"rule names must be unique (they are the reason); repeated: {duplicates}"
            )
        return self


class RuleRouter:
    """First matching rule wins, top to bottom; otherwise the feature's default tier."""

    policy_name = "rules"

    def __init__(self, config: RulesConfig, tier_models: Mapping[str, str]) -> None:
        self.config = config
        self.tier_models = dict(tier_models)
        self._compiled = tuple(rule.compile() for rule in config.rules)

    @property
    def name(self) -> str:
        return self.policy_name

    @classmethod
    def from_yaml(cls, path: Path | str, tier_models: Mapping[str, str]) -> RuleRouter:
        context = {"tiers": tuple(tier_models)}
        return cls(load_yaml_model(path, RulesConfig, what="rules", context=context), tier_models)

    @classmethod
    def from_dict(
        cls, raw: Mapping[str, Any], tier_models: Mapping[str, str], source: str = "<memory>"
    ) -> RuleRouter:
        try:
            return cls(RulesConfig.model_validate(raw, context={"tiers": tuple(tier_models)}),
                       tier_models)  # fmt: skip
        except ValidationError as exc:
            raise ConfigError(format_validation_error(Path(source), exc)) from exc

    @classmethod
    def default(cls, tier_models: Mapping[str, str] | None = None) -> RuleRouter:
        """The packaged rules, with models from the packaged routing table unless given."""
        if tier_models is None:
            from classifier.contracts import load_routing_table

            tier_models = load_routing_table().tier_models
        return cls.from_yaml(DEFAULT_RULES_PATH, tier_models)

    def feature_default(self, feature: str | None) -> tuple[Tier, str]:
        """The tier a feature gets when no rule matches (no text needed)."""
        if feature is not None and feature in self.config.feature_defaults:
            return self.config.feature_defaults[feature], f"feature_default:{feature}"
        return self.config.unknown_feature_tier, "unknown_feature_default"

    def choose(self, text: str, feature: str | None) -> tuple[Tier, str]:
        """Return (tier, reason) without building a decision object."""
        lowered = text.lower()
        length = len(lowered)
        words: frozenset[str] | None = None
        for rule in self._compiled:
            if not rule.shape_ok(length, feature):
                continue
            if rule.words and words is None:
                words = text_words(lowered)  # once per text, shared by every rule
            if rule.keywords_ok(lowered, words):
                return rule.tier, rule.reason
        return self.feature_default(feature)

    def route(self, text: str, feature: str | None = None) -> RouteDecision:
        tier, reason = self.choose(text, feature)
        return RouteDecision(
            tier=tier,
            model=self.tier_models.get(tier, tier),
            reason=reason,
            policy=self.policy_name,
            feature=feature,
            reason_code=reason_code_of(reason),
            propensity=1.0,
        )


def reason_code_of(rule_reason: str) -> str:
    """`rule:x` -> `rule`; `feature_default:x` -> `feature_default`; else `unknown_feature`."""
    if rule_reason.startswith("rule:"):
        return "rule"
    if rule_reason.startswith("feature_default:"):
        return "feature_default"
    return "unknown_feature"
