"""The rule-based router: keyword, length and feature rules from YAML.

It is what a team runs before tierwise, so it is the baseline every learned policy is compared
with, and the fallback when no model is loaded. Deliberately simple and transparent.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifier.errors import ConfigError
from classifier.routing import RouteDecision
from classifier.taxonomy import Tier

DEFAULT_RULES_PATH = Path(__file__).parent / "defaults" / "rules.yaml"


class Rule(BaseModel):
    """Matches when every condition it names holds (keywords: any one of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    tier: Tier
    keywords: tuple[str, ...] = ()
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=0)
    features: tuple[str, ...] = ()

    def matches(self, lowered_text: str, feature: str | None) -> bool:
        if self.features and feature not in self.features:
            return False
        length = len(lowered_text)
        if self.min_chars is not None and length < self.min_chars:
            return False
        if self.max_chars is not None and length > self.max_chars:
            return False
        if self.keywords and not any(keyword in lowered_text for keyword in self.keywords):
            return False
        return True


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feature_defaults: dict[str, Tier]
    unknown_feature_tier: Tier = "mini"
    rules: tuple[Rule, ...] = ()


class RuleRouter:
    """First matching rule wins, top to bottom; otherwise the feature's default tier."""

    policy_name = "rules"

    def __init__(self, config: RulesConfig, tier_models: dict[str, str]) -> None:
        self.config = config
        self.tier_models = tier_models

    @classmethod
    def from_yaml(cls, path: Path | str, tier_models: dict[str, str]) -> RuleRouter:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(RulesConfig.model_validate(raw), tier_models)
        except FileNotFoundError as exc:
            raise ConfigError(f"rules file {path} does not exist; pass an existing YAML file") from exc
        except (yaml.YAMLError, ValidationError) as exc:
            raise ConfigError(f"rules file {path} is invalid: {exc}") from exc

    def choose(self, text: str, feature: str | None) -> tuple[Tier, str]:
        """Return (tier, reason) without building a decision object."""
        lowered = text.lower()
        for rule in self.config.rules:
            if rule.matches(lowered, feature):
                return rule.tier, f"rule:{rule.name}"
        if feature in self.config.feature_defaults:
            return self.config.feature_defaults[feature], f"feature_default:{feature}"
        return self.config.unknown_feature_tier, "unknown_feature_default"

    def route(self, text: str, feature: str | None = None) -> RouteDecision:
        tier, reason = self.choose(text, feature)
        return RouteDecision(
            tier=tier,
            model=self.tier_models.get(tier, tier),
            reason=reason,
            policy=self.policy_name,
            feature=feature,
        )
