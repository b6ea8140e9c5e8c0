"""Routing-log schema v1 (DESIGN section 4) as pydantic models.

This is the contract between a router's exporter and tierwise: the generator writes it, training
reads it, and the service writes its own decision log in it so that served traffic becomes the next
training set. `data/schema-v1.json` is generated from these models (`python -m data.jsonschema`).
Validation is strict on purpose: a record that does not fit is quarantined with the reason, never
guessed at.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from classifier.taxonomy import INTENTS, RISKS, TIERS, taxonomy_in

# A prompt version as `name@version` (support_reply@v3): what KPIs and experiments join on. The
# service refuses any other shape (serving.schemas); the gateway log drops it with a note.
PROMPT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}@[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")

SCHEMA_VERSION = "1"
MAX_TEXT_CHARS = 200_000
CORRECTION_WINDOW_S = 300.0
# Token counts are stored as int32 columns in training; a larger count is a broken exporter.
MAX_TOKENS = 2**31 - 1


def _representable_in_utc(value: datetime) -> datetime:
    """Refuse an instant whose UTC form leaves years 1-9999: it cannot be sorted or written back.

    "0001-01-01T00:00:00+05:00" parses, but is in year 0 once its offset is applied.
    """
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "timestamp_out_of_range",
            "timestamp is outside years 1-9999 once its UTC offset is applied",
        ) from None
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]


def _in_taxonomy(head: str) -> AfterValidator:
    """A label of the taxonomy in the validation context (`{"taxonomy": ...}`), else the default.

    The published JSON Schema lists the default labels; a team's own taxonomy (docs/taxonomy.md)
    is checked here instead, so its logs ingest without a schema change.
    """

    def check(value: str, info: ValidationInfo) -> str:
        taxonomy = taxonomy_in(info.context)
        if value not in getattr(taxonomy, head):
            raise PydanticCustomError(
                "unknown_label",
                "unknown {head} {value!r}; taxonomy {version!r} has {labels}",
                {"head": head[:-1], "value": value, "version": taxonomy.version,
                 "labels": list(getattr(taxonomy, head))},
            )  # fmt: skip
        return value

    return AfterValidator(check)


Intent = Annotated[
    str, _in_taxonomy("intents"), WithJsonSchema({"enum": list(INTENTS), "type": "string"})
]
Risk = Annotated[
    str, _in_taxonomy("risks"), WithJsonSchema({"enum": list(RISKS), "type": "string"})
]
Tier = Annotated[
    str, _in_taxonomy("tiers"), WithJsonSchema({"enum": list(TIERS), "type": "string"})
]

NonEmptyId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RequestText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
CorrectionKind = Literal["edit", "regenerate", "thumbs_down", "manual_escalation"]
SafetyFlag = Literal["pii", "forbidden_advice", "regulated_language"]


class _Strict(BaseModel):
    # Unknown keys are refused rather than ignored: a misspelt field would otherwise vanish.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Route(_Strict):
    """How the router chose the first tier, and how likely it was (for off-policy estimates)."""

    policy: NonEmptyId = Field(examples=["rules"])
    variant: str | None = Field(default=None, description="A/B arm, or null outside an experiment")
    tier: Tier
    reason: str = ""
    model_version: str | None = None
    propensity: float | None = Field(default=None, gt=0.0, le=1.0)


class Attempt(_Strict):
    """One call to one tier; it succeeded when schema and compliance passed with no error."""

    tier: Tier
    model: NonEmptyId
    schema_ok: bool
    compliance_ok: bool
    latency_ms: float = Field(ge=0.0)
    input_tokens: int = Field(ge=0, le=MAX_TOKENS)
    output_tokens: int = Field(ge=0, le=MAX_TOKENS)
    cost_usd: float = Field(ge=0.0)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.schema_ok and self.compliance_ok and self.error is None


class Escalation(_Strict):
    from_tier: Tier = Field(alias="from")
    to: Tier
    cause: NonEmptyId = Field(examples=["schema_fail_x2", "compliance_fail"])


class Labels(_Strict):
    """Intent and risk asserted by a contract or a human review; either may be unknown."""

    intent: Intent | None = None
    risk: Risk | None = None
    source: str | None = Field(default=None, examples=["contract", "human_review"])


class CorrectionEvent(_Strict):
    """A user's correction of a served answer; within 300 s it means the served tier failed."""

    request_id: NonEmptyId
    ts: Instant
    kind: CorrectionKind


class LogRecord(_Strict):
    """One routed request with everything the router observed about it."""

    schema_version: Literal["1"] = "1"
    request_id: NonEmptyId
    ts: Instant
    feature: NonEmptyId
    text: RequestText
    prompt_id: str | None = None
    route: Route
    attempts: list[Attempt] = Field(default_factory=list)
    escalations: list[Escalation] = Field(default_factory=list)
    safety_flags: list[SafetyFlag] = Field(default_factory=list)
    labels: Labels | None = None
    corrections: list[CorrectionEvent] = Field(
        default_factory=list, description="Inline corrections; a separate stream may be joined in"
    )
    meta: dict[str, Any] = Field(default_factory=dict, description="Free-form exporter fields")

    @model_validator(mode="after")
    def _text_not_blank(self) -> LogRecord:
        if not self.text.strip():
            raise ValueError("text is blank (only whitespace)")
        return self

    @model_validator(mode="after")
    def _corrections_belong_here(self) -> LogRecord:
        for event in self.corrections:
            if event.request_id != self.request_id:
                raise ValueError(
                    f"inline correction names request_id {event.request_id!r}, "
                    f"not this record's {self.request_id!r}"
                )
        return self

    @property
    def served_tier(self) -> Tier | None:
        """The tier whose answer the user saw: the last attempt's."""
        return self.attempts[-1].tier if self.attempts else None


class TruthRecord(_Strict):
    """The simulator's hidden truth for one request, so that any policy can be scored exactly.

    Real logs have no such file; `template` and `domain` let evaluation hold out whole families.
    """

    request_id: NonEmptyId
    intent: Intent
    risk: Risk
    tier_ok: dict[Tier, bool]
    difficulty: float
    domain: str
    template: str
    language: str = "en"
