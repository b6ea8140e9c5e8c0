"""Ready-made instances for the LiteLLM proxy's config.yaml, configured by environment variables.

The proxy resolves dotted paths to objects, so this module builds them when imported (its only
purpose): `integrations.litellm.proxy.plugin` for `classifier_plugin` and
`integrations.litellm.proxy.logger` for `litellm_settings.callbacks`. Both resolve to the same
module object (it is imported, not loaded from a file), so the logger sees the plugin's notes.

    TIERWISE_URL                 classify over HTTP (e.g. http://127.0.0.1:8000) ...
    TIERWISE_BUNDLE_PATH         ... or in process from this bundle (one of the two)
    TIERWISE_FAILURE             open:<tier> (default open:mini) or closed
    TIERWISE_DEADLINE_MS         per-call deadline over HTTP (default 50)
    TIERWISE_CONTRACTS_PATH, TIERWISE_ROUTING_TABLE_PATH   in process only (default: packaged)
    TIERWISE_LITELLM_GROUPS      JSON {"nano": group, ...} (default: routing table model names)
    TIERWISE_GATEWAY_LOG_DIR     write training logs there (default: none)
"""

from __future__ import annotations

import json
import os

from classifier.client import FailurePolicy, RoutingClient
from classifier.contracts import load_routing_table
from classifier.errors import ConfigError
from integrations.litellm.gatewaylog import GatewayLog
from integrations.litellm.plugin import TierwiseClassifier, tier_groups


def failure_from_env(value: str) -> FailurePolicy:
    """`open:<tier>` or `closed`."""
    if value.strip() == "closed":
        return FailurePolicy.fail_closed()
    mode, _, tier = value.partition(":")
    if mode.strip() != "open":
        raise ConfigError(f"TIERWISE_FAILURE must be open:<tier> or closed, got {value!r}")
    return FailurePolicy.fail_open(tier.strip())  # type: ignore[arg-type]


def build(env: dict[str, str] | None = None) -> TierwiseClassifier:
    """The plugin (with its logger and optional gateway log) as the environment describes it."""
    env = dict(os.environ if env is None else env)
    failure = failure_from_env(env.get("TIERWISE_FAILURE", "open:mini"))
    table = load_routing_table(env.get("TIERWISE_ROUTING_TABLE_PATH") or None)
    groups = tier_groups(table, json.loads(env.get("TIERWISE_LITELLM_GROUPS") or "{}"))
    client: RoutingClient
    if env.get("TIERWISE_URL"):
        from classifier.http_client import HttpClient

        client = HttpClient(
            env["TIERWISE_URL"],
            failure=failure,
            deadline_ms=float(env.get("TIERWISE_DEADLINE_MS", "50")),
        )
    elif env.get("TIERWISE_BUNDLE_PATH"):
        from classifier.local_client import LocalClient

        client = LocalClient.load(
            env["TIERWISE_BUNDLE_PATH"],
            failure=failure,
            contracts_path=env.get("TIERWISE_CONTRACTS_PATH") or None,
            table_path=env.get("TIERWISE_ROUTING_TABLE_PATH") or None,
        )
    else:
        raise ConfigError("set TIERWISE_URL (HTTP) or TIERWISE_BUNDLE_PATH (in process)")
    log_dir = env.get("TIERWISE_GATEWAY_LOG_DIR")
    gateway_log = GatewayLog(log_dir, groups=groups) if log_dir else None
    plugin = TierwiseClassifier(client, log=gateway_log)
    return plugin


plugin = build()
logger = plugin.logger
