"""Ingestion: routing logs (JSONL or Parquet) in, a columnar TrainingSet and an IngestReport out.

Corrections are small, so they are indexed first; logs are then streamed one line at a time,
validated strictly against schema v1, joined with their corrections and reduced to label columns,
so a million records never exist as a million Python objects at once. Every line ends up valid,
quarantined (with its place and reason) or counted blank: `valid + quarantined == lines_read`.
Damage is data too: an instant outside years 1-9999, a correction stamped before its request, a
truncated `.gz` or Parquet file are quarantined and counted, and the run goes on.

    >>> data, report = load_training_set([Path("logs.jsonl")], [Path("corrections.jsonl")],
    ...                                  quarantine_path=Path("quarantine.jsonl"))  # doctest: +SKIP
    >>> report.balanced  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from classifier.logschema import CorrectionEvent, LogRecord
from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from training.ingest.labels import OK, UNKNOWN, TrainingSet, TrainingSetBuilder
from training.ingest.objectstore import ObjectPath, Source, expand_sources
from training.ingest.quarantine import QuarantineWriter, reason_for
from training.ingest.readers import DAMAGE_REASONS, RawItem, check_source, iter_raw

log = logging.getLogger(__name__)

FINGERPRINT_VERSION = b"tierwise-ingest-v1"


@dataclass
class IngestReport:
    """What ingestion read, kept, refused and derived; logged whole to MLflow via to_dict().

    Log lines: `lines_read` counts non-blank lines and Parquet rows, each either `valid` or
    `quarantined`; `blank_lines` are counted apart. Correction lines: each is `corrections_joined`
    to a valid record or `corrections_quarantined`. Inline corrections stamped before their
    request are taken out of their (valid) record and counted in `corrections_inline_quarantined`.
    `damaged_sources` names each file that could not be read to its end, with the reason.
    """

    sources: list[str] = field(default_factory=list)
    correction_sources: list[str] = field(default_factory=list)
    lines_read: int = 0
    blank_lines: int = 0
    valid: int = 0
    quarantined: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    out_of_order: int = 0
    contradictions: int = 0
    risk_raised: int = 0
    corrections_read: int = 0
    corrections_blank_lines: int = 0
    corrections_joined: int = 0
    corrections_quarantined: int = 0
    corrections_inline: int = 0
    corrections_inline_quarantined: int = 0
    corrections_in_window: int = 0
    corrections_outside_window: int = 0
    corrections_before_request: int = 0
    damaged_sources: dict[str, str] = field(default_factory=dict)
    tier_labels: dict[str, dict[str, int]] = field(default_factory=dict)
    time_range: tuple[str, str] | None = None
    fingerprint: str = ""
    quarantine_path: str | None = None

    @property
    def balanced(self) -> bool:
        """True when every read line is accounted for (always, unless there is a bug)."""
        return (
            self.valid + self.quarantined == self.lines_read
            and self.corrections_joined + self.corrections_quarantined == self.corrections_read
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["time_range"] = list(self.time_range) if self.time_range else None
        return out


@dataclass
class _Located:
    event: CorrectionEvent
    item: RawItem


class _Ingestion:
    """One pass over the sources; `records()` yields valid joined records and fills `report`."""

    def __init__(
        self,
        logs: Sequence[Source | str],
        corrections: Sequence[Source | str],
        quarantine_path: Path | None,
        taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    ) -> None:
        # labels are checked against the training taxonomy (classifier.logschema)
        self._context = {"taxonomy": taxonomy}
        self.logs = _paths(logs)
        self.corrections = _paths(corrections)
        for path in [*self.logs, *self.corrections]:
            check_source(path)
        self.report = IngestReport(
            sources=[str(p) for p in self.logs],
            correction_sources=[str(p) for p in self.corrections],
        )
        self._quarantine_path = quarantine_path
        self.quarantine: QuarantineWriter  # opened when iteration starts, closed when it stops
        self._digests: list[bytes] = []
        self._seen: set[str] = set()
        self._quarantined_ids: set[str] = set()
        self._ts_min = float("inf")
        self._ts_max = float("-inf")

    def records(self) -> Iterator[LogRecord]:
        for record, _ in self.timed_records():
            yield record

    def timed_records(self) -> Iterator[tuple[LogRecord, float]]:
        """Valid records with their ts as epoch seconds (computed once, used twice)."""
        self.quarantine = QuarantineWriter(self._quarantine_path)
        try:
            index = self._index_corrections()
            for path in self.logs:
                latest = float("-inf")
                for item in iter_raw(path):
                    record = self._accept(item, index)
                    if record is None:
                        continue
                    ts = record.ts.timestamp()
                    if ts < latest:
                        self.report.out_of_order += 1
                    else:
                        latest = ts
                    if ts < self._ts_min:
                        self._ts_min = ts
                    if ts > self._ts_max:
                        self._ts_max = ts
                    yield record, ts
            self._quarantine_orphans(index)
        finally:
            self.quarantine.close()
        self._finish()

    def _index_corrections(self) -> dict[str, list[_Located]]:
        index: dict[str, list[_Located]] = {}
        seen: set[tuple[str, datetime, str]] = set()
        report = self.report
        for path in self.corrections:
            for item in iter_raw(path):
                if item.blank:
                    report.corrections_blank_lines += 1
                    continue
                report.corrections_read += 1
                if item.problem:
                    code = "correction_" + item.problem.split(":")[0]
                    self._refuse(item, "corrections", code, item.problem)
                    continue
                try:
                    event = CorrectionEvent.model_validate_json(item.data, strict=True)
                except ValidationError as error:
                    code, detail = _reason(item.data, error)
                    self._refuse(item, "corrections", f"correction_{code}", detail)
                    continue
                key = (event.request_id, event.ts, event.kind)
                if key in seen:
                    self._refuse(
                        item, "corrections", "correction_duplicate",
                        "an identical event (request_id, ts, kind) was read earlier",
                        event.request_id,
                    )  # fmt: skip
                    continue
                seen.add(key)
                index.setdefault(event.request_id, []).append(_Located(event, item))
        return index

    def _accept(self, item: RawItem, index: dict[str, list[_Located]]) -> LogRecord | None:
        report = self.report
        if item.blank:
            report.blank_lines += 1
            return None
        report.lines_read += 1
        if item.problem:
            detail = (
                "line longer than the limit (MAX_LINE_BYTES); it was skipped"
                if item.overlong
                else item.problem
            )
            self._refuse(item, "logs", item.problem.split(":")[0], detail)
            return None
        try:
            record = LogRecord.model_validate_json(item.data, strict=True, context=self._context)
        except ValidationError as error:
            code, detail = _reason(item.data, error)
            request_id = _best_effort_id(item.data)
            if request_id:
                self._quarantined_ids.add(request_id)
            self._refuse(item, "logs", code, detail, request_id)
            return None
        request_id = record.request_id
        if request_id in self._seen:
            report.duplicates += 1
            self._refuse(
                item, "logs", "duplicate_request_id",
                "an earlier valid record has this request_id; the first occurrence wins",
                request_id,
            )  # fmt: skip
            return None
        self._seen.add(request_id)
        report.valid += 1
        report.corrections_inline += len(record.corrections)
        digest = hashlib.sha256(item.data)
        early = [event for event in record.corrections if event.ts < record.ts]
        if early:
            for event in early:
                self._refuse_inline(item, event, record.ts)
            kept = [event for event in record.corrections if event.ts >= record.ts]
            record = record.model_copy(update={"corrections": kept})
        joined = []
        for located in index.pop(request_id, ()):
            if located.event.ts < record.ts:
                report.corrections_before_request += 1
                self._refuse(
                    located.item, "corrections", "correction_before_request",
                    _before_detail(located.event.ts, record.ts), request_id,
                )  # fmt: skip
            else:
                joined.append(located)
        if joined:
            report.corrections_joined += len(joined)
            for located in joined:
                digest.update(b"\n" + located.item.data)
            record = _merge_corrections(record, [located.event for located in joined])
        self._digests.append(digest.digest())
        return record

    def _refuse_inline(self, item: RawItem, event: CorrectionEvent, request_ts: datetime) -> None:
        """Quarantine one inline correction stamped before its request; its record stays valid."""
        self.report.corrections_before_request += 1
        self.report.corrections_inline_quarantined += 1
        self.quarantine.write(
            stream="corrections", source=item.source, line=item.line, row=item.row,
            reason="correction_before_request", detail=_before_detail(event.ts, request_ts),
            raw=orjson.dumps(event.model_dump(mode="json")), request_id=event.request_id,
            inline=True,
        )  # fmt: skip

    def _quarantine_orphans(self, index: dict[str, list[_Located]]) -> None:
        for request_id, events in index.items():
            if request_id in self._quarantined_ids:
                code, why = "correction_request_quarantined", "its log record was quarantined"
            else:
                code, why = "correction_unknown_request", "no log record has this request_id"
            for located in events:
                self._refuse(located.item, "corrections", code, why, request_id)
        index.clear()

    def _refuse(
        self, item: RawItem, stream: str, reason: str, detail: str, request_id: str | None = None
    ) -> None:
        if stream == "logs":
            self.report.quarantined += 1
        else:
            self.report.corrections_quarantined += 1
        if reason.removeprefix("correction_") in DAMAGE_REASONS:
            self.report.damaged_sources[item.source] = reason
        self.quarantine.write(
            stream=stream, source=item.source, line=item.line, row=item.row, reason=reason,
            detail=detail, raw=item.data, request_id=request_id, raw_truncated=item.overlong,
        )  # fmt: skip

    def _finish(self) -> None:
        report = self.report
        report.quarantine_by_reason = dict(sorted(self.quarantine.by_reason.items()))
        report.quarantine_path = str(self.quarantine.path) if self.quarantine.path else None
        if report.valid:
            report.time_range = (_iso(self._ts_min), _iso(self._ts_max))
        header = b"\n".join(
            [
                FINGERPRINT_VERSION,
                str(report.valid).encode(),
                repr(self._ts_min if report.valid else None).encode(),
                repr(self._ts_max if report.valid else None).encode(),
                str(
                    report.quarantined
                    + report.corrections_quarantined
                    + report.corrections_inline_quarantined
                ).encode(),
            ]
        )
        final = hashlib.sha256(header)
        # Sorted, so the fingerprint names the set of records whatever the line or file order.
        for digest in sorted(self._digests):
            final.update(digest)
        report.fingerprint = "sha256:" + final.hexdigest()
        for source, reason in report.damaged_sources.items():
            log.warning("%s could not be read to its end (%s); see %s",
                        source, reason, report.quarantine_path)  # fmt: skip
        if self.quarantine.by_reason:
            log.warning(
                "quarantined %d log lines, %d correction lines and %d inline corrections (%s); "
                "see %s",
                report.quarantined, report.corrections_quarantined,
                report.corrections_inline_quarantined, report.quarantine_by_reason,
                report.quarantine_path,
            )  # fmt: skip
        log.info(
            "ingested %d valid records of %d lines (%d blank) from %d sources",
            report.valid, report.lines_read, report.blank_lines, len(report.sources),
        )  # fmt: skip


def _paths(paths: Sequence[Source | str] | Source | str) -> list[Source]:
    """Local paths and store URIs (a prefix: every log file under it). A single path is
    accepted too: iterating a str or Path would go wrong quietly."""
    if isinstance(paths, (str, Path, ObjectPath)):
        return expand_sources([paths])
    return expand_sources(paths)


def _reason(data: bytes, error: ValidationError) -> tuple[str, str]:
    code, detail = reason_for(error)
    if code == "bad_json":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "bad_utf8", f"line is not valid UTF-8: {exc}"
    return code, detail


def _best_effort_id(data: bytes) -> str | None:
    """The request_id of a refused line when it can be read, so orphaned corrections say why."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    value = parsed.get("request_id") if isinstance(parsed, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _before_detail(event_ts: datetime, request_ts: datetime) -> str:
    seconds = (request_ts - event_ts).total_seconds()
    return (
        f"correction stamped {seconds:g} s before its request ({request_ts.isoformat()}); it "
        "cannot be about the served answer, so it does not mark the tier failed: check the "
        "exporter's clocks"
    )


def _merge_corrections(record: LogRecord, joined: list[CorrectionEvent]) -> LogRecord:
    """Inline and joined corrections, time-ordered; an event present in both is kept once."""
    merged = {(e.ts, e.kind): e for e in record.corrections}
    for event in joined:
        merged.setdefault((event.ts, event.kind), event)
    events = sorted(merged.values(), key=lambda e: e.ts)
    return record.model_copy(update={"corrections": events})


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def iter_valid_records(
    logs: Sequence[Source | str],
    corrections: Sequence[Source | str] = (),
    quarantine_path: Path | None = None,
) -> Iterator[LogRecord]:
    """Valid records in read order, with joined corrections inline; refused ones are quarantined.

    Orphaned corrections are quarantined once the iterator is exhausted.
    """
    return _Ingestion(logs, corrections, quarantine_path).records()


def load_training_set(
    logs: Sequence[Source | str],
    corrections: Sequence[Source | str] = (),
    quarantine_path: Path | None = None,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
) -> tuple[TrainingSet, IngestReport]:
    """Stream, validate, join and label the logs; returns the set sorted by ts and the report.

    Labels and tiers must be `taxonomy`'s (a record with another is quarantined, with the reason).
    """
    ingestion = _Ingestion(logs, corrections, quarantine_path, taxonomy)
    builder = TrainingSetBuilder(taxonomy)
    report = ingestion.report
    for record, ts in ingestion.timed_records():
        labels = builder.add(record, ts)
        report.contradictions += labels.contradiction
        report.risk_raised += labels.risk_raised
        report.corrections_in_window += labels.corrections_in_window
        report.corrections_outside_window += labels.corrections_outside_window
    data = builder.build()
    report.tier_labels = {
        tier: {
            "ok": int((data.tier_ok[:, t] == OK).sum()),
            "fail": int((data.tier_ok[:, t] == 0).sum()),
            "unknown": int((data.tier_ok[:, t] == UNKNOWN).sum()),
        }
        for t, tier in enumerate(taxonomy.tiers)
    }
    return data, report
