"""One classification from validated input to response dict: cache, model, abstain, route, metrics.

Kept free of HTTP so that routes stay a few lines and the logic is testable without a server.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from classifier.prediction import Prediction
from classifier.routing import RouteDecision
from serving.cache import CacheKey, DecisionCache, normalise
from serving.decision_log import DecisionLog, decision_record, shadow_meta
from serving.decisions import Decider, escalate
from serving.errors import ApiError
from serving.experiment import Experiment, guard_result_of, load_rules, rules_decision
from serving.feedback import FeedbackRecorder
from serving.inputs import ClassifyInput
from serving.metrics import Metrics
from serving.model_store import LoadedModel, ModelStore
from serving.settings import ServingSettings

log = logging.getLogger(__name__)


class ClassifyService:
    """Turns inputs into response dicts; raises ApiError (503, 422) at the edge cases."""

    def __init__(
        self,
        settings: ServingSettings,
        store: ModelStore,
        cache: DecisionCache,
        metrics: Metrics,
        decider: Decider,
    ) -> None:
        self.settings = settings
        self.store = store
        self.cache = cache
        self.metrics = metrics
        self.decider = decider
        self._intent_margin = settings.abstain_intent_margin
        self._tier_margin = settings.abstain_tier_margin
        self.experiment = Experiment(
            settings.policy_mode,
            shadow_serve=settings.shadow_serve,
            learned_share=settings.ab_learned_share,
            salt=settings.ab_salt,
        )
        self.rules = None
        if self.experiment.needs_rules:
            if not decider.available:
                raise RuntimeError(
                    f"TIERWISE_POLICY_MODE={settings.policy_mode} needs classifier.decision and "
                    "classifier.contracts; install them or use policy_mode=learned"
                )
            self.rules = load_rules(settings.rules_path, decider.table.tier_models)
        self.decision_log: DecisionLog | None = None
        self.feedback: FeedbackRecorder | None = None
        if settings.log_dir is not None:
            self.decision_log = DecisionLog(
                settings.log_dir,
                max_queue_bytes=settings.log_queue_bytes,
                rotate_bytes=settings.log_rotate_bytes,
                window=settings.feedback_window,
            )
            self.feedback = FeedbackRecorder(
                self.decision_log,
                metrics,
                callers=settings.feedback_callers,
                rate_limit=settings.feedback_rate_limit,
                max_queue_bytes=settings.log_queue_bytes,
                rotate_bytes=settings.log_rotate_bytes,
            )
        if decider.switches is not None:
            # Read at scrape time: the admin swaps both objects (serving/switchboard.py).
            metrics.bind_switches(lambda: decider.switches, lambda: self.experiment.describe())
        metrics.bind_logs(self.log_writers)

    def ensure_rules(self, experiment: Experiment) -> None:
        """Load the rule router before a policy mode that needs it is switched on at run time."""
        if experiment.needs_rules and self.rules is None:
            if not self.decider.available:
                raise RuntimeError(
                    f"policy mode {experiment.mode} needs classifier.decision and "
                    "classifier.contracts, which are not installed"
                )
            self.rules = load_rules(self.settings.rules_path, self.decider.table.tier_models)

    def log_writers(self) -> dict[str, Any]:
        if self.decision_log is None or self.feedback is None:
            return {}
        return {"decisions": self.decision_log.writer, **self.feedback.writers()}

    def close(self) -> None:
        """Flush every log (called on shutdown)."""
        if self.decision_log is not None:
            self.decision_log.close()
        if self.feedback is not None:
            self.feedback.close()

    def model(self) -> LoadedModel:
        model = self.store.current
        if model is None:
            reason = self.store.last_error or "no bundle configured (set TIERWISE_BUNDLE_PATH)"
            raise ApiError(
                503, "not_ready", f"no model is loaded: {reason}", headers={"Retry-After": "5"}
            )
        return model

    def _epoch(self, model: LoadedModel) -> str:
        """Cache namespace: bundle, switch version (a flipped switch changes routes) and whether
        the rules' decision is computed (a mode switched on at run time may need it)."""
        rules = self.rules is not None
        return f"{model.bundle_hash}:{model.version}:{self.decider.policy_version()}:{rules}"

    def _feature_notes(self, feature: str | None) -> list[str]:
        if feature is None or self.decider.is_known(feature):
            return []
        if self.settings.unknown_feature == "reject":
            known = ", ".join(sorted(self.decider.known_features))
            raise ApiError(
                422,
                "unknown_feature",
                f"feature {feature!r} has no contract; use one of: {known}",
            )
        return [f"feature {feature!r} has no contract; the default contract was used"]

    def classify(self, item: ClassifyInput) -> dict[str, Any]:
        model = self.model()
        return self._one(model, item, normalise(item.text), self._feature_notes(item.feature))

    def classify_many(self, items: list[ClassifyInput]) -> list[dict[str, Any]]:
        """Cache hits answered directly, the misses in one `classify_batch` call."""
        model = self.model()
        notes = [self._feature_notes(item.feature) for item in items]
        texts = [normalise(item.text) for item in items]
        results: list[dict[str, Any] | None] = []
        misses: list[int] = []
        keys: list[CacheKey] = []
        epoch = self._epoch(model)
        for index, item in enumerate(items):
            keys.append(self.cache.key(epoch, texts[index], item.feature))
            hit = self.cache.get(keys[index])
            if hit is None:
                misses.append(index)
            results.append(hit)
        missed = set(misses)
        if misses:
            predictions = model.classifier.classify_batch(
                [texts[i] for i in misses], [items[i].feature for i in misses]
            )
            for index, prediction in zip(misses, predictions, strict=True):
                body = self._build(model, prediction, items[index].feature, texts[index])
                self.cache.put(keys[index], body)
                results[index] = body
        return [
            self._finish(model, body, item, index not in missed, note, texts[index])
            for index, (body, item, note) in enumerate(zip(results, items, notes, strict=True))
            if body is not None
        ]

    def _one(
        self, model: LoadedModel, item: ClassifyInput, text: str, notes: list[str]
    ) -> dict[str, Any]:
        key = self.cache.key(self._epoch(model), text, item.feature)
        body = self.cache.get(key)
        cached = body is not None
        if body is None:
            prediction = model.classifier.classify(text, feature=item.feature)
            body = self._build(model, prediction, item.feature, text)
            self.cache.put(key, body)
        return self._finish(model, body, item, cached, notes, text)

    def _build(
        self, model: LoadedModel, p: Prediction, feature: str | None, text: str
    ) -> dict[str, Any]:
        """The cacheable part of a response: everything but request id, notes and `cached`."""
        reasons, kinds = [], []
        top_intent = p.intent_probs[p.intent]
        if top_intent < self._intent_margin:
            kinds.append("intent")
            reasons.append(
                f"top intent probability {top_intent:.3f} is below the margin {self._intent_margin}"
            )
        tier_ok = p.tier_ok_probs[p.tier]
        if tier_ok < self._tier_margin:
            kinds.append("tier")
            reasons.append(
                f"P(ok) of tier {p.tier} is {tier_ok:.3f}, below the margin {self._tier_margin}"
            )
        abstain_reason = "; ".join(reasons) or None
        decision = self.decider.decide(p, feature, text)
        if decision is not None:
            if abstain_reason is not None:
                decision = escalate(decision, abstain_reason, self.decider.model_for)
            elif decision.abstain:  # the contract's own margins (contracts.yaml `decision.abstain`)
                kinds.append("decision")
                abstain_reason = decision.reason.split("abstain: ", 1)[-1].split(";", 1)[0]
        rules = None
        if decision is not None and self.rules is not None:
            rules = rules_decision(
                self.rules,
                self.decider.contracts,
                self.decider.table,
                text,
                feature,
                guard_result_of(decision.guards),
                self.decider.switches.state,
            )
        return {
            "_decisions": {"learned": decision, "rules": rules},
            "_routes": {
                "learned": _route_dict(decision) if decision is not None else None,
                "rules": _route_dict(rules) if rules is not None else None,
            },
            "abstain_kind": "+".join(kinds),
            "intent": p.intent,
            "intent_probs": p.intent_probs,
            "risk": p.risk,
            "risk_probs": p.risk_probs,
            "tier": p.tier,
            "tier_ok_probs": p.tier_ok_probs,
            "abstain": abstain_reason is not None,
            "abstain_reason": abstain_reason,
            "provenance": {
                "model_name": model.name,
                "model_version": p.model_version,
                "bundle_hash": p.bundle_hash,
                "taxonomy_version": p.taxonomy_version,
                "tokens_used": p.tokens_used,
                "truncated": p.truncated,
            },
        }

    def _finish(
        self,
        model: LoadedModel,
        body: dict[str, Any],
        item: ClassifyInput,
        cached: bool,
        notes: list[str],
        text: str,
    ) -> dict[str, Any]:
        metrics = self.metrics
        known = self.decider.is_known(item.feature)
        metrics.predictions.labels(
            body["intent"],
            body["risk"],
            body["tier"],
            metrics.feature_label(item.feature, known),
            model.version,
        ).inc()
        if body["abstain"]:
            metrics.abstentions.labels(body["abstain_kind"]).inc()
        request_id = item.request_id or uuid.uuid4().hex
        assignment = self.experiment.assign(request_id)
        decisions = body["_decisions"]
        served: RouteDecision | None = decisions[assignment.served]
        shadow: RouteDecision | None = None
        if served is not None:
            metrics.decisions.labels(
                served.tier, served.reason_code, assignment.arm or "none", served.policy
            ).inc()
            if assignment.shadow is not None:
                shadow = decisions[assignment.shadow]
                if shadow is not None and shadow.tier != served.tier:
                    metrics.shadow_disagreements.labels(served.tier, shadow.tier).inc()
        out = {
            "request_id": request_id,
            "feature": item.feature,
            **body,
            "route": body["_routes"][assignment.served],
            "arm": assignment.arm,
            "notes": notes,
            "provenance": {
                **body["provenance"],
                "context_chars": item.context_chars,
                "cached": cached,
            },
        }
        del out["abstain_kind"], out["_decisions"], out["_routes"]
        if self.decision_log is not None and served is not None:
            self._log(model, out, served, shadow, decisions, assignment.arm_probability, text)
        return out

    def _log(
        self,
        model: LoadedModel,
        out: dict[str, Any],
        served: RouteDecision,
        shadow: RouteDecision | None,
        decisions: dict[str, RouteDecision | None],
        arm_probability: float,
        text: str,
    ) -> None:
        """Queue the schema-v1 record; the file write happens in the log's own thread."""
        arm = out["arm"]
        propensity = 1.0
        if arm is not None:
            # P(this first tier) under the random arm: both arms agree, or only this one chose it.
            learned, rules = decisions["learned"], decisions["rules"]
            if learned is None or rules is None or learned.tier != rules.tier:
                propensity = arm_probability
        meta: dict[str, Any] = {
            "mode": self.experiment.mode,
            "reason_code": served.reason_code,
            "model": served.model,
            "contract": served.contract,
            "abstain": out["abstain"],
            "cached": out["provenance"]["cached"],
            "bundle_hash": model.bundle_hash,
            "switches_version": self.decider.policy_version(),
            "prediction": {
                "intent": out["intent"],
                "risk": out["risk"],
                "tier": out["tier"],
                "tier_ok_probs": out["tier_ok_probs"],
            },
        }
        if arm is not None:
            meta["arm_probability"] = arm_probability
        if shadow is not None:
            meta["shadow"] = shadow_meta(shadow, served.tier)
        decision_log = self.decision_log
        if decision_log is None:
            return
        decision_log.append(
            decision_record(
                request_id=out["request_id"],
                feature=out["feature"],
                text=text,
                served=served,
                variant=arm,
                propensity=propensity,
                model_version=out["provenance"]["model_version"],
                meta=meta,
            )
        )


def _route_dict(decision: RouteDecision) -> dict[str, Any]:
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
    }
