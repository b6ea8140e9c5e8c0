"""One classification from validated input to a `Reply`: cache, model, policies, log, metrics.

Free of HTTP: it raises its own errors (`serving.errors.NotReady`, `UnknownFeature`), which the
app maps to statuses at the edge, and returns frozen values (`serving.answer`) that the route
renders. Every route decision is the classifier's (`classifier.policies`): the learned policy
always, the rules policy when the policy mode may serve or shadow it. The switches are read
once per request (or batch), and the model is called only when the learned policy reads it:
never under force_mini or the feature's kill switch.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import Any

import orjson

from classifier.abstain import Margins
from classifier.contracts import Contracts, load_contracts, load_routing_table
from classifier.drift import Thresholds
from classifier.errors import ConfigError
from classifier.guards import scan
from classifier.policies import LearnedPolicy, RulesPolicy
from classifier.prediction import Prediction
from classifier.residency import check as check_residency
from classifier.switches import Switches, SwitchState
from classifier.taxonomy import Tier
from serving.answer import Answer, Provenance, Reply, log_record
from serving.cache import CacheKey, DecisionCache, normalise
from serving.conversations import ConversationFloors
from serving.decision_log import DecisionLog
from serving.drift import DriftMonitor
from serving.errors import NotReady, UnknownFeature
from serving.experiment import Experiment, from_settings, load_rules, unit_key
from serving.feedback import FeedbackRecorder
from serving.inputs import ClassifyInput
from serving.metrics import Metrics
from serving.model_store import LoadedModel, ModelStore
from serving.settings import ServingSettings

log = logging.getLogger(__name__)


class ClassifyService:
    """Turns inputs into replies; `switches` and `experiment` are swapped whole by the admin."""

    def __init__(
        self, settings: ServingSettings, store: ModelStore, cache: DecisionCache, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.store = store
        self.cache = cache
        self.metrics = metrics
        self.contracts = self.loaded_contracts = load_contracts(settings.contracts_path)
        self.generation = 0  # bumped when the admin swaps the contracts (cache namespace)
        self.known_features = frozenset(self.contracts.names)
        self.table = load_routing_table(settings.routing_table_path, self.contracts.taxonomy)
        self.contracts_version = contracts_version(self.contracts)
        # replaced by serving/switchboard.py, never mutated here
        self.switches = Switches(tiers=self.contracts.taxonomy.tiers)
        self.router = load_rules(settings.rules_path, self.table.tier_models)
        self.margins = Margins(settings.abstain_intent_margin, settings.abstain_tier_margin)
        self.learned = LearnedPolicy(self.contracts, self.table, rules=self.router,
                                     margins=self.margins)  # fmt: skip
        try:
            self.experiment = from_settings(settings, self.known_features)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        # Shared by the workers through TIERWISE_LOG_DIR, where feedback (the source) writes.
        self.floors = ConversationFloors(
            settings.conversation_max, settings.conversation_ttl_s, settings.log_dir,
            tier_rank=self.contracts.taxonomy.tier_rank,
        )  # fmt: skip
        self.rules: RulesPolicy | None = None
        self.ensure_rules(self.experiment)
        self.drift = DriftMonitor(
            lambda: self.store.current,
            window=settings.drift_window,
            thresholds=Thresholds(settings.drift_psi_threshold, settings.drift_rate_threshold,
                                  settings.drift_min_requests),
        )  # fmt: skip
        metrics.bind_drift(self.drift)
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
                on_escalation=self.escalated,
                feature_label=lambda f: metrics.feature_label(f, self.is_known(f)),
                taxonomy=self.contracts.taxonomy,
            )
            self.feedback.on_outcome = self.drift.observe_outcome
        # Read at scrape time: the admin swaps both objects (serving/switchboard.py).
        metrics.bind_switches(lambda: self.switches, lambda: self.experiment.describe())
        metrics.bind_rollout(lambda: self.experiment, self.floors)
        metrics.bind_logs(self.log_writers)

    def is_known(self, feature: str | None) -> bool:
        return feature is not None and feature in self.known_features

    def ensure_rules(self, experiment: Experiment) -> None:
        """Bind the rules policy before a mode that needs it is switched on (at start or later)."""
        if experiment.needs_rules and self.rules is None:
            self.rules = RulesPolicy(self.router, self.contracts, self.table)

    def residency_contracts(self, override: dict[str, Any] | None) -> Contracts:
        """The loaded contracts with a run-time residency override, checked against the table
        (ConfigError names the key); the admin validates with this before anything changes."""
        contracts = self.loaded_contracts.with_residency(override, "admin residency")
        check_residency(contracts, self.table)
        return contracts

    def use_contracts(self, contracts: Contracts) -> None:
        """Swap the contracts (validated) and the policies bound to them, between requests."""
        learned = LearnedPolicy(contracts, self.table, rules=self.router, margins=self.margins)
        rules = RulesPolicy(self.router, contracts, self.table) if self.rules is not None else None
        self.contracts, self.learned, self.rules = contracts, learned, rules
        self.contracts_version = contracts_version(contracts)
        self.generation += 1

    def log_writers(self) -> dict[str, Any]:
        if self.decision_log is None or self.feedback is None:
            return {}
        return {"decisions": self.decision_log.writer, **self.feedback.writers()}

    def close(self) -> None:
        """Flush every log (called on shutdown)."""
        self.floors.close()
        if self.decision_log is not None:
            self.decision_log.close()
        if self.feedback is not None:
            self.feedback.close()

    def model(self) -> LoadedModel:
        model = self.store.current
        if model is None:
            raise NotReady(
                self.store.last_error or "no bundle configured (set TIERWISE_BUNDLE_PATH)"
            )
        return model

    def _notes(self, feature: str | None) -> tuple[str, ...]:
        if feature is None or feature in self.known_features:
            return ()
        if self.settings.unknown_feature == "reject":
            raise UnknownFeature(feature, sorted(self.known_features))
        return (f"feature {feature!r} has no contract; the default contract was used",)

    def classify(self, item: ClassifyInput) -> Reply:
        """One request (the common case, kept free of the batch's bookkeeping)."""
        started = time.perf_counter()
        model = self.model()
        notes = self._notes(item.feature)
        experiment, rules, state = self._read()
        floor = self._floor(item, experiment)
        epoch = _epoch(model, state, rules, self.generation, floor)
        text = normalise(item.text)
        key = self.cache.key(epoch, text, item.feature)
        answer: Answer | None = self.cache.get(key)
        cached = answer is not None
        if answer is None:
            prediction = None
            if self.learned.needs_model(item.feature, state):
                prediction = model.classifier.classify(text, feature=item.feature)
            answer = self._answer(model, prediction, item.feature, text, state, rules, floor)
            self.cache.put(key, answer)
        reply = self._reply(answer, item, notes, cached, experiment)
        self._record(reply, text, experiment, state, time.perf_counter() - started)
        return reply

    def classify_many(self, items: list[ClassifyInput]) -> list[Reply]:
        """Cache hits answered directly, the misses that need the model in one batch call."""
        started = time.perf_counter()
        model = self.model()
        notes = [self._notes(item.feature) for item in items]  # a refusal before any work
        experiment, rules, state = self._read()
        generation = self.generation
        floors = [self._floor(item, experiment) for item in items]
        texts = [normalise(item.text) for item in items]
        keys: list[CacheKey] = []
        answers: list[Answer | None] = []
        for item, text, floor in zip(items, texts, floors, strict=True):
            keys.append(
                self.cache.key(_epoch(model, state, rules, generation, floor), text, item.feature)
            )
            answers.append(self.cache.get(keys[-1]))
        hits = {i for i, answer in enumerate(answers) if answer is not None}
        missed = [i for i in range(len(items)) if i not in hits]
        predictions = self._predict(
            model, state, [items[i] for i in missed], [texts[i] for i in missed]
        )
        for index, prediction in zip(missed, predictions, strict=True):
            answer = self._answer(
                model, prediction, items[index].feature, texts[index], state, rules, floors[index]
            )
            self.cache.put(keys[index], answer)
            answers[index] = answer
        replies = []
        share = (time.perf_counter() - started) / len(items)  # each item's part of the batch
        for index, item in enumerate(items):
            done = answers[index]
            assert done is not None  # every miss was answered above
            reply = self._reply(done, item, notes[index], index in hits, experiment)
            self._record(reply, texts[index], experiment, state, share)
            replies.append(reply)
        return replies

    def _floor(self, item: ClassifyInput, experiment: Experiment) -> Tier | None:
        """The conversation's escalated tier, when stickiness is on (serving/conversations.py)."""
        if item.conversation_id is None or not experiment.sticky_escalation:
            return None
        return self.floors.floor(item.conversation_id)

    def escalated(self, conversation_id: str, tier: Tier) -> None:
        """Feedback says a turn of this conversation escalated to `tier` (serving/feedback.py)."""
        self.floors.raise_to(conversation_id, tier)

    def _read(self) -> tuple[Experiment, RulesPolicy | None, SwitchState]:
        """One read of each for a whole call; the experiment first, because the admin binds the
        rules policy before it switches on a mode that serves it."""
        experiment = self.experiment
        return experiment, self.rules, self.switches.state

    def _predict(
        self, model: LoadedModel, state: SwitchState, items: list[ClassifyInput], texts: list[str]
    ) -> list[Prediction | None]:
        """Predictions for the texts whose decision reads the model; None for the others."""
        wanted = [
            i for i, item in enumerate(items) if self.learned.needs_model(item.feature, state)
        ]
        out: list[Prediction | None] = [None] * len(items)
        if len(wanted) == 1:
            i = wanted[0]
            out[i] = model.classifier.classify(texts[i], feature=items[i].feature)
        elif wanted:
            made = model.classifier.classify_batch(
                [texts[i] for i in wanted], [items[i].feature for i in wanted]
            )
            for i, prediction in zip(wanted, made, strict=True):
                out[i] = prediction
        return out

    def _answer(
        self,
        model: LoadedModel,
        prediction: Prediction | None,
        feature: str | None,
        text: str,
        state: SwitchState,
        rules: RulesPolicy | None,
        floor: Tier | None = None,
    ) -> Answer:
        """The cacheable part: each policy's decision on one scan of the guards."""
        guards = scan(text)
        learned = self.learned.decide(
            text, feature, prediction, guards=guards, switches=state, floor=floor
        )
        ruled = None
        if rules is not None:
            ruled = rules.decide(text, feature, guards=guards, switches=state, floor=floor)
        return Answer(prediction, learned, ruled, Provenance.of(model, prediction))

    def _reply(
        self,
        answer: Answer,
        item: ClassifyInput,
        notes: tuple[str, ...],
        cached: bool,
        experiment: Experiment,
    ) -> Reply:
        request_id = item.request_id or uuid.uuid4().hex
        key, kind = unit_key(item.user_id, item.conversation_id, request_id)
        assignment = experiment.assign(key, item.feature)
        served = answer.decision(assignment.served)
        if served is None:  # the rules policy is bound before any mode that serves it
            raise RuntimeError(f"policy {assignment.served!r} was not bound for this request")
        shadow = answer.decision(assignment.shadow) if assignment.shadow is not None else None
        return Reply(answer, request_id, item.feature, assignment, served, shadow, notes,
                     item.context_chars, cached, item.prompt_id, item.conversation_id,
                     kind)  # fmt: skip

    def _record(
        self, reply: Reply, text: str, experiment: Experiment, state: SwitchState, seconds: float
    ) -> None:
        """Metrics and the decision log, both from the reply that is returned."""
        metrics, answer, served = self.metrics, reply.answer, reply.served
        p = answer.prediction
        feature = metrics.feature_label(reply.feature, self.is_known(reply.feature))
        metrics.classify_latency.labels(served.tier, feature).observe(seconds)
        for flag in served.safety_flags:
            metrics.guard_activations.labels(flag, feature).inc()
        if p is not None:
            model_version = answer.provenance.model_version
            metrics.predictions.labels(p.intent, p.risk, p.tier, feature, model_version).inc()
            self.drift.observe(p, p.abstain)
        if answer.learned.abstain_kind is not None:
            metrics.abstentions.labels(answer.learned.abstain_kind).inc()
        arm = reply.assignment.arm or "none"
        metrics.decisions.labels(served.tier, served.reason_code, arm, served.policy).inc()
        if reply.shadow is not None and reply.shadow.tier != served.tier:
            metrics.shadow_disagreements.labels(served.tier, reply.shadow.tier).inc()
        if self.decision_log is not None:
            record = log_record(
                reply,
                text,
                mode=experiment.mode,
                switches_version=state.version,
                versions=(self.contracts_version, self.table.version),
                share=experiment.share_for(reply.feature),
            )
            self.decision_log.append(record)


def _epoch(
    model: LoadedModel,
    state: SwitchState,
    rules: RulesPolicy | None,
    generation: int,
    floor: Tier | None = None,
) -> str:
    """Cache namespace: the bundle, the switches (a flipped switch changes routes), whether
    the rules policy decides too (a mode switched on at run time may need its decision), the
    contracts' generation (a residency change at run time) and the conversation's floor, if any
    (it raises the route)."""
    epoch = f"{model.bundle_hash}:{model.version}:{state.version}:{rules is not None}:{generation}"
    return epoch if floor is None else f"{epoch}:{floor}"


def contracts_version(contracts: Contracts) -> str:
    """A short digest of the contracts in force (they carry no version of their own), so a
    decision record says which contracts decided it; run-time residency rules are part of it."""
    body = {
        "decision": contracts.decision.model_dump(mode="json"),
        "default": contracts.default.model_dump(mode="json"),
        "features": {n: c.model_dump(mode="json") for n, c in contracts.features.items()},
    }
    if contracts.residency.active:
        body["residency"] = contracts.residency.model_dump(mode="json")
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return "sha256:" + digest[:12]
