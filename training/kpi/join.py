"""Decisions from the logs, and KPI events attributed to them.

A decision row is one logged request (schema v1, read through ingestion, so invalid lines are
quarantined as in training). Its arm is `route.variant` (the A/B arm) or else `route.policy`;
its prompt version `prompt_id` (`(none)` when not sent); its cost the sum of its attempts'
`cost_usd` and its failure "the served answer failed (the last attempt) or was corrected within
300 s"; both unknown (NaN) for a record without attempts (a bare decision, no outcome yet).

An event naming a `request_id` counts for that decision; one naming only a `conversation_id`
for the conversation's latest decision at or before the event (last touch). Events that match
nothing are counted by reason, not dropped silently.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifier.kpischema import KPI_KINDS, KpiEvent
from classifier.logschema import LogRecord
from training.ingest.labels import correction_timing
from training.ingest.load import iter_valid_records

NO_PROMPT = "(none)"
VERSION_KEYS = ("model_version", "contracts_version", "routing_table_version")


@dataclass
class Decisions:
    """One row per decision; `kpi[kind]` is the sum of that kind's event values per row."""

    request_id: list[str] = field(default_factory=list)
    unit: list[str] = field(default_factory=list)  # conversation id, else request id
    conversation: list[str | None] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    arm: list[str] = field(default_factory=list)
    prompt: list[str] = field(default_factory=list)
    versions: list[tuple[str | None, ...]] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    failed: list[float] = field(default_factory=list)
    escalated: list[float] = field(default_factory=list)
    kpi: dict[str, np.ndarray] = field(default_factory=dict)
    unmatched: Counter[str] = field(default_factory=Counter)
    matched: int = 0

    def __len__(self) -> int:
        return len(self.request_id)

    def add(self, record: LogRecord) -> None:
        meta = record.meta
        conversation = meta.get("conversation_id")
        found = meta.get("experiment")
        experiment: dict[str, Any] = found if isinstance(found, dict) else {}
        self.request_id.append(record.request_id)
        self.conversation.append(conversation if isinstance(conversation, str) else None)
        self.unit.append(
            f"c:{conversation}" if isinstance(conversation, str) else record.request_id
        )
        self.ts.append(record.ts.timestamp())
        self.arm.append(record.route.variant or record.route.policy)
        self.prompt.append(record.prompt_id or NO_PROMPT)
        model = experiment.get("model_version", record.route.model_version)
        self.versions.append((model, *(experiment.get(k) for k in VERSION_KEYS[1:])))
        if record.attempts:
            served_ok = record.attempts[-1].ok
            self.cost.append(sum(a.cost_usd for a in record.attempts))
            self.failed.append(float(not served_ok or correction_timing(record).within > 0))
            self.escalated.append(float(bool(record.escalations)))
        else:
            self.cost.append(np.nan)
            self.failed.append(np.nan)
            self.escalated.append(np.nan)

    def attach(self, events: Iterable[KpiEvent]) -> None:
        """Add each event's value to the decision it follows (module docstring)."""
        n = len(self)
        self.kpi = {kind: np.zeros(n) for kind in KPI_KINDS}
        by_request = {rid: i for i, rid in enumerate(self.request_id)}
        turns: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for i, conversation in enumerate(self.conversation):
            if conversation is not None:
                turns[conversation].append((self.ts[i], i))
        for found in turns.values():
            found.sort()
        for event in events:
            row = self._row(event, by_request, turns)
            if row is not None:
                self.kpi[event.kind][row] += event.value
                self.matched += 1

    def _row(
        self,
        event: KpiEvent,
        by_request: dict[str, int],
        turns: dict[str, list[tuple[float, int]]],
    ) -> int | None:
        if event.request_id is not None:
            row = by_request.get(event.request_id)
            if row is None:
                self.unmatched["unknown request_id"] += 1
            return row
        assert event.conversation_id is not None  # the schema asks for one of the two
        found = turns.get(event.conversation_id)
        if not found:
            self.unmatched["unknown conversation_id"] += 1
            return None
        at = bisect.bisect_right(found, (event.ts.timestamp(), len(self)))
        if at == 0:
            self.unmatched["before the conversation's first decision"] += 1
            return None
        return found[at - 1][1]


def load_decisions(
    logs: Sequence[Path], corrections: Sequence[Path] = (), quarantine: Path | None = None
) -> Decisions:
    decisions = Decisions()
    for record in iter_valid_records(logs, corrections, quarantine):
        decisions.add(record)
    return decisions
