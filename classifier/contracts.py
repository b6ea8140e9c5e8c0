"""Per-feature contracts and the tier routing table (DESIGN section 6), validated on load.

A contract says what a feature needs (quality bar, latency budget, risk floor, what a failure
costs); the routing table says what each tier costs and which model serves it, so that a new model
generation is a table update and nothing else. Both are validated once, at load time; the hot path
(`classifier.decision.decide`) only reads plain attributes and precomputed numbers.

Unknown features: `Contracts.get(name)` returns the file's `default` contract (or a built-in one
when the file has none), and `is_known(name)` lets the decision say so in its reason.

Example:
    contracts = load_contracts()              # classifier/defaults/contracts.yaml
    table = load_routing_table()              # classifier/defaults/routing_table.yaml
    contracts.get("doc_summary").quality_bar  # 0.85
    table.model("mini")                       # "acme-mini-2026-08"
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from classifier.configio import (
    format_validation_error,
    load_yaml_model,
    read_yaml_mapping,
    validate_yaml_mapping,
)
from classifier.contract_files import (
    BUILTIN_DEFAULT_CONTRACT,
    P95_FACTOR,
    AbstainConfig,
    ContractsFile,
    DecisionConfig,
    Economics,
    EndpointSpec,
    Fallback,
    FeatureContract,
    RoutingTableFile,
    Surface,
    TierSpec,
)
from classifier.errors import ConfigError
from classifier.residency import ResidencyConfig
from classifier.taxonomy import (
    DEFAULT_TAXONOMY,
    Taxonomy,
    TaxonomyFile,
    load_taxonomy,
)

DEFAULTS_DIR = Path(__file__).parent / "defaults"
DEFAULT_CONTRACTS_PATH = DEFAULTS_DIR / "contracts.yaml"
DEFAULT_ROUTING_TABLE_PATH = DEFAULTS_DIR / "routing_table.yaml"

# The file models live in classifier.contract_files; they are re-exported here because callers
# (the decision, replay, tests) know them as part of "the contracts".
__all__ = [
    "BUILTIN_DEFAULT_CONTRACT",
    "DEFAULT_CONTRACTS_PATH",
    "DEFAULT_ROUTING_TABLE_PATH",
    "P95_FACTOR",
    "AbstainConfig",
    "Contracts",
    "ContractsFile",
    "DecisionConfig",
    "Economics",
    "EndpointSpec",
    "Fallback",
    "FeatureContract",
    "RoutingTable",
    "RoutingTableFile",
    "Surface",
    "TierSpec",
    "load_contracts",
    "load_routing_table",
]


class Contracts:
    """Validated contracts; immutable after load, so safe to share across threads."""

    __slots__ = (
        "decision",
        "default",
        "features",
        "residency",
        "source",
        "taxonomy",
        "surfaces",
        "_plans",
    )

    def __init__(
        self,
        parsed: ContractsFile,
        source: str = "<memory>",
        taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    ) -> None:
        self.taxonomy = taxonomy
        self.decision: DecisionConfig = parsed.decision
        self.default: FeatureContract = parsed.default
        self.features: Mapping[str, FeatureContract] = MappingProxyType(dict(parsed.features))
        self.residency: ResidencyConfig = parsed.residency
        self.surfaces: Mapping[str, Surface] = MappingProxyType(dict(parsed.surfaces))
        self.source = source
        # Per-(routing table, feature) numbers precomputed by classifier.decision; keyed by the
        # table object itself (identity), which the cache keeps alive, so ids are never reused.
        self._plans: dict[Any, Any] = {}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "<memory>") -> Contracts:
        """Validate a mapping; a `taxonomy` path in it is relative to the working directory."""
        base = Path(source).parent if source != "<memory>" else Path()
        taxonomy = _taxonomy_of(raw, base, source)
        try:
            parsed = ContractsFile.model_validate(raw, context={"taxonomy": taxonomy})
        except ValidationError as exc:
            raise ConfigError(format_validation_error(Path(source), exc)) from exc
        return cls(parsed, source, taxonomy)

    def with_abstain(
        self, *, min_intent_prob: float | None = None, ok_margin: float | None = None
    ) -> Contracts:
        """A copy with other abstention margins (e.g. from service settings); validated."""
        current = self.decision.abstain
        raw = {
            "min_intent_prob": current.min_intent_prob
            if min_intent_prob is None
            else min_intent_prob,
            "ok_margin": current.ok_margin if ok_margin is None else ok_margin,
        }
        try:
            abstain = AbstainConfig.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(Path("abstain"), exc)) from exc
        parsed = ContractsFile.model_construct(
            decision=self.decision.model_copy(update={"abstain": abstain}),
            default=self.default,
            features=dict(self.features),
            residency=self.residency,
            surfaces=dict(self.surfaces),
        )
        return Contracts(parsed, self.source, self.taxonomy)

    def with_residency(self, override: Mapping[str, Any] | None, source: str) -> Contracts:
        """A copy with the residency of `override` ({regions, guards, features: {name:
        regions}}; None: as loaded), validated like the file: errors name `source` and the key."""
        if override is None:
            return self
        features = {name: c.model_dump() for name, c in self.features.items()}
        for name, regions in (override.get("features") or {}).items():
            if name not in features:
                raise ConfigError(
                    f"{source}: features.{name}: no contract for this feature; known: "
                    f"{sorted(features)}"
                )
            features[name]["regions"] = regions
        raw = {
            "surfaces": {k: v.model_dump() for k, v in self.surfaces.items()},
            "decision": self.decision.model_dump(),
            "default": self.default.model_dump(),
            "features": features,
            "residency": {k: v for k, v in override.items() if k in ("regions", "guards")},
        }
        try:  # against this contracts' taxonomy: the raw mapping no longer names it
            parsed = ContractsFile.model_validate(raw, context={"taxonomy": self.taxonomy})
        except ValidationError as exc:
            raise ConfigError(format_validation_error(Path(source), exc)) from exc
        return Contracts(parsed, source, self.taxonomy)

    def get(self, feature: str | None) -> FeatureContract:
        """The feature's contract, or the default contract for an unknown or missing feature."""
        if feature is None:
            return self.default
        return self.features.get(feature, self.default)

    def is_known(self, feature: str | None) -> bool:
        return feature is not None and feature in self.features

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.features)

    def __repr__(self) -> str:
        return f"Contracts({len(self.features)} features from {self.source})"


class RoutingTable:
    """Tier -> model, price and typical latency; immutable after load."""

    __slots__ = ("version", "tiers", "source", "tier_models", "regions", "taxonomy")

    def __init__(
        self,
        parsed: RoutingTableFile,
        source: str = "<memory>",
        taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    ) -> None:
        self.version = parsed.version
        self.taxonomy = taxonomy
        self.tiers: Mapping[str, TierSpec] = MappingProxyType(
            {t: parsed.tiers[t] for t in taxonomy.tiers}
        )
        self.tier_models: Mapping[str, str] = MappingProxyType(
            {tier: spec.model for tier, spec in self.tiers.items()}
        )
        self.source = source
        named = {e.region for s in self.tiers.values() for e in (s, *s.alternatives) if e.region}
        # The regions contracts may name: the declared list, else those endpoints run in.
        self.regions: frozenset[str] = frozenset(parsed.regions or named)

    @classmethod
    def from_dict(
        cls,
        raw: Mapping[str, Any],
        source: str = "<memory>",
        taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    ) -> RoutingTable:
        try:
            parsed = RoutingTableFile.model_validate(raw, context={"taxonomy": taxonomy})
        except ValidationError as exc:
            raise ConfigError(format_validation_error(Path(source), exc)) from exc
        return cls(parsed, source, taxonomy)

    def model(self, tier: str) -> str:
        return self.tiers[tier].model

    def price_usd(self, tier: str, input_tokens: int, output_tokens: int) -> float:
        """What one call to `tier` costs at the table's list prices."""
        spec = self.tiers[tier]
        return (input_tokens * spec.input_per_mtok + output_tokens * spec.output_per_mtok) / 1e6

    def latency_ms(self, tier: str) -> float:
        return self.tiers[tier].p50_latency_ms

    def __repr__(self) -> str:
        return f"RoutingTable(version={self.version!r} from {self.source})"


def _taxonomy_of(raw: Mapping[str, Any], base: Path, source: str = "<memory>") -> Taxonomy:
    """The contracts' taxonomy: a path (relative to `base`), inline lists, or the default."""
    value = raw.get("taxonomy")
    if value is None:
        return DEFAULT_TAXONOMY
    if isinstance(value, str):
        return load_taxonomy(base / value)
    if isinstance(value, Mapping):
        try:
            return Taxonomy.from_file(TaxonomyFile.model_validate(dict(value)))
        except ValidationError as exc:
            raise ConfigError(format_validation_error(Path(source), exc, ("taxonomy",))) from exc
    raise ConfigError(
        f"{source}: taxonomy: must be a path to a taxonomy YAML file or a mapping with "
        "version, intents, risks and tiers"
    )


def load_contracts(path: Path | str | None = None) -> Contracts:
    """Load and validate contracts (default: the packaged classifier/defaults/contracts.yaml).

    A `taxonomy:` key names the label sets (a file relative to the contracts, or inline); every
    intent, risk and tier below is checked against it.
    """
    path = Path(path) if path is not None else DEFAULT_CONTRACTS_PATH
    raw = read_yaml_mapping(path, what="contracts")
    taxonomy = _taxonomy_of(raw, path.parent, str(path))
    parsed = validate_yaml_mapping(
        path, raw, ContractsFile, what="contracts", context={"taxonomy": taxonomy}
    )
    return Contracts(parsed, str(path), taxonomy)


def load_routing_table(
    path: Path | str | None = None, taxonomy: Taxonomy = DEFAULT_TAXONOMY
) -> RoutingTable:
    """Load and validate the routing table (default: classifier/defaults/routing_table.yaml).

    It must price every tier of `taxonomy` (the contracts' one: `contracts.taxonomy`) and no other.
    """
    path = Path(path) if path is not None else DEFAULT_ROUTING_TABLE_PATH
    parsed = load_yaml_model(
        path, RoutingTableFile, what="routing table", context={"taxonomy": taxonomy}
    )
    return RoutingTable(parsed, str(path), taxonomy)
