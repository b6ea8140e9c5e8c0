"""The per-shard work of Ray ingestion: read, validate, join and label, with no shared state.

Runs inside Ray Data tasks. Everything that depends on other shards (first valid record of a
request_id wins, which record a correction joins, orphans, the fingerprint) is decided after,
in the driver (training.engines.ray_ingest), from what each row carries here. A record is
labelled as if it were the first of its request_id; the driver keeps it only if it is.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pyarrow as pa
from pydantic import ValidationError

from classifier.logschema import CorrectionEvent, LogRecord
from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from training.engines.shards import Shard, iter_shard
from training.ingest.labels import DEFAULT_CODES, LabelCodes, derive_labels
from training.ingest.load import _before_detail, _best_effort_id, _merge_corrections, _reason

# Corrections by request_id: their raw lines (validated by the driver), parsed again only for
# the records they belong to: shipping bytes to each task is far cheaper than pydantic objects.
CorrectionIndex = dict[str, list[bytes]]

VALID, QUARANTINE, SUMMARY = 0, 1, 2  # `kind`: one SUMMARY row per shard carries its counts

SCHEMA = pa.schema(
    [
        ("kind", pa.int8()),
        ("source_index", pa.int32()),
        ("pos", pa.int64()),  # line (JSONL) or row (Parquet): read order within the source
        ("line", pa.int64()),
        ("row", pa.int64()),
        ("request_id", pa.string()),
        # quarantined rows only
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw", pa.binary()),
        ("overlong", pa.bool_()),
        # valid rows: what the driver's rules read (small, fetched for every row) ...
        ("ts", pa.float64()),
        ("contradiction", pa.bool_()),
        ("risk_raised", pa.bool_()),
        ("in_window", pa.int32()),
        ("outside_window", pa.int32()),
        ("n_inline", pa.int32()),
        ("n_index", pa.int32()),  # indexed corrections of this request_id
        ("n_before", pa.int32()),  # of which stamped before the record
        ("early", pa.string()),  # null, or JSON [raw, detail] per inline correction before ts
        ("before", pa.string()),  # null, or JSON [position, detail] of indexed ones stamped early
        ("digest", pa.binary()),
        # ... and the TrainingSet's columns, fetched for the winners only
        ("feature", pa.string()),
        ("text", pa.string()),
        ("intent", pa.int8()),
        ("risk", pa.int8()),
        ("tier_ok", pa.list_(pa.int8())),
        ("propensity", pa.float64()),
        ("first_tier", pa.int8()),
        ("input_tokens", pa.int32()),
        # SUMMARY rows only
        ("lines_read", pa.int64()),
        ("blank_lines", pa.int64()),
    ]
)
_FIELDS = SCHEMA.names


def scan_shard(
    shard: Shard, index: CorrectionIndex, taxonomy: Taxonomy = DEFAULT_TAXONOMY
) -> pa.Table:
    """One row per non-blank line (valid or quarantined) plus the shard's counts; labels and
    tiers are checked against, and coded by, `taxonomy` (as training.ingest does). Built one
    column at a time (a list per field), not from row dicts: the per-record cost that counts."""
    context = {"taxonomy": taxonomy}
    codes = DEFAULT_CODES if taxonomy == DEFAULT_TAXONOMY else LabelCodes.of(taxonomy)
    columns: dict[str, list[Any]] = {name: [] for name in _FIELDS}
    lines_read = blank = 0
    for item in iter_shard(shard):
        if item.blank:
            blank += 1
            continue
        lines_read += 1
        where = {
            "source_index": shard.source_index,
            "pos": item.line if item.line is not None else item.row,
            "line": item.line,
            "row": item.row,
        }
        if item.problem:
            detail = (
                "line longer than the limit (MAX_LINE_BYTES); it was skipped"
                if item.overlong
                else item.problem
            )
            code = item.problem.split(":")[0]
            _append(columns, {"kind": QUARANTINE, **where, "reason": code, "detail": detail,
                              "raw": item.data, "overlong": item.overlong})  # fmt: skip
            continue
        try:
            record = LogRecord.model_validate_json(item.data, strict=True, context=context)
        except ValidationError as error:
            code, detail = _reason(item.data, error)
            _append(columns, {"kind": QUARANTINE, **where, "reason": code, "detail": detail,
                              "raw": item.data, "overlong": False,
                              "request_id": _best_effort_id(item.data)})  # fmt: skip
            continue
        _append(columns, {"kind": VALID, **where, **_valid_row(record, item.data, index, codes)})
    _append(columns, {"kind": SUMMARY, "source_index": shard.source_index, "pos": shard.start,
                      "lines_read": lines_read, "blank_lines": blank})  # fmt: skip
    return pa.table([pa.array(columns[f.name], type=f.type) for f in SCHEMA], schema=SCHEMA)


def _append(columns: dict[str, list[Any]], values: dict[str, Any]) -> None:
    for name, column in columns.items():
        column.append(values.get(name))


def _valid_row(
    record: LogRecord, data: bytes, index: CorrectionIndex, codes: LabelCodes
) -> dict[str, Any]:
    """What the driver needs of a valid record, as ingest.py would derive it as the first one."""
    n_inline = len(record.corrections)
    early = [event for event in record.corrections if event.ts < record.ts]
    if early:
        kept = [event for event in record.corrections if event.ts >= record.ts]
        record = record.model_copy(update={"corrections": kept})
    digest = hashlib.sha256(data)
    joined, before = [], []
    for position, raw in enumerate(index.get(record.request_id, ())):
        event = CorrectionEvent.model_validate_json(raw, strict=True)
        if event.ts < record.ts:
            before.append([position, _before_detail(event.ts, record.ts)])
        else:
            joined.append(event)
            digest.update(b"\n" + raw)
    if joined:
        record = _merge_corrections(record, joined)
    labels = derive_labels(record, codes)
    propensity = record.route.propensity
    return {
        "request_id": record.request_id,
        "ts": record.ts.timestamp(),
        "feature": record.feature,
        "text": record.text,
        "intent": labels.intent,
        "risk": labels.risk,
        "tier_ok": list(labels.tier_ok),
        "propensity": float("nan") if propensity is None else propensity,
        "first_tier": codes.tier_rank[record.route.tier],
        "input_tokens": record.attempts[0].input_tokens if record.attempts else -1,
        "contradiction": labels.contradiction,
        "risk_raised": labels.risk_raised,
        "in_window": labels.corrections_in_window,
        "outside_window": labels.corrections_outside_window,
        "n_inline": n_inline,
        "n_index": len(index.get(record.request_id, ())),
        "n_before": len(before),
        "early": orjson.dumps(
            [
                [orjson.dumps(e.model_dump(mode="json")).decode(), _before_detail(e.ts, record.ts)]
                for e in early
            ]
        ).decode()
        if early
        else None,
        "before": orjson.dumps(before).decode() if before else None,
        "digest": digest.digest(),
    }
