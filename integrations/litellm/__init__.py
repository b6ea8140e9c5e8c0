"""tierwise in LiteLLM: the auto router's classifier, a callback, and training logs from traffic.

Needs the `litellm` extra (`pip install 'tierwise[litellm]'`). Example (docs/integrations.md has
the full configuration, for the SDK and the proxy):

    client = LocalClient.load("models/default", failure=FailurePolicy.fail_open("mini"))
    groups = tier_groups(groups={"nano": "fast", "mini": "mid", "full": "best"})
    plugin = TierwiseClassifier(client, log=GatewayLog("logs/gateway", groups=groups))
    router = Router(model_list=[..., {"model_name": "auto",
                                      "litellm_params": auto_router_params(plugin, groups)}])
    litellm.callbacks.append(plugin.logger)
"""

from __future__ import annotations

from integrations.litellm.callback import TierwiseLogger
from integrations.litellm.gatewaylog import GatewayLog
from integrations.litellm.plugin import (
    TierwiseClassifier,
    auto_router_params,
    escalation_fallbacks,
    request_key,
    tier_groups,
)

__all__ = [
    "GatewayLog",
    "TierwiseClassifier",
    "TierwiseLogger",
    "auto_router_params",
    "escalation_fallbacks",
    "request_key",
    "tier_groups",
]
