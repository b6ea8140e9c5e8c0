"""Data residency: which endpoints a request may be sent to, from contracts, table and guards.

The routing table says where each tier's endpoint runs (`region`, `vendor`, and optional
`alternatives` in other regions); the contracts say which regions a feature may use
(`features.X.regions`, else `residency.regions`, else any) and which guard findings narrow that
further (`residency.guards: {pii: [eu]}`: a request in which a personal-data detector fired may
only go to `eu`). The allowed set is the intersection of all that apply. For each tier the first
endpoint (the entry itself, then its alternatives, in order) whose region is allowed serves it;
a tier with none is not allowed. An endpoint without a `region` is never allowed under a
constraint: nobody said where it runs.

Applied once, in `classifier.plan` (which endpoint prices a tier, where escalation goes) and in
`classifier.decision.decide_with` (every policy, force_mini, kill switch and cap): the decision
never names an endpoint outside the allowed set, and fails closed (`reason_code`
`residency_fail_closed`, empty `model`) when no allowed tier is left. `check` validates the
configuration when contracts and table meet (Policy construction): an unknown region or a
feature left with no endpoint is a ConfigError naming the file and the key.

Example:
    allowed = allowed_regions(contracts, "support_chat", ("pii.email",))  # frozenset({"eu"})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from classifier.errors import ConfigError
from classifier.guards import detector_names

if TYPE_CHECKING:
    from classifier.contracts import Contracts, EndpointSpec, RoutingTable

Region = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$")]
FAIL_CLOSED = "residency_fail_closed"


class ResidencyConfig(BaseModel):
    """The `residency` section of contracts.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regions: tuple[Region, ...] | None = Field(
        default=None, description="regions every feature may use unless its contract says"
    )
    guards: dict[str, tuple[Region, ...]] = Field(
        default_factory=dict,
        description="guard category (pii) or detector (pii.email) -> the only regions allowed",
    )

    @property
    def active(self) -> bool:
        return self.regions is not None or bool(self.guards)


NO_RESIDENCY = ResidencyConfig()


def guard_key(config: ResidencyConfig, detectors: tuple[str, ...]) -> tuple[str, ...]:
    """The guard rules that a request's findings trigger (a detector or its category)."""
    rules = config.guards
    if not rules or not detectors:
        return ()
    hit: list[str] = []
    for name in detectors:
        for key in (name, name.split(".", 1)[0]):
            if key in rules and key not in hit:
                hit.append(key)
    return tuple(hit)


def allowed_regions(
    contracts: Contracts, feature: str | None, guard_rules: tuple[str, ...] = ()
) -> tuple[frozenset[str] | None, str | None]:
    """(allowed regions or None for any, the constraint in words for the decision's reason)."""
    config = contracts.residency
    contract = contracts.get(feature)
    allowed: frozenset[str] | None = None
    said: list[str] = []
    if contract.regions is not None:
        allowed = frozenset(contract.regions)
        said.append(f"contract {list(contract.regions)}")
    elif config.regions is not None:
        allowed = frozenset(config.regions)
        said.append(f"residency.regions {list(config.regions)}")
    for key in guard_rules:
        regions = frozenset(config.guards[key])
        allowed = regions if allowed is None else allowed & regions
        said.append(f"guards:{key} {list(config.guards[key])}")
    if allowed is None:
        return None, None
    return allowed, f"regions {sorted(allowed)} ({'; '.join(said)})"


def endpoints_for(
    table: RoutingTable, allowed: frozenset[str] | None
) -> tuple[EndpointSpec | None, ...]:
    """Per tier, the endpoint that serves it under `allowed` (None: the tier is not allowed)."""
    out: list[EndpointSpec | None] = []
    for spec in table.tiers.values():  # the table's taxonomy's tiers, cheapest first
        if allowed is None:
            out.append(spec)
            continue
        found = None
        for endpoint in (spec, *spec.alternatives):
            if endpoint.region is not None and endpoint.region in allowed:
                found = endpoint
                break
        out.append(found)
    return tuple(out)


def _unknown(
    regions: Sequence[str], known: frozenset[str], where: str, source: str, table: RoutingTable
) -> None:
    for i, region in enumerate(regions):
        if region not in known:
            raise ConfigError(
                f"{source}: {where}[{i}]: unknown region {region!r}; the routing table "
                f"{table.source} knows {sorted(known)}: use one of those or add an endpoint there"
            )


def check(contracts: Contracts, table: RoutingTable) -> None:
    """Refuse residency rules with an unknown region or that leave a feature no endpoint.

    "No endpoint" means no allowed tier at or above the contract's own risk floor (guard rules
    may still narrow a request to nothing at run time: that request fails closed, by design).
    """
    config, source = contracts.residency, contracts.source
    named = [("default", contracts.default), *contracts.features.items()]
    if not config.active and all(contract.regions is None for _, contract in named):
        return
    if table.taxonomy != contracts.taxonomy:
        return  # classifier.plan refuses this pair, naming the labels that differ
    check_guard_keys(config, detector_names(), source)
    known = table.regions
    tiers, rank = contracts.taxonomy.tiers, contracts.taxonomy.tier_rank
    if config.regions is not None:
        _unknown(config.regions, known, "residency.regions", source, table)
    for key, regions in config.guards.items():
        _unknown(regions, known, f"residency.guards.{key}", source, table)
    for name, contract in named:
        where = "default" if name == "default" else f"features.{name}"
        if contract.regions is not None:
            _unknown(contract.regions, known, f"{where}.regions", source, table)
        allowed, said = allowed_regions(contracts, None if name == "default" else name)
        if allowed is None:
            continue
        floor = rank[contracts.decision.risk_min_tier[contract.risk_profile]]
        endpoints = endpoints_for(table, allowed)
        if not any(endpoint is not None for endpoint in endpoints[floor:]):
            key = f"{where}.regions" if contract.regions is not None else "residency.regions"
            raise ConfigError(
                f"{source}: {key}: leaves {name!r} no endpoint: no tier from "
                f"{tiers[floor]} up has an endpoint in {sorted(allowed)} in {table.source} "
                f"({said}); allow another region or add an endpoint (`alternatives`) there"
            )


def check_guard_keys(config: ResidencyConfig, names: Sequence[str], source: str) -> None:
    """Refuse a guard rule that names no guard category or detector (a typo would never fire)."""
    categories = {name.split(".", 1)[0] for name in names}
    for key in config.guards:
        if key not in categories and key not in names:
            raise ConfigError(
                f"{source}: residency.guards.{key}: not a guard category or detector; use one "
                f"of {sorted(categories)} or a detector such as {names[0]!r}"
            )
