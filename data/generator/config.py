"""The simulator's view of the defaults: features and shares, tier prices, the rule router.

Feature names and traffic shares come from classifier/defaults/contracts.yaml and prices from
routing_table.yaml, so a changed contract or a new model generation changes the simulation too.
The intent mix per feature is the simulator's own knowledge of real traffic: a support chat is
mostly chat, but people also paste policies into it and ask for plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from classifier.errors import ConfigError
from classifier.rules import DEFAULT_RULES_PATH, RuleRouter
from classifier.taxonomy import INTENTS, RISKS, TIERS

DEFAULTS_DIR = DEFAULT_RULES_PATH.parent

INTENT_MIX: dict[str, dict[str, float]] = {
    "inline_assist": {
        "transform": 0.68,
        "summarize": 0.08,
        "chat": 0.07,
        "classify": 0.05,
        "generate_code": 0.05,
        "plan": 0.04,
        "review_policy": 0.03,
    },
    "support_chat": {
        "chat": 0.6,
        "plan": 0.1,
        "review_policy": 0.1,
        "summarize": 0.07,
        "transform": 0.06,
        "classify": 0.04,
        "generate_code": 0.03,
    },
    "doc_summary": {
        "summarize": 0.8,
        "transform": 0.06,
        "classify": 0.04,
        "review_policy": 0.04,
        "plan": 0.03,
        "chat": 0.03,
    },
    "code_assist": {
        "generate_code": 0.8,
        "plan": 0.06,
        "summarize": 0.05,
        "transform": 0.04,
        "chat": 0.04,
        "classify": 0.01,
    },
    "data_extraction": {
        "transform": 0.8,
        "classify": 0.1,
        "summarize": 0.05,
        "review_policy": 0.03,
        "generate_code": 0.02,
    },
    "ticket_triage": {
        "classify": 0.84,
        "summarize": 0.06,
        "transform": 0.04,
        "plan": 0.03,
        "review_policy": 0.03,
    },
    "policy_review": {
        "review_policy": 0.8,
        "summarize": 0.08,
        "plan": 0.05,
        "transform": 0.04,
        "classify": 0.03,
    },
}
DOMAIN_MIX: dict[str, dict[str, float]] = {
    "inline_assist": {
        "support": 2,
        "marketing": 2,
        "hr": 1.5,
        "general": 2,
        "education": 1,
        "finance": 1,
        "legal": 0.7,
        "health": 0.7,
        "travel": 0.8,
        "ecommerce": 1,
        "data": 0.6,
        "ops": 0.6,
        "code": 0.5,
        "insurance": 0.4,
    },
    "support_chat": {
        "support": 3,
        "ecommerce": 2,
        "travel": 1.5,
        "finance": 1.2,
        "health": 1.2,
        "insurance": 1,
        "general": 1,
        "education": 0.5,
        "legal": 0.4,
        "hr": 0.3,
    },
    "doc_summary": {
        "legal": 1.2,
        "finance": 1.2,
        "health": 1,
        "hr": 1,
        "ops": 1,
        "data": 1,
        "education": 1,
        "support": 1,
        "marketing": 0.8,
        "code": 0.6,
        "travel": 0.5,
        "insurance": 0.6,
        "general": 0.8,
        "ecommerce": 0.5,
    },
    "code_assist": {
        "code": 5,
        "data": 2,
        "ops": 1.5,
        "finance": 0.3,
        "ecommerce": 0.3,
        "health": 0.2,
        "support": 0.2,
        "marketing": 0.2,
        "hr": 0.2,
    },
    "data_extraction": {
        "finance": 2,
        "support": 1.5,
        "ecommerce": 1.5,
        "health": 1,
        "hr": 1,
        "legal": 1,
        "insurance": 1,
        "travel": 1,
        "data": 1,
        "ops": 0.5,
    },
    "ticket_triage": {
        "support": 3,
        "ecommerce": 1.5,
        "ops": 1.2,
        "code": 1,
        "hr": 0.8,
        "insurance": 0.7,
        "travel": 0.7,
        "finance": 0.6,
        "health": 0.6,
    },
    "policy_review": {
        "legal": 3,
        "marketing": 2,
        "hr": 1.5,
        "finance": 1.5,
        "health": 1.2,
        "data": 0.8,
        "insurance": 0.8,
        "ecommerce": 0.4,
        "ops": 0.4,
    },
}
DEFAULT_DOMAINS = {"general": 1.0, "support": 1.0, "data": 1.0, "ops": 1.0}
PROMPT_TOKENS = {
    "inline_assist": 150,
    "support_chat": 600,
    "doc_summary": 250,
    "code_assist": 400,
    "data_extraction": 350,
    "ticket_triage": 300,
    "policy_review": 900,
}
# Features whose answers must parse (a JSON schema, a label from a list): schema failures
# cluster here.
STRUCTURED_FEATURES = ("data_extraction", "inline_assist", "ticket_triage")


@dataclass(frozen=True)
class TierPrice:
    model: str
    input_per_mtok: float
    output_per_mtok: float
    p50_latency_ms: float


@dataclass(frozen=True)
class Feature:
    name: str
    share: float
    contract_intent: str
    risk_floor: str
    intent_mix: dict[str, float]
    domain_mix: dict[str, float]


@dataclass(frozen=True)
class SimConfig:
    features: tuple[Feature, ...]
    tiers: dict[str, TierPrice]
    router: RuleRouter
    rules_version: str


def _yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; pass an existing, valid YAML file") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at top level")
    return data


def load_config(
    contracts: Path | None = None, routing_table: Path | None = None, rules: Path | None = None
) -> SimConfig:
    """Read the three default files (or the given ones) into the simulator's configuration."""
    contracts = contracts or DEFAULTS_DIR / "contracts.yaml"
    routing_table = routing_table or DEFAULTS_DIR / "routing_table.yaml"
    table = _yaml(routing_table)
    try:
        tiers = {
            t: TierPrice(**{k: table["tiers"][t][k] for k in TierPrice.__dataclass_fields__})
            for t in TIERS
        }
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"{routing_table} lacks tier field {exc}; every tier needs model, prices, "
            "p50_latency_ms"
        ) from exc
    features = []
    for name, spec in (_yaml(contracts).get("features") or {}).items():
        intent = spec.get("intent", "chat")
        mix = INTENT_MIX.get(name) or {i: (0.8 if i == intent else 0.2 / 6) for i in INTENTS}
        risk = spec.get("risk_profile", "low")
        if intent not in INTENTS or risk not in RISKS:
            raise ConfigError(f"{contracts}: feature {name} has unknown intent or risk_profile")
        features.append(
            Feature(
                name,
                float(spec.get("share", 0.0)),
                intent,
                risk,
                mix,
                DOMAIN_MIX.get(name, DEFAULT_DOMAINS),
            )
        )
    if not features or sum(f.share for f in features) <= 0:
        raise ConfigError(f"{contracts} defines no feature with a positive share")
    router = RuleRouter.from_yaml(
        rules or DEFAULT_RULES_PATH, {t: p.model for t, p in tiers.items()}
    )
    return SimConfig(tuple(features), tiers, router, f"rules@{table.get('version', 'unknown')}")
