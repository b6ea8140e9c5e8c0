"""Enumerate the served taxonomy's labels in the published OpenAPI document.

The response models (serving.schemas) type labels as strings, because the taxonomy is
configuration (classifier.taxonomy); at app build the contracts' taxonomy is written into the
document, so that a client generated from `/openapi.json` knows the exact intents, risks and
tiers, and a response with any other label fails validation against it.
"""

from __future__ import annotations

from typing import Any

from classifier.taxonomy import Taxonomy


def _string_branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    branches = prop.get("anyOf", [prop])
    return [b for b in branches if b.get("type") == "string"]


def _object_branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    branches = prop.get("anyOf", [prop])
    return [b for b in branches if b.get("type") == "object"]


def _enum(props: dict[str, Any], name: str, labels: tuple[str, ...]) -> None:
    for branch in _string_branches(props.get(name, {})):
        branch["enum"] = list(labels)


def _keys(props: dict[str, Any], name: str, labels: tuple[str, ...]) -> None:
    for branch in _object_branches(props.get(name, {})):
        branch["propertyNames"] = {"enum": list(labels)}


def constrain_labels(components: dict[str, Any], taxonomy: Taxonomy) -> None:
    """Add `enum` / `propertyNames` to every label field of the /classify response schema."""
    response = components.get("ClassifyResponse", {}).get("properties", {})
    for name, labels in (
        ("intent", taxonomy.intents), ("risk", taxonomy.risks), ("tier", taxonomy.tiers)
    ):  # fmt: skip
        _enum(response, name, labels)
        _keys(response, f"{name}_probs", labels)
    _keys(response, "tier_ok_probs", taxonomy.tiers)
    route = components.get("RouteOut", {}).get("properties", {})
    _enum(route, "tier", taxonomy.tiers)
    _enum(route, "risk_floor", taxonomy.risks)
