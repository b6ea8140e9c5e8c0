"""The contracts and routing table as files: pydantic models that validate every key on load.

`classifier.contracts` turns these into the loaded `Contracts` and `RoutingTable` the decision
reads; this module only says what a valid file is, so that an error names the file and the key
(`classifier.configio`) and no default hides a typo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from classifier.residency import NO_RESIDENCY, Region, ResidencyConfig
from classifier.taxonomy import DEFAULT_TAXONOMY, TaxonomyFile, check_label, taxonomy_in

Fallback = Literal["retry", "escalate", "fail_closed"]
# An endpoint without a measured p95_latency_ms is assumed to have p95 = p50 x this factor: hosted
# LLM APIs' tail runs at about 2-3x their median (longer answers, queueing); 2.5 is the middle.
P95_FACTOR = 2.5
FeatureName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")]


class _Strict(BaseModel):
    # Unknown keys are refused: a misspelt `quality_bar` must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Economics(_Strict):
    """What going wrong costs this feature, in USD."""

    failure_usd: float = Field(ge=0.0, description="one user-visible failure")
    review_usd: float = Field(default=0.0, ge=0.0, description="one human review (fail_closed)")
    incident_usd: float = Field(
        default=0.0,
        ge=0.0,
        description="expected rollback/incident handling per failure (any fallback)",
    )
    delay_usd_per_s: float = Field(
        default=0.0, ge=0.0, description="one second over the p50 budget, or of recovery wait"
    )


# What the playbook's product surfaces tolerate (docs/decisions.md); a contracts file may
# override or add surfaces in its own `surfaces:` block.
SurfaceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")]


class Surface(_Strict):
    """Latency budgets of one product surface: p50 is priced (delay_usd_per_s for the excess),
    p95 excludes a tier whose endpoint's p95 exceeds it (a tail users abandon)."""

    p50_ms: float = Field(gt=0.0)
    p95_ms: float = Field(gt=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> Surface:
        if self.p95_ms < self.p50_ms:
            raise ValueError(f"p95_ms ({self.p95_ms:g}) must be >= p50_ms ({self.p50_ms:g})")
        return self


DEFAULT_SURFACES: dict[str, Surface] = {
    "chat": Surface(p50_ms=4000, p95_ms=10000),
    "inline_assist": Surface(p50_ms=1200, p95_ms=3000),
    "api_sync": Surface(p50_ms=8000, p95_ms=20000),
}


class FeatureContract(_Strict):
    """What one product feature needs from a tier."""

    intent: str | None = None
    share: float | None = Field(
        default=None, ge=0.0, le=1.0, description="traffic share (generator)"
    )
    quality_bar: float = Field(gt=0.0, le=1.0, description="minimum P(ok) a tier must reach")
    surface: SurfaceName | None = Field(default=None, description="a key of `surfaces`")
    # The p50 budget: the surface's p50_ms, or as written (contract files without surfaces).
    latency_budget_ms: float | None = Field(default=None, gt=0.0, validate_default=True)
    p95_budget_ms: float | None = Field(default=None, gt=0.0, description="from the surface")
    risk_profile: str = Field(default="low", description="lowest risk level of the taxonomy")
    fallback: Fallback = "escalate"
    economics: Economics
    typical_input_tokens: int = Field(default=400, ge=1, description="when the text is unknown")
    typical_output_tokens: int = Field(default=300, ge=1)
    regions: tuple[Region, ...] | None = Field(
        default=None, min_length=1, description="data residency: the only regions allowed"
    )

    @model_validator(mode="before")
    @classmethod
    def _lowest_risk_by_default(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and "risk_profile" not in data:
            data = {**data, "risk_profile": taxonomy_in(info.context).risks[0]}
        return data

    @field_validator("latency_budget_ms")
    @classmethod
    def _a_budget(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None and info.data.get("surface") is None:
            raise ValueError(
                "is required (or give surface: a key of `surfaces`, e.g. chat, inline_assist, "
                "api_sync, whose p50_ms is the budget)"
            )
        return value

    @field_validator("intent")
    @classmethod
    def _known_intent(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_label(taxonomy_in(info.context), "intents", value)

    @field_validator("risk_profile")
    @classmethod
    def _known_risk(cls, value: str, info: ValidationInfo) -> str:
        return check_label(taxonomy_in(info.context), "risks", value)


BUILTIN_DEFAULT_CONTRACT = FeatureContract(
    intent=None,
    quality_bar=0.85,
    latency_budget_ms=5000,
    risk_profile="medium",
    fallback="escalate",
    economics=Economics(failure_usd=0.02, review_usd=0.0, delay_usd_per_s=0.0005),
)


class AbstainConfig(_Strict):
    """When the model is unsure, escalate one tier instead of trusting a thin margin."""

    min_intent_prob: float = Field(default=0.40, ge=0.0, le=1.0)
    ok_margin: float = Field(default=0.02, ge=0.0, le=0.5)


class DecisionConfig(_Strict):
    """Global decision settings: the lowest tier allowed per risk level, abstention margins, and
    whose thresholds decide (`tuned`: the bundle's, from held-out replay, see classifier.tuning;
    `contract`: each contract's quality_bar and failure_usd as written)."""

    risk_min_tier: dict[str, str] = Field(
        default_factory=DEFAULT_TAXONOMY.default_risk_min_tier,
        description="default: the lowest tier, the second tier for the highest risk",
    )
    abstain: AbstainConfig = Field(default_factory=AbstainConfig)
    thresholds: Literal["tuned", "contract"] = "contract"

    @model_validator(mode="before")
    @classmethod
    def _taxonomy_default(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and "risk_min_tier" not in data:
            data = {**data, "risk_min_tier": taxonomy_in(info.context).default_risk_min_tier()}
        return data

    @model_validator(mode="after")
    def _complete_and_monotone(self, info: ValidationInfo) -> DecisionConfig:
        taxonomy = taxonomy_in(info.context)
        for risk, tier in self.risk_min_tier.items():
            check_label(taxonomy, "risks", risk)
            check_label(taxonomy, "tiers", tier)
        missing = [risk for risk in taxonomy.risks if risk not in self.risk_min_tier]
        if missing:
            raise ValueError(f"risk_min_tier needs an entry for every risk; missing {missing}")
        ranks = [taxonomy.tier_rank[self.risk_min_tier[risk]] for risk in taxonomy.risks]
        if ranks != sorted(ranks):
            order = " <= ".join(taxonomy.risks)
            raise ValueError(f"risk_min_tier must not lower the tier as risk rises ({order})")
        return self


class ContractsFile(_Strict):
    """contracts.yaml. `taxonomy` (a path relative to this file, or the lists inline) is read
    before the rest, which is validated against it (classifier.taxonomy)."""

    taxonomy: str | TaxonomyFile | None = None
    surfaces: dict[SurfaceName, Surface] = Field(default_factory=lambda: dict(DEFAULT_SURFACES))
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    default: FeatureContract = BUILTIN_DEFAULT_CONTRACT
    features: dict[FeatureName, FeatureContract] = Field(min_length=1)
    residency: ResidencyConfig = NO_RESIDENCY

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_taxonomy(cls, data: Any, info: ValidationInfo) -> Any:
        taxonomy = taxonomy_in(info.context)
        if not isinstance(data, dict) or taxonomy.is_default:
            return data
        # a custom taxonomy validates the nested defaults against its own labels
        data = dict(data)
        data.setdefault("decision", {})
        if "default" not in data:
            middle = taxonomy.risks[len(taxonomy.risks) // 2]
            risk = "medium" if "medium" in taxonomy.risks else middle
            data["default"] = BUILTIN_DEFAULT_CONTRACT.model_dump() | {"risk_profile": risk}
        return data

    @model_validator(mode="after")
    def _budgets_from_surfaces(self) -> ContractsFile:
        """Fill each contract's p50/p95 budgets from its surface; refuse a contradiction."""
        resolved = {
            name: _with_budgets(contract, f"features.{name}", self.surfaces)
            for name, contract in self.features.items()
        }
        object.__setattr__(self, "features", resolved)  # frozen model: set once, at validation
        object.__setattr__(self, "default", _with_budgets(self.default, "default", self.surfaces))
        return self


def _with_budgets(
    contract: FeatureContract, key: str, surfaces: Mapping[str, Surface]
) -> FeatureContract:
    """`contract` with latency_budget_ms (p50) and p95_budget_ms taken from its surface."""
    if contract.surface is None:  # an old-style contract: latency_budget_ms (validated) only
        return contract
    surface = surfaces.get(contract.surface)
    if surface is None:
        raise ValueError(
            f"{key}.surface: unknown surface {contract.surface!r}; known: {sorted(surfaces)} "
            "(add it under surfaces: with p50_ms and p95_ms)"
        )
    for field, value, budget in (
        ("latency_budget_ms", contract.latency_budget_ms, surface.p50_ms),
        ("p95_budget_ms", contract.p95_budget_ms, surface.p95_ms),
    ):
        if value is not None and value != budget:
            which = "p50_ms" if field == "latency_budget_ms" else "p95_ms"
            raise ValueError(
                f"{key}.{field}: {value:g} contradicts surface {contract.surface!r} "
                f"({which} {budget:g}); remove {field} (the surface sets it) or change the surface"
            )
    return contract.model_copy(
        update={"latency_budget_ms": surface.p50_ms, "p95_budget_ms": surface.p95_ms}
    )


class EndpointSpec(_Strict):
    """One model endpoint: what it costs, how fast it is, and where it runs (residency)."""

    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    input_per_mtok: float = Field(ge=0.0, description="USD per million input tokens")
    output_per_mtok: float = Field(ge=0.0, description="USD per million output tokens")
    p50_latency_ms: float = Field(ge=0.0, description="typical latency of one answer")
    p95_latency_ms: float | None = Field(
        default=None, ge=0.0, description=f"tail latency; default p50 x {P95_FACTOR:g}"
    )
    region: Region | None = Field(default=None, description="where it runs (data residency)")
    vendor: str | None = Field(default=None, description="who runs it")

    @model_validator(mode="after")
    def _tail_above_median(self) -> EndpointSpec:
        if self.p95_latency_ms is not None and self.p95_latency_ms < self.p50_latency_ms:
            raise ValueError(
                f"endpoint {self.model!r}: p95_latency_ms ({self.p95_latency_ms:g}) must be >= "
                f"p50_latency_ms ({self.p50_latency_ms:g})"
            )
        return self

    @property
    def p95_ms(self) -> float:
        """The p95 latency: as measured, else p50 x P95_FACTOR."""
        p95 = self.p95_latency_ms
        return p95 if p95 is not None else self.p50_latency_ms * P95_FACTOR


class TierSpec(EndpointSpec):
    """A tier's endpoint, and the same tier in other regions (classifier.residency)."""

    alternatives: tuple[EndpointSpec, ...] = ()


class RoutingTableFile(_Strict):
    version: Annotated[str, StringConstraints(min_length=1)]
    regions: tuple[Region, ...] | None = Field(
        default=None, description="the regions endpoints may name (default: those they name)"
    )
    tiers: dict[str, TierSpec]

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, tiers: dict[str, TierSpec], info: ValidationInfo) -> dict[str, TierSpec]:
        taxonomy = taxonomy_in(info.context)
        for tier in tiers:
            check_label(taxonomy, "tiers", tier)
        return tiers

    @model_validator(mode="after")
    def _every_tier(self, info: ValidationInfo) -> RoutingTableFile:
        taxonomy = taxonomy_in(info.context)
        missing = [tier for tier in taxonomy.tiers if tier not in self.tiers]
        if missing:
            raise ValueError(
                f"tiers needs an entry for every tier {list(taxonomy.tiers)}; missing {missing}"
            )
        if self.regions is not None:
            for tier, spec in self.tiers.items():
                for endpoint in (spec, *spec.alternatives):
                    if endpoint.region is not None and endpoint.region not in self.regions:
                        raise ValueError(
                            f"tiers.{tier}: endpoint {endpoint.model!r} names region "
                            f"{endpoint.region!r}, not one of regions {list(self.regions)}"
                        )
        return self
