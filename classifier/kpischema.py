"""Business KPI events (schema v1): what happened after an answer, joined to its decision.

A product emits one JSON line per event: a conversion, an activation, a support ticket or a
retention mark, naming the request (`request_id`, the id /classify returned) or the
conversation (`conversation_id`, as sent to /classify). `tierwise evaluate --kpi` joins them to
the decision logs and reports each KPI per arm and per prompt version (training/kpi/).
`data/kpi-event-v1.json` is generated from this model (`python -m data.jsonschema`).

Example line:
    {"request_id": "req-42", "ts": "2026-11-02T10:20:00Z", "kind": "conversion", "value": 1}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from classifier.logschema import Instant, NonEmptyId, _Strict

KPI_SCHEMA_VERSION = "1"
KpiKind = Literal["conversion", "activation", "support_ticket", "retention"]
KPI_KINDS: tuple[KpiKind, ...] = ("conversion", "activation", "support_ticket", "retention")


class KpiEvent(_Strict):
    """One business event, attributed to a request, or to a conversation's latest turn before it.

    `value` is 1 for a count (a ticket opened, a user retained) or an amount (a conversion's
    revenue); reports sum it per request. A support ticket is a bad outcome: fewer is better.
    """

    schema_version: Literal["1"] = "1"
    request_id: NonEmptyId | None = Field(
        default=None, description="the request the event follows (wins over conversation_id)"
    )
    conversation_id: NonEmptyId | None = Field(
        default=None, description="else the conversation: its latest decision at or before ts"
    )
    ts: Instant
    kind: KpiKind
    value: float = Field(default=1.0, allow_inf_nan=False, examples=[1, 49.0])
    meta: dict[str, Any] = Field(default_factory=dict, description="free-form fields, ignored")

    @model_validator(mode="after")
    def _names_a_decision(self) -> KpiEvent:
        if self.request_id is None and self.conversation_id is None:
            raise ValueError("name the decision: send request_id or conversation_id")
        return self
