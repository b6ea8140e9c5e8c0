"""Training labels from routing logs, with censoring explicit (DESIGN section 4).

A routed request tells us only what the router tried. A request first sent to `mini` that
succeeded says nothing about `nano`, so its nano label stays unknown (-1) instead of a guess.
The rules, in the order they apply (docs/logs-and-labels.md has the long form):

1. Intent and risk come from `labels`; null means unknown (-1).
2. An escalation with cause `compliance_fail` marks the trace high-risk (the playbook's rule),
   so risk becomes `high` whatever `labels` said.
3. Per tier, the *latest* evidence is the observation: each attempt is ok when schema_ok and
   compliance_ok and error is null; an escalation whose cause names a failure (schema, compliance,
   error, timeout) marks its `from` tier failed (it is the router's verdict after that tier's
   attempts); a correction within CORRECTION_WINDOW_S after the request (0 to 300 s, both
   inclusive) overturns the served (last) attempt's tier to failed. One stamped before its
   request cannot be about the answer: it is counted and changes nothing (ingestion quarantines it).
4. Monotonicity fills the rest: a failed tier implies every lower tier fails, an ok tier implies
   every higher tier succeeds.
5. Contradictions (a lower tier observed ok, a higher one observed failed) keep only what every
   monotone labelling that agrees with the most observations has in common; a tier whose own
   observation is outvoted becomes unknown, never flipped. Such records are counted.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, NamedTuple

import numpy as np

from classifier.logschema import CORRECTION_WINDOW_S, LogRecord
from classifier.taxonomy import DEFAULT_TAXONOMY, INTENTS, RISKS, TIER_RANK, TIERS, Taxonomy

UNKNOWN = -1
OK, FAIL = 1, 0
HIGH_RISK = RISKS.index("high")
# Escalation causes that mean the `from` tier failed. Others (e.g. `risk_floor`, `manual`) move a
# request up for reasons that say nothing about the lower tier's answer.
FAILURE_CAUSE_PREFIXES = ("schema_fail", "compliance_fail", "error", "timeout")
COMPLIANCE_CAUSE = "compliance_fail"

_INTENT_INDEX = {name: i for i, name in enumerate(INTENTS)}
_RISK_INDEX = {name: i for i, name in enumerate(RISKS)}


def _resolve(observed: tuple[int, ...]) -> tuple[tuple[int, ...], bool]:
    """Monotone labels for one tuple of per-tier observations (1 ok, 0 fail, -1 none).

    A monotone labelling is a threshold k: tiers below k fail, tiers from k up succeed. Keep the
    thresholds that agree with the most observations; a tier is labelled only where all of them
    agree and its own observation (if any) is not overturned.
    """
    n = len(observed)
    scores = []
    for k in range(n + 1):
        scores.append(sum(1 for t, o in enumerate(observed) if o != UNKNOWN and o == (t >= k)))
    best = max(scores)
    kept = [k for k in range(n + 1) if scores[k] == best]
    labels = []
    for t, o in enumerate(observed):
        votes = {int(t >= k) for k in kept}
        value = votes.pop() if len(votes) == 1 else UNKNOWN
        if o != UNKNOWN and value != o:
            value = UNKNOWN
        labels.append(value)
    contradicted = best < sum(1 for o in observed if o != UNKNOWN)
    return tuple(labels), contradicted


def resolution_table(n_tiers: int) -> dict[tuple[int, ...], tuple[tuple[int, ...], bool]]:
    """Every observation pattern of `n_tiers` tiers resolved (3 ** n_tiers entries)."""
    return {obs: _resolve(obs) for obs in product((UNKNOWN, FAIL, OK), repeat=n_tiers)}


# All 27 observation patterns resolved once, so derivation is one dict look-up per record.
RESOLUTION = resolution_table(len(TIERS))


@dataclass(frozen=True)
class LabelCodes:
    """A taxonomy's labels as the numbers training uses (column and class order = the lists)."""

    taxonomy: Taxonomy
    intent_index: dict[str, int]
    risk_index: dict[str, int]
    tier_rank: dict[str, int]
    high_risk: int  # a compliance failure raises the risk to the highest level
    resolution: dict[tuple[int, ...], tuple[tuple[int, ...], bool]]

    @classmethod
    def of(cls, taxonomy: Taxonomy) -> LabelCodes:
        return cls(
            taxonomy,
            {name: i for i, name in enumerate(taxonomy.intents)},
            {name: i for i, name in enumerate(taxonomy.risks)},
            dict(taxonomy.tier_rank),
            len(taxonomy.risks) - 1,
            RESOLUTION if len(taxonomy.tiers) == len(TIERS) else resolution_table(
                len(taxonomy.tiers)),
        )  # fmt: skip

    @property
    def n_tiers(self) -> int:
        return len(self.tier_rank)


DEFAULT_CODES = LabelCodes(
    DEFAULT_TAXONOMY, _INTENT_INDEX, _RISK_INDEX, dict(TIER_RANK), HIGH_RISK, RESOLUTION
)


class RecordLabels(NamedTuple):
    """Everything training needs from one record, already reduced to numbers."""

    intent: int
    risk: int
    tier_ok: tuple[int, ...]
    observed: tuple[int, ...]
    contradiction: bool
    risk_raised: bool
    corrections_in_window: int
    corrections_outside_window: int
    corrections_before_request: int


class CorrectionTiming(NamedTuple):
    """A record's corrections by when they came: only `within` marks the served tier failed."""

    within: int
    after: int
    before: int


def correction_timing(record: LogRecord) -> CorrectionTiming:
    """Count corrections within 0-300 s of the request, later, and (clock skew) before it.

    The one place that decides whether a correction overturns a tier, for labels and replay alike.
    """
    within = after = before = 0
    if record.corrections:
        request_ts = record.ts.timestamp()
        for event in record.corrections:
            delta = event.ts.timestamp() - request_ts
            if delta < 0:
                before += 1
            elif delta <= CORRECTION_WINDOW_S:
                within += 1
            else:
                after += 1
    return CorrectionTiming(within, after, before)


def derive_labels(record: LogRecord, codes: LabelCodes = DEFAULT_CODES) -> RecordLabels:
    """Intent, risk and per-tier outcome of one record, following the module's rules 1-5.

    `codes`: the taxonomy the record was validated against (default: the seven intents).
    """
    labels = record.labels
    intent = codes.intent_index[labels.intent] if labels and labels.intent else UNKNOWN
    risk = codes.risk_index[labels.risk] if labels and labels.risk else UNKNOWN
    risk_raised = False
    rank, high = codes.tier_rank, codes.high_risk
    observed = [UNKNOWN] * codes.n_tiers
    for attempt in record.attempts:
        observed[rank[attempt.tier]] = OK if attempt.ok else FAIL
    for escalation in record.escalations:
        if escalation.cause.startswith(FAILURE_CAUSE_PREFIXES):
            observed[rank[escalation.from_tier]] = FAIL
        if escalation.cause.startswith(COMPLIANCE_CAUSE):
            risk_raised = risk_raised or risk != high
            risk = high
    in_window, outside, before = correction_timing(record)
    served = record.served_tier
    if in_window and served is not None:
        observed[rank[served]] = FAIL
    obs = tuple(observed)
    tier_ok, contradiction = codes.resolution[obs]
    return RecordLabels(
        intent,
        risk,
        tier_ok,
        obs,
        contradiction,
        risk_raised,
        in_window,
        outside,
        before,
    )


@dataclass
class TrainingSet:
    """Columnar training data sorted by `ts`: one list or array per field, not one object per row.

    `tier_ok[i, t]` is 1 (tier t observed or implied ok), 0 (failed) or -1 (censored: unknown).
    """

    request_id: list[str]
    ts: np.ndarray
    feature: list[str]
    text: list[str]
    intent: np.ndarray
    risk: np.ndarray
    tier_ok: np.ndarray
    propensity: np.ndarray
    first_tier: np.ndarray
    input_tokens: np.ndarray
    # `name@version` of the prompt that made the request (None: not sent), so training and
    # replay can be sliced by prompt version; optional for sets built before it existed.
    prompt_id: list[str | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.request_id)
        if self.prompt_id is None:
            self.prompt_id = [None] * n
        sizes = {
            "ts": len(self.ts), "feature": len(self.feature), "text": len(self.text),
            "intent": len(self.intent), "risk": len(self.risk), "tier_ok": len(self.tier_ok),
            "propensity": len(self.propensity), "first_tier": len(self.first_tier),
            "input_tokens": len(self.input_tokens), "prompt_id": len(self.prompt_id),
        }  # fmt: skip
        wrong = {name: size for name, size in sizes.items() if size != n}
        if wrong:
            raise ValueError(f"TrainingSet columns disagree with request_id's length {n}: {wrong}")
        if self.tier_ok.ndim != 2 or len(self.tier_ok) != n or self.tier_ok.shape[1] < 2:
            raise ValueError(
                f"tier_ok must have shape ({n}, number of tiers >= 2), got {self.tier_ok.shape}"
            )

    def __len__(self) -> int:
        return len(self.request_id)

    def subset(self, mask_or_index: Any) -> TrainingSet:
        """Rows selected by a boolean mask or an index array, in the order given."""
        index = np.asarray(mask_or_index)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"mask has shape {index.shape}; expected ({len(self)},)")
            index = np.flatnonzero(index)
        index = index.astype(np.intp, copy=False)
        return TrainingSet(
            request_id=[self.request_id[i] for i in index],
            ts=self.ts[index],
            feature=[self.feature[i] for i in index],
            text=[self.text[i] for i in index],
            intent=self.intent[index],
            risk=self.risk[index],
            tier_ok=self.tier_ok[index],
            propensity=self.propensity[index],
            first_tier=self.first_tier[index],
            input_tokens=self.input_tokens[index],
            prompt_id=[self.prompt_id[i] for i in index] if self.prompt_id else None,
        )


class TrainingSetBuilder:
    """Accumulates records into typed buffers so that a million records stay a few arrays."""

    def __init__(self, taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> None:
        self.codes = DEFAULT_CODES if taxonomy == DEFAULT_TAXONOMY else LabelCodes.of(taxonomy)
        self._request_id: list[str] = []
        self._feature: list[str] = []
        self._text: list[str] = []
        self._ts = array("d")
        self._intent = array("b")
        self._risk = array("b")
        self._tier_ok = array("b")
        self._propensity = array("d")
        self._first_tier = array("b")
        self._input_tokens = array("i")
        self._prompt_id: list[str | None] = []

    def __len__(self) -> int:
        return len(self._request_id)

    def add(self, record: LogRecord, ts: float | None = None) -> RecordLabels:
        """Append one record's columns; `ts` (epoch s) saves recomputing it when known."""
        labels = derive_labels(record, self.codes)
        self._request_id.append(record.request_id)
        self._feature.append(sys.intern(record.feature))  # a handful of distinct names
        prompt = record.prompt_id
        self._prompt_id.append(sys.intern(prompt) if prompt is not None else None)
        self._text.append(record.text)
        self._ts.append(record.ts.timestamp() if ts is None else ts)
        self._intent.append(labels.intent)
        self._risk.append(labels.risk)
        self._tier_ok.extend(labels.tier_ok)
        propensity = record.route.propensity
        self._propensity.append(float("nan") if propensity is None else propensity)
        self._first_tier.append(self.codes.tier_rank[record.route.tier])
        # The first attempt's prompt size is what the router would have paid at any tier.
        self._input_tokens.append(record.attempts[0].input_tokens if record.attempts else -1)
        return labels

    def build(self) -> TrainingSet:
        """The accumulated rows as a TrainingSet sorted by ts (stable: ties keep read order)."""
        ts = np.frombuffer(self._ts, dtype=np.float64).copy()
        order = np.argsort(ts, kind="stable")
        n = len(ts)

        def take(values: Sequence[str]) -> list[str]:
            return [values[i] for i in order]

        return TrainingSet(
            request_id=take(self._request_id),
            ts=ts[order],
            feature=take(self._feature),
            text=take(self._text),
            intent=np.frombuffer(self._intent, dtype=np.int8)[order].copy(),
            risk=np.frombuffer(self._risk, dtype=np.int8)[order].copy(),
            tier_ok=np.frombuffer(self._tier_ok, dtype=np.int8)
            .reshape(n, self.codes.n_tiers)[order]
            .copy(),
            propensity=np.frombuffer(self._propensity, dtype=np.float64)[order].copy(),
            first_tier=np.frombuffer(self._first_tier, dtype=np.int8)[order].copy(),
            input_tokens=np.frombuffer(self._input_tokens, dtype=np.int32)[order].copy(),
            prompt_id=[self._prompt_id[i] for i in order],
        )
