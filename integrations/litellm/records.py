"""From LiteLLM's per-call callback payload to one tierwise schema-v1 record per request.

Pure functions, no I/O: `call_from_kwargs` reads one success or failure callback (the
`standard_logging_object` and the request metadata), `build_record` turns the calls of one
request into a `LogRecord`-shaped dict. The rules (docs/integrations.md has the table):

- attempts in call order, tier from the call's model group (the LiteLLM `tiers` mapping);
  `error` is LiteLLM's error class and message, `schema_ok`/`compliance_ok` what the
  application reported, `true` when it reported nothing (and `meta.checks` says so);
- a tier change between consecutive calls is an escalation whose cause is why the earlier tier
  failed: `timeout`, `error_<class>`, `schema_fail`, `compliance_fail` (`_xN` after N failed
  calls at that tier), or `app_escalation` when its last call had not failed;
- a retry at the same tier is another attempt, not an escalation: under the label rules an
  escalation marks its `from` tier failed even when the retry succeeded; retries are listed in
  `meta.retries` with their cause;
- `route` is the logging policy: tierwise's decision (propensity 1.0, or the fail-open tier with
  its reason), LiteLLM's own fallback when the plugin never answered, or `direct` when the
  application called a tier's model group itself (propensity unknown).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from classifier.logschema import MAX_TEXT_CHARS, PROMPT_ID, SCHEMA_VERSION
from classifier.messages import compose_text
from classifier.taxonomy import TIERS

NOTE_KEY = "tierwise"  # where the plugin's decision rides in the request metadata
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def metadata_of(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request metadata LiteLLM keeps for a call (`metadata` or `litellm_metadata`)."""
    params = kwargs.get("litellm_params") or {}
    for source in (params, kwargs):
        for key in ("metadata", "litellm_metadata"):
            value = source.get(key)
            if isinstance(value, dict):
                return value
    return {}


def meta_value(metadata: Mapping[str, Any], key: str) -> str | None:
    """A non-blank string the application put in the request metadata under `key`.

    The proxy keeps the caller's keys at the top of `metadata` and a copy in
    `requester_metadata` (the only place they are on some routes); the SDK keeps them on top.
    """
    for source in (metadata, metadata.get("requester_metadata")):
        if isinstance(source, Mapping):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value
    return None


def prompt_of(metadata: Mapping[str, Any], kwargs: Mapping[str, Any], key: str) -> str | None:
    """The request's prompt version, what KPIs and experiments join on: the application's
    `name@version` under `key` in the metadata, else LiteLLM's own prompt management
    (`prompt_id`, with `prompt_version` appended as `@version` when it has none)."""
    given = meta_value(metadata, key)
    if given is not None:
        return given
    litellm_id = meta_value(kwargs, "prompt_id")
    version = kwargs.get("prompt_version")
    if litellm_id is not None and "@" not in litellm_id and version is not None:
        return f"{litellm_id}@{version}"
    return litellm_id


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def failure_kind(error_class: str) -> str:
    """`timeout` or `error_<snake class>` (e.g. `error_internal_server`), for escalation causes."""
    if "timeout" in error_class.lower():
        return "timeout"
    name = error_class.removesuffix("Error") or error_class or "unknown"
    return "error_" + _CAMEL.sub("_", name).lower()


@dataclass
class Call:
    """One model call of a request, as the callback saw it; checks are filled in later."""

    start: float
    tier: str
    model: str
    group: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    error: str | None
    error_kind: str | None
    call_id: str | None
    schema_ok: bool = True
    compliance_ok: bool = True

    @property
    def failed(self) -> str | None:
        """Why this call failed (an escalation cause), or None when it succeeded."""
        if self.error_kind is not None:
            return self.error_kind
        if not self.compliance_ok:
            return "compliance_fail"
        if not self.schema_ok:
            return "schema_fail"
        return None

    def attempt(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "model": self.model,
            "schema_ok": self.schema_ok,
            "compliance_ok": self.compliance_ok,
            "latency_ms": round(self.latency_ms, 3),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "error": self.error,
        }


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and value >= 0 else 0


def call_from_kwargs(
    kwargs: Mapping[str, Any], ok: bool, tier_of: Mapping[str, str]
) -> tuple[Call | None, str]:
    """(Call, group) for one callback; the Call is None when the group maps to no tier."""
    slo = kwargs.get("standard_logging_object") or {}
    metadata = metadata_of(kwargs)
    group = str(metadata.get("deployment_model_name") or slo.get("model_group") or "")
    tier = tier_of.get(group)
    if tier is None:
        return None, group
    start = float(slo.get("startTime") or 0.0)
    end = float(slo.get("endTime") or start)
    error = error_kind = None
    if not ok:
        info = slo.get("error_information") or {}
        exc = kwargs.get("exception")
        error_class = str(info.get("error_class") or (type(exc).__name__ if exc else "Error"))
        message = str(slo.get("error_str") or info.get("error_message") or exc or "")
        error = f"{error_class}: {message}"[:500]
        error_kind = failure_kind(error_class)
    cost = slo.get("response_cost")
    call = Call(
        start=start,
        tier=tier,
        model=str(slo.get("model") or group),
        group=group,
        latency_ms=max(0.0, (end - start) * 1000.0),
        input_tokens=_int(slo.get("prompt_tokens")),
        output_tokens=_int(slo.get("completion_tokens")),
        cost_usd=float(cost) if isinstance(cost, int | float) and cost >= 0 else 0.0,
        error=error,
        error_kind=error_kind,
        call_id=kwargs.get("litellm_call_id"),
    )
    return call, group


def route_of(metadata: Mapping[str, Any], first: Call) -> dict[str, Any]:
    """The logging policy's first choice for a request, from the first call's metadata."""
    note = metadata.get(NOTE_KEY)
    if isinstance(note, Mapping) and note.get("tier") in TIERS:
        return {
            "policy": str(note.get("policy") or "learned"),
            "variant": None,
            "tier": note["tier"],
            "reason": str(note.get("reason") or ""),
            "model_version": note.get("model_version"),
            "propensity": note.get("propensity"),
        }
    decision = metadata.get("routing_decision")
    if isinstance(decision, Mapping) and decision.get("tier") in TIERS:
        cause = str(decision.get("cause") or "unknown")
        failure = decision.get("classifier_failure_reason")
        return {
            "policy": f"litellm_{cause}",
            "variant": None,
            "tier": decision["tier"],
            "reason": f"LiteLLM {cause}" + (f" (classifier {failure})" if failure else ""),
            "model_version": None,
            "propensity": 1.0,
        }
    return {
        "policy": "direct",
        "variant": None,
        "tier": first.tier,
        "reason": f"the application called model group {first.group!r} directly",
        "model_version": None,
        "propensity": None,
    }


@dataclass
class OpenRequest:
    """What is known about one request until its record is written."""

    request_id: str
    feature: str
    messages: Sequence[Mapping[str, Any]] | None
    route: dict[str, Any]
    note: dict[str, Any] | None
    trace_id: str | None
    calls: list[Call] = field(default_factory=list)
    checks_reported: bool = False
    unmapped_groups: list[str] = field(default_factory=list)
    prompt_id: str | None = None


def _count_failures(calls: Sequence[Call], end: int) -> int:
    """Failed calls at calls[end]'s tier, counting back over consecutive calls at that tier."""
    tier, count = calls[end].tier, 0
    for call in reversed(calls[: end + 1]):
        if call.tier != tier:
            break
        if call.failed is not None:
            count += 1
    return count


def build_record(req: OpenRequest, max_context_chars: int) -> dict[str, Any] | None:
    """The schema-v1 record of a request, or None when it has no call or no text to learn from."""
    if not req.calls or not req.messages:
        return None
    try:
        text, _ = compose_text(req.messages, max_context_chars)
    except Exception:  # no user text (e.g. images only): nothing a text classifier can learn
        return None
    calls = sorted(req.calls, key=lambda c: c.start)
    escalations, retries = [], []
    for i in range(1, len(calls)):
        before, after = calls[i - 1], calls[i]
        cause = before.failed
        if after.tier == before.tier:
            if cause is not None:
                retries.append({"tier": before.tier, "cause": cause})
            continue
        if cause is None:
            cause = "app_escalation"
        else:
            n = _count_failures(calls, i - 1)
            cause = f"{cause}_x{n}" if n > 1 else cause
        escalations.append({"from": before.tier, "to": after.tier, "cause": cause})
    meta: dict[str, Any] = {
        "gateway": "litellm",
        "litellm_trace_id": req.trace_id,
        "litellm_call_ids": [c.call_id for c in calls],
        "model_groups": [c.group for c in calls],
        "checks": "reported by the application"
        if req.checks_reported
        else "not reported: schema_ok and compliance_ok are written true",
    }
    if retries:
        meta["retries"] = retries
    if req.note is not None:
        meta[NOTE_KEY] = req.note
    if req.unmapped_groups:
        meta["unmapped_model_groups"] = req.unmapped_groups
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        meta["text_truncated"] = True
    prompt_id = req.prompt_id
    if prompt_id is not None and PROMPT_ID.fullmatch(prompt_id) is None:
        meta["prompt_id_refused"] = f"{prompt_id[:80]!r} is not `name@version`"
        prompt_id = None
    guards = (req.note or {}).get("guards") or []
    flags = list(dict.fromkeys(str(g).split(".", 1)[0] for g in guards))
    return {
        "schema_version": SCHEMA_VERSION,
        "request_id": req.request_id,
        "ts": rfc3339(calls[0].start),
        "feature": req.feature,
        "text": text,
        "prompt_id": prompt_id,
        "route": req.route,
        "attempts": [c.attempt() for c in calls],
        "escalations": escalations,
        "safety_flags": [
            f for f in flags if f in ("pii", "forbidden_advice", "regulated_language")
        ],
        "labels": None,
        "corrections": [],
        "meta": meta,
    }
