"""`RoutingClient` over the in-process `Classifier`: classify, scan guards, decide by contract.

The same decision the service makes (`classifier.decision.decide` with the configured contracts,
routing table and switches); the service adds its own abstention margins on top
(TIERWISE_ABSTAIN_INTENT_MARGIN / _TIER_MARGIN), so with both at 0 the two answer identically
(a test checks). Async methods run inline: a call costs well under a millisecond, less than a
hop to a thread would.

    client = LocalClient.load("models/default", failure=FailurePolicy.fail_open("mini"))
    client.classify(messages=[{"role": "user", "content": "Fix this SQL"}], feature="code_assist")
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from classifier.client import FailurePolicy, Routed, RouteRequest
from classifier.contracts import Contracts, RoutingTable, load_contracts, load_routing_table
from classifier.decision import decide
from classifier.errors import ClassifierUnavailable, ConfigError, InputError
from classifier.guards import scan
from classifier.messages import DEFAULT_CONTEXT_CHARS, compose_text
from classifier.plan import plan_for
from classifier.prediction import Prediction
from classifier.routing import RouteDecision
from classifier.runtime import Classifier
from classifier.switches import Switches
from classifier.taxonomy import require_same

log = logging.getLogger(__name__)


class LocalClient:
    """Routes in process; a classifier that raises (not bad input) goes to the failure policy."""

    def __init__(
        self,
        classifier: Classifier,
        *,
        failure: FailurePolicy,
        contracts: Contracts | None = None,
        table: RoutingTable | None = None,
        switches: Switches | None = None,
        max_context_chars: int = DEFAULT_CONTEXT_CHARS,
    ) -> None:
        self.classifier = classifier
        self.failure = failure
        self.contracts = contracts if contracts is not None else load_contracts()
        self.table = (
            table if table is not None else load_routing_table(None, self.contracts.taxonomy)
        )
        if failure.tier is not None and failure.tier not in self.contracts.taxonomy.tiers:
            raise ConfigError(
                f"FailurePolicy.fail_open({failure.tier!r}): not a tier of the contracts' "
                f"taxonomy {list(self.contracts.taxonomy.tiers)}"
            )
        bundle_taxonomy = getattr(classifier, "taxonomy", None)
        if bundle_taxonomy is not None:  # a bundle of another taxonomy is refused here, once
            require_same(bundle_taxonomy, self.contracts.taxonomy,
                         bundle_source=str(getattr(classifier, "bundle_dir", "?")),
                         contracts_source=self.contracts.source)  # fmt: skip
        self.switches = switches
        self.max_context_chars = max_context_chars

    @classmethod
    def load(
        cls,
        bundle_dir: Path | str,
        *,
        failure: FailurePolicy,
        contracts_path: Path | str | None = None,
        table_path: Path | str | None = None,
        **kwargs: Any,
    ) -> LocalClient:
        """Load a bundle and the contracts and routing table (packaged defaults when not given)."""
        contracts = load_contracts(contracts_path)
        return cls(
            Classifier.load(bundle_dir),
            failure=failure,
            contracts=contracts,
            table=load_routing_table(table_path, contracts.taxonomy),
            **kwargs,
        )

    def _text(self, text: str | None, messages: Sequence[Mapping[str, Any]] | None) -> str:
        if (text is None) == (messages is None):
            raise InputError("send exactly one of `text` or `messages`")
        if messages is not None:
            return compose_text(messages, self.max_context_chars)[0]
        assert text is not None
        if type(text) is not str or not text.strip():
            raise InputError("text is empty or only whitespace; send the request text to classify")
        return text

    def _routed(
        self, prediction: Prediction, text: str, feature: str | None, request_id: str | None
    ) -> Routed:
        decision: RouteDecision = decide(
            prediction, feature, self.contracts, self.table, scan(text), self.switches, text=text
        )
        return Routed(
            tier=decision.tier,
            reason=decision.reason,
            reason_code=decision.reason_code,
            policy=decision.policy,
            model=decision.model,
            request_id=request_id or uuid.uuid4().hex,
            feature=feature,
            intent=prediction.intent,
            risk=prediction.risk,
            tier_ok_probs=prediction.tier_ok_probs,
            abstain=decision.abstain,
            guards=decision.guards,
            contract=decision.contract,
            model_version=prediction.model_version,
            propensity=decision.propensity,
        )

    def _failed(
        self, exc: Exception, text: str, feature: str | None, request_id: str | None
    ) -> Routed:
        """The failure policy's route, still inside the regions the request may go to.

        Residency needs no model (the contracts, the table and the guards decide it), so a
        fail-open answer keeps to it: the fail-open tier's allowed endpoint, else the nearest
        allowed tier above, else below; with none allowed it refuses, as the decision does.
        """
        failure = f"in-process classifier failed: {type(exc).__name__}: {exc}"
        log.warning("tierwise: %s", failure)
        if self.failure.tier is None:
            return self.failure.apply(failure, request_id=request_id, feature=feature)  # raises
        plan = plan_for(self.contracts, self.table, feature, None, scan(text).detectors)
        wanted = plan.tier_rank[self.failure.tier]
        rank = plan.up[wanted] if plan.up[wanted] >= 0 else plan.down[wanted]
        if rank < 0:
            raise ClassifierUnavailable(f"{failure}; no tier is allowed under {plan.residency}")
        note = None
        if plan.residency is not None:
            moved = "" if rank == wanted else f", {self.failure.tier} has no endpoint there"
            note = f"residency: {plan.residency}{moved}"
        return self.failure.apply(
            failure,
            request_id=request_id,
            feature=feature,
            model=plan.models[rank],
            tier=plan.tiers[rank],
            note=note,
        )

    def classify(
        self,
        text: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        feature: str | None = None,
        request_id: str | None = None,
        deadline_ms: float | None = None,
    ) -> Routed:
        text = self._text(text, messages)
        try:
            prediction = self.classifier.classify(text, feature=feature)
            return self._routed(prediction, text, feature, request_id)
        except InputError:
            raise
        except Exception as exc:  # a broken session or bundle: an outage, not the caller's fault
            return self._failed(exc, text, feature, request_id)

    async def aclassify(
        self,
        text: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        feature: str | None = None,
        request_id: str | None = None,
        deadline_ms: float | None = None,
    ) -> Routed:
        return self.classify(text, messages=messages, feature=feature, request_id=request_id)

    def classify_batch(
        self,
        items: Sequence[RouteRequest],
        *,
        feature: str | None = None,
        deadline_ms: float | None = None,
    ) -> list[Routed]:
        texts = [self._text(item.text, item.messages) for item in items]
        features = [item.feature if item.feature is not None else feature for item in items]
        try:
            predictions = self.classifier.classify_batch(texts, features)
            return [
                self._routed(p, text, feat, item.request_id)
                for p, text, feat, item in zip(predictions, texts, features, items, strict=True)
            ]
        except InputError:
            raise
        except Exception as exc:
            return [
                self._failed(exc, text, f, item.request_id)
                for text, f, item in zip(texts, features, items, strict=True)
            ]

    async def aclassify_batch(
        self,
        items: Sequence[RouteRequest],
        *,
        feature: str | None = None,
        deadline_ms: float | None = None,
    ) -> list[Routed]:
        return self.classify_batch(items, feature=feature)

    def close(self) -> None:
        """Nothing to release (the session lives as long as the classifier)."""
