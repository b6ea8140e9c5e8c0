"""The label sets every part of tierwise agrees on (DESIGN section 3), and a team's own.

A taxonomy is three ordered label lists: intents, risk levels (lowest first) and tiers (cheapest
first, two or more), plus a version. The seven intents, three risks and three tiers below are
the default (version "1"); a team brings its own in a YAML file (docs/taxonomy.md), which
training reads, the bundle's manifest carries, and the contracts name. A bundle built for one
taxonomy is refused by contracts written for another, with the labels that differ.

Example:
    taxonomy = load_taxonomy("taxonomy.yaml")
    taxonomy.tiers            # ("nano", "mini", "full", "reasoning")
    taxonomy.tier_rank["full"]  # 2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

TAXONOMY_VERSION: Final = "1"

INTENTS: Final = (
    "summarize",
    "transform",
    "classify",
    "plan",
    "generate_code",
    "review_policy",
    "chat",
)
RISKS: Final = ("low", "medium", "high")
TIERS: Final = ("nano", "mini", "full")

# Labels are configuration (any taxonomy), so their static type is a string; the default's
# names are INTENTS / RISKS / TIERS, and `DefaultTier` spells them for a type checker.
Intent = str
Risk = str
Tier = str
DefaultTier = Literal["nano", "mini", "full"]

TIER_RANK: Final = {tier: rank for rank, tier in enumerate(TIERS)}
RISK_RANK: Final = {risk: rank for rank, risk in enumerate(RISKS)}

Label = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
HEADS: Final = ("intents", "risks", "tiers")


class TaxonomyFile(BaseModel):
    """A taxonomy as written in YAML (or in a manifest); validated, then turned into Taxonomy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    intents: list[Label] = Field(min_length=2, max_length=64)
    risks: list[Label] = Field(min_length=2, max_length=16, description="lowest first")
    tiers: list[Label] = Field(min_length=2, max_length=16, description="cheapest first")
    force_tier: Label | None = Field(
        default=None, description="where the force_mini switch sends everything (default: mini "
        "if there is one, else the second tier)"
    )  # fmt: skip

    @field_validator("intents", "risks", "tiers")
    @classmethod
    def _no_repeats(cls, labels: list[str]) -> list[str]:
        seen: set[str] = set()
        for label in labels:
            if label in seen:
                raise ValueError(f"label {label!r} appears twice; each label must be unique")
            seen.add(label)
        return labels

    @model_validator(mode="after")
    def _force_tier_known(self) -> TaxonomyFile:
        if self.force_tier is not None and self.force_tier not in self.tiers:
            raise ValueError(f"force_tier {self.force_tier!r} is not one of the tiers {self.tiers}")
        return self


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A validated taxonomy with the rank look-ups the hot path needs (built once per load)."""

    version: str
    intents: tuple[str, ...]
    risks: tuple[str, ...]
    tiers: tuple[str, ...]
    force_tier: str
    tier_rank: Mapping[str, int] = field(init=False, compare=False, hash=False, repr=False)
    risk_rank: Mapping[str, int] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        ranks = MappingProxyType({t: r for r, t in enumerate(self.tiers)})
        object.__setattr__(self, "tier_rank", ranks)
        object.__setattr__(
            self, "risk_rank", MappingProxyType({r: i for i, r in enumerate(self.risks)})
        )

    @classmethod
    def from_file(cls, parsed: TaxonomyFile) -> Taxonomy:
        tiers = tuple(parsed.tiers)
        force = parsed.force_tier or ("mini" if "mini" in tiers else tiers[1])
        return cls(parsed.version, tuple(parsed.intents), tuple(parsed.risks), tiers, force)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "<memory>") -> Taxonomy:
        """Validate a mapping; a ConfigError names `source` and the key at fault."""
        from classifier.configio import format_validation_error
        from classifier.errors import ConfigError

        try:
            return cls.from_file(TaxonomyFile.model_validate(dict(raw)))
        except ValidationError as exc:
            raise ConfigError(format_validation_error(Path(source), exc)) from exc

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_TAXONOMY

    def labels(self) -> dict[str, list[str]]:
        """The manifest's `labels` block: one list per head, in graph output order."""
        return {"intent": list(self.intents), "risk": list(self.risks), "tier": list(self.tiers)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "intents": list(self.intents),
            "risks": list(self.risks),
            "tiers": list(self.tiers),
            "force_tier": self.force_tier,
        }

    def guard_risk(self, floor: str) -> str:
        """The risk level a guard's floor (named in the default levels) means here.

        Guards speak `low` / `medium` / `high`; a taxonomy without that name maps `high` to
        its highest level, `low` to its lowest and `medium` to the middle one.
        """
        if floor in self.risk_rank:
            return floor
        top = len(self.risks) - 1
        rank = {"low": 0, "high": top}.get(floor, (top + 1) // 2)
        return self.risks[rank]

    def default_risk_min_tier(self) -> dict[str, str]:
        """Lowest tier for every risk but the highest, which needs the second tier (the
        default taxonomy's low/medium -> nano, high -> mini)."""
        return {risk: self.tiers[1 if risk == self.risks[-1] else 0] for risk in self.risks}

    def differences(self, other: Taxonomy) -> list[str]:
        """What differs from `other`, one phrase per list; empty when both are the same."""
        out = []
        if self.version != other.version:
            out.append(f"version {self.version!r} vs {other.version!r}")
        for name in HEADS:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine == theirs:
                continue
            only_mine = [x for x in mine if x not in theirs]
            only_theirs = [x for x in theirs if x not in mine]
            if only_mine or only_theirs:
                out.append(f"{name}: only in the first {only_mine}, only in the second "
                           f"{only_theirs}")  # fmt: skip
            else:
                out.append(f"{name}: same labels in another order {list(mine)} vs {list(theirs)}")
        if self.force_tier != other.force_tier:
            out.append(f"force_tier {self.force_tier!r} vs {other.force_tier!r}")
        return out


DEFAULT_TAXONOMY: Final = Taxonomy(TAXONOMY_VERSION, INTENTS, RISKS, TIERS, "mini")


def taxonomy_in(context: Any) -> Taxonomy:
    """The taxonomy a config is validated against (pydantic validation context), or the default."""
    if isinstance(context, Mapping):
        found = context.get("taxonomy")
        if isinstance(found, Taxonomy):
            return found
    return DEFAULT_TAXONOMY


def check_label(taxonomy: Taxonomy, head: str, label: str) -> str:
    """`label` if the taxonomy has it under `head` (intents/risks/tiers), else a ValueError."""
    known = getattr(taxonomy, head)
    if label not in known:
        raise ValueError(
            f"unknown {head[:-1]} {label!r}; taxonomy {taxonomy.version!r} has {list(known)}"
        )
    return label


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Load and validate a taxonomy YAML file (None: the default seven intents, three tiers)."""
    if path is None:
        return DEFAULT_TAXONOMY
    from classifier.configio import load_yaml_model

    return Taxonomy.from_file(load_yaml_model(path, TaxonomyFile, what="taxonomy"))


def require_same(
    bundle: Taxonomy, contracts: Taxonomy, *, bundle_source: str, contracts_source: str
) -> None:
    """Refuse a bundle whose taxonomy is not the contracts' one, saying which labels differ."""
    diffs = bundle.differences(contracts)
    if diffs:
        from classifier.errors import BundleError

        raise BundleError(
            f"bundle at {bundle_source} speaks taxonomy {bundle.version!r}, the contracts at "
            f"{contracts_source} speak {contracts.version!r}; first = bundle, second = "
            f"contracts: {'; '.join(diffs)}. Retrain the bundle with the contracts' taxonomy "
            "(training config `taxonomy:`) or point the contracts at the bundle's taxonomy"
        )
