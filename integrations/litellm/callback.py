"""The LiteLLM callback that goes with `TierwiseClassifier`.

Before each model call (`async_pre_call_deployment_hook`) it copies the plugin's decision into
the request metadata as `metadata["tierwise"]` (tier, intent, risk, P(ok) per tier, reason,
failure), or refuses the call with `ClassifierUnavailable` when the failure policy failed closed
(a classifier plugin cannot refuse a request itself: LiteLLM routes a declined one to its
`fallback_tier`). After each call, success or failure, it hands the call to the `GatewayLog`
when one is configured, so the gateway's own traffic becomes training logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from classifier.client import Routed
from classifier.errors import ClassifierUnavailable

try:
    from litellm.integrations.custom_logger import CustomLogger
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        "integrations.litellm needs LiteLLM: pip install 'tierwise[litellm]'"
    ) from exc

from integrations.litellm.notes import Refusal
from integrations.litellm.records import NOTE_KEY, metadata_of

if TYPE_CHECKING:
    from integrations.litellm.gatewaylog import GatewayLog
    from integrations.litellm.plugin import TierwiseClassifier

_REFUSED = "refused"


class TierwiseLogger(CustomLogger):  # type: ignore[misc]
    """Metadata, fail-closed enforcement and training logs for one `TierwiseClassifier`."""

    def __init__(self, plugin: TierwiseClassifier, log: GatewayLog | None = None) -> None:
        super().__init__()
        self.plugin = plugin
        self.gateway_log = log

    async def async_pre_call_deployment_hook(
        self, kwargs: dict[str, Any], call_type: Any
    ) -> dict[str, Any] | None:
        metadata = kwargs.get("metadata")
        if not isinstance(metadata, dict):
            metadata = kwargs.get("litellm_metadata")
        if not isinstance(metadata, dict):
            return None
        present = metadata.get(NOTE_KEY)
        if isinstance(present, dict):  # a retry or fallback of a request already noted
            if _REFUSED in present:
                raise ClassifierUnavailable(str(present[_REFUSED]))
        else:
            note = self.plugin.notes.get(self.plugin.key(metadata, kwargs.get("messages")))
            if isinstance(note, Refusal):
                metadata[NOTE_KEY] = {_REFUSED: note.reason}
                raise ClassifierUnavailable(note.reason)
            if isinstance(note, Routed):
                metadata[NOTE_KEY] = note.to_dict()
        if self.gateway_log is not None:
            self.gateway_log.started(kwargs.get("litellm_call_id"))
        return None

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        if self.gateway_log is not None:
            self.gateway_log.observe(kwargs, ok=True)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        if self.gateway_log is None:
            return
        note = metadata_of(kwargs).get(NOTE_KEY)
        if isinstance(kwargs.get("exception"), ClassifierUnavailable) or (
            isinstance(note, dict) and _REFUSED in note
        ):
            self.gateway_log.refused()  # no model was called: nothing to learn from
            return
        self.gateway_log.observe(kwargs, ok=False)
