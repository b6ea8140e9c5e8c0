"""The service's answers as frozen values, and the one place that turns them into JSON.

`Answer` is what depends only on (model, switches, text, feature): the prediction, each
policy's decision and the provenance. The decision cache stores it as it is. `Reply` is one
request's answer: an `Answer` plus what belongs to that request (id, arm, notes, `cached`).
`render` makes the response body (`serving.schemas.ClassifyResponse`) and `log_record` the
schema-v1 decision record; both read a `Reply`, so the response, the log and the metrics
(`serving.service`) can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from classifier.prediction import Prediction
from classifier.routing import RouteDecision
from serving.decision_log import decision_record, shadow_meta
from serving.experiment import Assignment, PolicyName
from serving.model_store import LoadedModel


@dataclass(frozen=True, slots=True)
class Provenance:
    """Which model answered; `tokens_used` and `truncated` are None when it was not consulted."""

    model_name: str
    model_version: str
    bundle_hash: str
    taxonomy_version: str
    tokens_used: int | None
    truncated: bool | None

    @classmethod
    def of(cls, model: LoadedModel, prediction: Prediction | None) -> Provenance:
        if prediction is None:
            return cls(model.name, model.version, model.bundle_hash, model.taxonomy_version,
                       None, None)  # fmt: skip
        return cls(model.name, prediction.model_version, prediction.bundle_hash,
                   prediction.taxonomy_version, prediction.tokens_used,
                   prediction.truncated)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Answer:
    """The cacheable answer: `learned` always, `rules` when a mode may serve or shadow it.

    `prediction` is None when no policy read the model (force_mini, the feature's kill switch).
    The abstention is the learned policy's: it is about the model's confidence, whoever serves.
    """

    prediction: Prediction | None
    learned: RouteDecision
    rules: RouteDecision | None
    provenance: Provenance

    def decision(self, policy: PolicyName) -> RouteDecision | None:
        return self.learned if policy == "learned" else self.rules


class Reply(NamedTuple):
    """One request's answer: the `Answer`, the policy that served it and the request's own parts.

    A named tuple (immutable, and built on every request, cache hits included: cheap).
    """

    answer: Answer
    request_id: str
    feature: str | None
    assignment: Assignment
    served: RouteDecision
    shadow: RouteDecision | None
    notes: tuple[str, ...]
    context_chars: int
    cached: bool
    prompt_id: str | None = None
    conversation_id: str | None = None
    key_kind: str = "request"  # what the assignment was keyed by: user, conversation, request


def _route(decision: RouteDecision) -> dict[str, Any]:
    return {
        "tier": decision.tier,
        "model": decision.model,
        "reason": decision.reason,
        "reason_code": decision.reason_code,
        "policy": decision.policy,
        "guards": list(decision.guards),
        "risk_floor": decision.risk_floor,
        "contract": decision.contract,
        "expected_cost_usd": decision.expected_cost_usd,
        "region": decision.region,
        "vendor": decision.vendor,
        "residency": decision.residency,
    }


def render(reply: Reply) -> dict[str, Any]:
    """The response body, exactly `ClassifyResponse` (a test validates real ones against it)."""
    answer = reply.answer
    p = answer.prediction
    learned = answer.learned
    prov = answer.provenance
    return {
        "request_id": reply.request_id,
        "feature": reply.feature,
        "intent": p.intent if p is not None else None,
        "intent_probs": p.intent_probs if p is not None else None,
        "risk": p.risk if p is not None else None,
        "risk_probs": p.risk_probs if p is not None else None,
        "tier": p.tier if p is not None else None,
        "tier_ok_probs": p.tier_ok_probs if p is not None else None,
        "abstain": learned.abstain,
        "abstain_reason": learned.abstain_reason,
        "provenance": {
            "model_name": prov.model_name,
            "model_version": prov.model_version,
            "bundle_hash": prov.bundle_hash,
            "taxonomy_version": prov.taxonomy_version,
            "tokens_used": prov.tokens_used,
            "truncated": prov.truncated,
            "context_chars": reply.context_chars,
            "cached": reply.cached,
        },
        "route": _route(reply.served),
        "arm": reply.assignment.arm,
        "notes": list(reply.notes),
    }


def log_record(
    reply: Reply,
    text: str,
    *,
    mode: str,
    switches_version: int,
    versions: tuple[str | None, str | None] = (None, None),
    share: float | None = None,
) -> dict[str, Any]:
    """The schema-v1 decision record of a served reply (serving.decision_log queues it).

    `meta.experiment` joins the prompt to what served it: policy, arm, model version, contracts
    and routing-table versions (`versions`), the feature's learned share and the assignment key.
    """
    answer, served, arm = reply.answer, reply.served, reply.assignment.arm
    propensity = 1.0
    if arm is not None:
        # P(this first tier) under the random arm: both arms agree, or only this one chose it.
        learned, rules = answer.learned, answer.rules
        if rules is None or learned.tier != rules.tier:
            propensity = reply.assignment.arm_probability
    p = answer.prediction
    meta: dict[str, Any] = {
        "mode": mode,
        "reason_code": served.reason_code,
        "model": served.model,
        "contract": served.contract,
        "abstain": answer.learned.abstain,
        "cached": reply.cached,
        "bundle_hash": answer.provenance.bundle_hash,
        "switches_version": switches_version,
        "prediction": None
        if p is None
        else {"intent": p.intent, "risk": p.risk, "tier": p.tier, "tier_ok_probs": p.tier_ok_probs},
    }
    if served.residency is not None:
        # which data-residency constraint applied, and where the endpoint runs
        meta["residency"] = {
            "constraint": served.residency,
            "region": served.region,
            "vendor": served.vendor,
        }
    if arm is not None:
        meta["arm_probability"] = reply.assignment.arm_probability
    if reply.shadow is not None:
        meta["shadow"] = shadow_meta(reply.shadow, served.tier)
    if reply.conversation_id is not None:
        meta["conversation_id"] = reply.conversation_id
    meta["experiment"] = {
        "policy": served.policy,
        "arm": arm,
        "mode": mode,
        "model_version": answer.provenance.model_version,
        "bundle_hash": answer.provenance.bundle_hash,
        "contracts_version": versions[0],
        "routing_table_version": versions[1],
        "learned_share": share,
        "assignment_key": reply.key_kind,
    }
    return decision_record(
        request_id=reply.request_id,
        feature=reply.feature,
        text=text,
        served=served,
        variant=arm,
        propensity=propensity,
        model_version=answer.provenance.model_version,
        meta=meta,
        prompt_id=reply.prompt_id,
    )
