"""tierwise as the classifier of LiteLLM's auto router (`classifier_type: custom`).

LiteLLM's complexity router accepts a `classifier_plugin`: an object with an async
`classify(context) -> tier name | None` (`litellm.types.router.ClassifierPlugin`). This one asks
a tierwise `RoutingClient` (in process or over HTTP) for the route of the request's last user
turn under the contract of the feature named in the request metadata (`metadata["feature"]`),
and returns the tier; LiteLLM maps the tier to its model group through `tiers`, which
`auto_router_params` builds from tierwise's routing table.

The plugin can only return a tier name, so the rest of the decision (intent, risk, P(ok), reason,
the failure policy's reason) is kept here under the request's key and `TierwiseLogger` copies it
into the request metadata (`metadata["tierwise"]`) just before the model call, where every
LiteLLM logger and the callbacks see it. The key is `metadata["request_id"]` when the
application sets it, else a digest of feature and text (identical requests share a decision).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from classifier.client import RoutingClient
from classifier.contracts import RoutingTable, load_routing_table
from classifier.errors import ClassifierUnavailable, InputError
from classifier.messages import compose_text
from classifier.taxonomy import TIERS, Tier
from integrations.litellm.notes import Notes, Refusal
from integrations.litellm.records import meta_value

if TYPE_CHECKING:
    from integrations.litellm.callback import TierwiseLogger
    from integrations.litellm.gatewaylog import GatewayLog

log = logging.getLogger(__name__)


def request_key(
    metadata: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]] | None,
    *,
    request_id_key: str,
    feature_key: str,
) -> str:
    """The key under which the plugin's decision waits for the request's model call."""
    request_id = meta_value(metadata, request_id_key)
    if request_id is not None:
        return "id:" + request_id
    try:
        text = compose_text(messages or [])[0]
    except InputError:
        text = ""
    feature = meta_value(metadata, feature_key) or ""
    digest = hashlib.blake2b(f"{feature}\x00{text}".encode(), digest_size=16).hexdigest()
    return "text:" + digest


class TierwiseClassifier:
    """LiteLLM `ClassifierPlugin`; register `self.logger` in `litellm.callbacks` next to it."""

    def __init__(
        self,
        client: RoutingClient,
        *,
        feature_key: str = "feature",
        request_id_key: str = "request_id",
        log: GatewayLog | None = None,
        max_notes: int = 16_384,
    ) -> None:
        self.client = client
        self.feature_key = feature_key
        self.request_id_key = request_id_key
        self.gateway_log = log
        self.notes = Notes(max_notes)
        self._logger: TierwiseLogger | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> TierwiseClassifier:
        # LiteLLM deep-copies its model_list, this object included. It is a shared service (a
        # client with open connections, the notes its logger reads), not configuration: a copy
        # would split it from its logger, so the copy is the object itself.
        return self

    def __copy__(self) -> TierwiseClassifier:
        return self

    @property
    def logger(self) -> TierwiseLogger:
        """The callback bound to this plugin (metadata, fail-closed refusals, training logs)."""
        if self._logger is None:
            from integrations.litellm.callback import TierwiseLogger

            self._logger = TierwiseLogger(self, log=self.gateway_log)
        return self._logger

    def key(self, metadata: Mapping[str, Any], messages: Any) -> str:
        return request_key(
            metadata,
            messages if isinstance(messages, Sequence) else None,
            request_id_key=self.request_id_key,
            feature_key=self.feature_key,
        )

    async def classify(self, context: Any) -> str | None:
        """The tier for one request; None (LiteLLM's `fallback_tier`) when refused."""
        metadata: Mapping[str, Any] = context.metadata or {}
        messages = list(context.structured_messages or ())
        feature = meta_value(metadata, self.feature_key)
        request_id = meta_value(metadata, self.request_id_key)
        key = self.key(metadata, messages)
        try:
            try:
                routed = await self.client.aclassify(
                    messages=messages, feature=feature, request_id=request_id
                )
            except InputError as exc:  # nothing to classify (e.g. images only): policy decides
                routed = self.client.failure.apply(
                    f"unclassifiable request: {exc}", request_id=request_id, feature=feature
                )
        except ClassifierUnavailable as exc:
            self.notes.put(key, Refusal(exc.reason))
            if self._logger is None:
                log.error(
                    "tierwise: the failure policy refused a request, but no TierwiseLogger is "
                    "registered to enforce it; add plugin.logger to litellm.callbacks"
                )
            return None
        self.notes.put(key, routed)
        return routed.tier


def tier_groups(
    table: RoutingTable | None = None, groups: Mapping[str, str] | None = None
) -> dict[Tier, str]:
    """LiteLLM model group per tier: the routing table's model names unless `groups` says else."""
    table = table if table is not None else load_routing_table()
    out: dict[Tier, str] = {tier: table.model(tier) for tier in TIERS}
    for tier, group in (groups or {}).items():
        if tier not in TIERS:
            raise ValueError(f"groups names an unknown tier {tier!r}; tiers are {list(TIERS)}")
        out[tier] = group  # type: ignore[index]
    return out


def auto_router_params(
    plugin: TierwiseClassifier,
    groups: Mapping[str, str],
    *,
    fallback_tier: Tier | None = None,
    timeout_ms: int = 1000,
) -> dict[str, Any]:
    """`litellm_params` of an auto-router deployment whose classifier is tierwise.

    `fallback_tier` is where LiteLLM routes when the plugin declines (a refusal, enforced by the
    logger) or overruns `timeout_ms`; it defaults to the client's fail-open tier, else `full`.
    Keep `timeout_ms` above the client's deadline so that tierwise's policy, with its reason,
    decides first.
    """
    fallback = fallback_tier or plugin.client.failure.tier or "full"
    return {
        "model": "auto_router/complexity_router",
        "complexity_router_config": {
            "classifier_type": "custom",
            "classifier_plugin": plugin,
            "classifier_plugin_timeout_ms": timeout_ms,
            "tiers": {tier: groups[tier] for tier in TIERS},
            "fallback_tier": fallback,
        },
        "complexity_router_default_model": groups[fallback],
    }


def escalation_fallbacks(groups: Mapping[str, str]) -> list[dict[str, list[str]]]:
    """Router `fallbacks` that move a failed call one tier up (nano -> mini -> full)."""
    return [{groups[low]: [groups[high]]} for low, high in zip(TIERS, TIERS[1:], strict=False)]
