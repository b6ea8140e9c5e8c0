"""Request and response shapes, with the examples shown in the OpenAPI docs.

Requests are validated with these models after the body has been read and decoded by
`serving.inputs`, so every failure has our own status code and message, never FastAPI's default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)

from classifier.logschema import (
    PROMPT_ID,
    Attempt,
    CorrectionEvent,
    Escalation,
    Labels,
    NonEmptyId,
    SafetyFlag,
)

_FEATURE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class ContentPart(BaseModel):
    """An OpenAI content part; only `text` parts are classified, others are ignored."""

    model_config = ConfigDict(extra="allow")

    type: StrictStr
    text: StrictStr | None = None


class ChatMessage(BaseModel):
    """One turn in the OpenAI chat shape; extra keys (name, tool_calls, ...) are accepted."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: StrictStr | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content if part.text)


class ClassifyRequest(BaseModel):
    """One request to classify: `text`, or chat `messages` whose last user turn is classified."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "Summarize this thread for the weekly update: the deploy slipped.",
                    "feature": "doc_summary",
                    "request_id": "req-42",
                },
                {
                    "messages": [
                        {"role": "system", "content": "You are a support assistant."},
                        {"role": "user", "content": "My invoice shows the wrong VAT number."},
                        {"role": "assistant", "content": "Which invoice is it?"},
                        {"role": "user", "content": "INV-2291. Can you fix it and resend?"},
                    ],
                    "feature": "support_chat",
                },
            ]
        },
    )

    text: StrictStr | None = Field(default=None, description="the request text to classify")
    messages: list[ChatMessage] | None = Field(
        default=None,
        description="chat turns; the last user turn is classified, earlier ones are context",
    )
    feature: StrictStr | None = Field(
        default=None,
        pattern=_FEATURE_PATTERN,
        description="product feature; names the contract used for the route decision",
    )
    request_id: StrictStr | None = Field(
        default=None, max_length=128, description="echoed back; generated when absent"
    )
    prompt_id: StrictStr | None = Field(
        default=None,
        max_length=160,
        description="the prompt (template) and its version, `name@version`, e.g. "
        "`support_reply@v3`; logged and joined to the experiment and KPIs",
    )
    conversation_id: StrictStr | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="keeps a conversation on one policy, and at its escalated tier",
    )
    user_id: StrictStr | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="keeps a user on one policy (wins over conversation_id for the split)",
    )

    @field_validator("prompt_id")
    @classmethod
    def _versioned_prompt(cls, value: str | None) -> str | None:
        if value is not None and PROMPT_ID.fullmatch(value) is None:
            raise ValueError(
                f"prompt_id {value[:80]!r} is not `name@version`; send e.g. support_reply@v3 "
                "(letters, digits and _.:/- in the name, letters, digits and _.- in the version)"
            )
        return value

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("text is empty or only whitespace; send the request text to classify")
        return value

    @model_validator(mode="after")
    def _exactly_one_input(self) -> ClassifyRequest:
        if (self.text is None) == (self.messages is None):
            raise ValueError("send exactly one of `text` or `messages`")
        if self.messages is not None and not any(
            m.role == "user" and m.text().strip() for m in self.messages
        ):
            raise ValueError("messages hold no user turn with text; nothing to classify")
        return self


class BatchRequest(BaseModel):
    """Up to TIERWISE_MAX_BATCH_SIZE items, answered in order; one bad item rejects the batch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"text": "Translate to French: the meeting moved to Tuesday."},
                        {"text": "Is this review positive or negative? 'Arrived broken.'"},
                    ],
                    "feature": "inline_assist",
                }
            ]
        },
    )

    items: list[dict[str, Any]] = Field(description="ClassifyRequest objects")
    feature: StrictStr | None = Field(
        default=None, pattern=_FEATURE_PATTERN, description="default feature for items without one"
    )


class RouteOut(BaseModel):
    """The served route decision (classifier.policies): the learned or the rules policy's."""

    model_config = ConfigDict(extra="forbid")

    tier: str
    model: str
    reason: str
    reason_code: str
    policy: str
    guards: list[str] = []
    risk_floor: str | None = None
    contract: str | None = None
    expected_cost_usd: float | None = None
    region: str | None = Field(default=None, description="where the endpoint runs")
    vendor: str | None = None
    residency: str | None = Field(
        default=None,
        description="the data-residency constraint that applied; null: none. Under reason_code "
        "residency_fail_closed no endpoint was allowed and model is empty: do not send",
    )


class ProvenanceOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str
    model_version: str
    bundle_hash: str
    taxonomy_version: str
    tokens_used: int | None = Field(description="tokens the model read; null: not consulted")
    truncated: bool | None = Field(description="whether the text was cut; null: not consulted")
    context_chars: int = Field(description="characters of earlier chat turns included")
    cached: bool


class ClassifyResponse(BaseModel):
    """What /classify returns (rendered by serving.answer.render, serialised with orjson).

    Closed (no other keys), so that a test can validate real responses against the OpenAPI
    document (tests/serving/test_serving_schema.py).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "request_id": "req-42",
                    "feature": "doc_summary",
                    "intent": "summarize",
                    "intent_probs": {"summarize": 0.91, "chat": 0.03, "transform": 0.02},
                    "risk": "medium",
                    "risk_probs": {"low": 0.2, "medium": 0.7, "high": 0.1},
                    "tier": "mini",
                    "tier_ok_probs": {"nano": 0.41, "mini": 0.88, "full": 0.95},
                    "abstain": False,
                    "abstain_reason": None,
                    "route": {
                        "tier": "mini",
                        "model": "acme-mini-2026-08",
                        "reason": "cheapest_ok:mini P(ok) 0.88 >= bar 0.85, E[cost] $0.001883",
                        "reason_code": "cheapest_ok",
                        "policy": "learned",
                        "guards": [],
                        "risk_floor": "medium",
                        "contract": "doc_summary",
                        "expected_cost_usd": 0.001883,
                    },
                    "notes": [],
                    "provenance": {
                        "model_name": "tierwise",
                        "model_version": "2026.11.1",
                        "bundle_hash": "3f1c0a…",
                        "taxonomy_version": "1",
                        "tokens_used": 17,
                        "truncated": False,
                        "context_chars": 0,
                        "cached": False,
                    },
                }
            ]
        },
    )

    request_id: str
    feature: str | None
    # The prediction is null when the model was not consulted: force_mini, or the feature's
    # kill switch (docs/serving.md).
    intent: str | None
    intent_probs: dict[str, float] | None
    risk: str | None
    risk_probs: dict[str, float] | None
    tier: str | None
    tier_ok_probs: dict[str, float] | None
    abstain: bool
    abstain_reason: str | None
    route: RouteOut
    arm: str | None = Field(
        default=None, description="A/B arm (`learned` or `rules`) in ab mode, else null"
    )
    notes: list[str]
    provenance: ProvenanceOut


class BatchResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ClassifyResponse]


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: a stable machine code, a sentence for humans, optional field errors."""

    error: str
    detail: str
    errors: list[dict[str, Any]] | None = None


class OutcomeIn(BaseModel):
    """What happened after the route: the attempts in order (the served answer last).

    Fields use the log schema v1 types (`classifier.logschema`), validated strictly.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: NonEmptyId
    attempts: list[Attempt] = Field(min_length=1, description="one entry per call to a tier")
    escalations: list[Escalation] = Field(default_factory=list)
    safety_flags: list[SafetyFlag] = Field(default_factory=list)
    labels: Labels | None = Field(default=None, description="intent/risk from a human review")


class FeedbackRequest(BaseModel):
    """Attempt outcomes and/or correction events; at least one of either."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcomes": [
                        {
                            "request_id": "req-42",
                            "attempts": [
                                {
                                    "tier": "mini",
                                    "model": "acme-mini-2026-08",
                                    "schema_ok": True,
                                    "compliance_ok": True,
                                    "latency_ms": 812.0,
                                    "input_tokens": 140,
                                    "output_tokens": 90,
                                    "cost_usd": 0.00021,
                                    "error": None,
                                }
                            ],
                            "escalations": [],
                            "safety_flags": [],
                        }
                    ],
                    "corrections": [
                        {"request_id": "req-41", "ts": "2026-11-02T10:15:00Z", "kind": "edit"}
                    ],
                }
            ]
        },
    )

    outcomes: list[OutcomeIn] = Field(default_factory=list)
    corrections: list[CorrectionEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> FeedbackRequest:
        if not self.outcomes and not self.corrections:
            raise ValueError("send at least one entry in `outcomes` or `corrections`")
        return self


def _no_by(data: Any) -> Any:
    if isinstance(data, dict) and "by" in data:
        raise ValueError(
            "`by` is not accepted: the audit names the identity of the bearer token "
            "(TIERWISE_ADMIN_TOKENS); put free text in `note`"
        )
    return data


Share = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]


class ExperimentSettings(BaseModel):
    """Policy mode at run time; a key left out keeps its value (PATCH) or its TIERWISE_ default."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["learned", "rules", "shadow", "ab"] | None = None
    shadow_serve: Literal["learned", "rules"] | None = None
    ab_learned_share: Share | None = None
    feature_shares: dict[str, Share | None] | None = Field(
        default=None,
        description="ab mode: feature (or '*') -> share of units on `learned`; null removes the "
        "feature's own share (it takes ab_learned_share again)",
    )
    shadow_rate: Share | None = Field(
        default=None, description="share of units whose other policy is logged as the shadow"
    )
    sticky_escalation: StrictBool | None = Field(
        default=None, description="escalated conversations keep their tier for the next turns"
    )


class SwitchesPatch(BaseModel):
    """A partial change: only the keys given change (PATCH /admin/switches)."""

    model_config = ConfigDict(extra="forbid")

    force_mini: StrictBool | None = None
    kill: dict[str, StrictBool] = Field(
        default_factory=dict, description="feature (or '*') -> on/off"
    )
    caps: dict[str, StrictStr | None] = Field(
        default_factory=dict, description="feature (or '*') -> max tier, or null to lift"
    )
    experiment: ExperimentSettings | None = Field(
        default=None, description="policy mode changes; keys left out keep their value"
    )
    note: StrictStr | None = Field(default=None, max_length=500, description="why, for the audit")

    _by = model_validator(mode="before")(_no_by)


class SwitchesPut(BaseModel):
    """The whole switch state (PUT /admin/switches): anything not listed is switched off, and
    an experiment left out goes back to the TIERWISE_ settings."""

    model_config = ConfigDict(extra="forbid")

    force_mini: StrictBool = False
    killed: list[StrictStr] = Field(default_factory=list)
    caps: dict[str, StrictStr] = Field(default_factory=dict, description="feature -> max tier")
    experiment: ExperimentSettings | None = None
    note: StrictStr | None = Field(default=None, max_length=500, description="why, for the audit")

    _by = model_validator(mode="before")(_no_by)


class ResidencyOverride(BaseModel):
    """Data residency set at run time (classifier.residency); validated against the routing
    table before anything changes."""

    model_config = ConfigDict(extra="forbid")

    regions: list[StrictStr] | None = Field(
        default=None, description="regions every feature may use unless its own list says"
    )
    guards: dict[str, list[StrictStr]] = Field(
        default_factory=dict, description="guard category or detector -> the only regions allowed"
    )
    features: dict[str, list[StrictStr] | None] = Field(
        default_factory=dict, description="feature -> its regions (null: no own list)"
    )


class ResidencyPut(BaseModel):
    """PUT /admin/residency: replace the run-time residency (null: back to the contracts file)."""

    model_config = ConfigDict(extra="forbid")

    residency: ResidencyOverride | None
    note: StrictStr | None = Field(default=None, max_length=500, description="why, for the audit")
