"""The driver's part of Ray ingestion: the order-dependent rules, over small columns.

Each shard task (training.engines.ray_scan) labels every valid record as if it were the first
of its request_id. What depends on other shards is decided here, in read order, on numpy
columns and integer codes of the request_ids, never on Python rows: the first valid record of a
request_id wins (later ones are quarantined as duplicates), corrections join the winners (or
are quarantined as stamped before them, or as orphans), and the report's counts are sums over
the winners. Only rows that write a quarantine entry are visited one by one, in read order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from training.engines.ray_scan import QUARANTINE, SUMMARY, VALID
from training.engines.shards import Shard, iter_shard
from training.ingest.load import _Ingestion
from training.ingest.readers import RawItem

# Small per-row columns the driver keeps for every row (valid or quarantined, all shards).
NUMERIC = (
    "kind", "source_index", "pos", "line", "row", "ts", "contradiction", "risk_raised",
    "in_window", "outside_window", "n_inline", "n_index", "n_before",
)  # fmt: skip
# plus `has_event`: the row writes quarantine entries (quarantined, or corrections stamped early)
# What a row that writes quarantine entries needs besides: read for those rows only.
EVENT = ("request_id", "reason", "detail", "raw", "overlong", "early", "before")


@dataclass
class Compact:
    """Every row's small columns (numpy, nulls as -1 / 0), request_id and digest as Arrow, and
    the Python values of the rows that write quarantine entries, by global row number."""

    num: dict[str, np.ndarray]
    request_id: pa.Array
    digest: pa.Array
    events: dict[int, dict[str, Any]]


def reconcile(ingestion: _Ingestion, rows: Compact, located: dict[str, list[Any]]) -> np.ndarray:
    """Apply the rules and fill `ingestion.report`; returns the winners' global row numbers in
    the TrainingSet's order (time, then source, then line)."""
    num, report = rows.num, ingestion.report
    kind, source, pos = num["kind"], num["source_index"], num["pos"]
    keep = np.flatnonzero(kind != SUMMARY)
    order = keep[np.lexsort((pos[keep], source[keep]))]  # read order
    valid = order[kind[order] == VALID]
    codes = pc.fill_null(pc.dictionary_encode(rows.request_id).indices, -1).to_numpy()
    _, first = np.unique(codes[valid], return_index=True)
    winners = valid[np.sort(first)]  # read order
    is_winner = np.zeros(len(kind), dtype=bool)
    is_winner[winners] = True
    duplicate = np.zeros(len(kind), dtype=bool)
    duplicate[valid] = True
    duplicate[winners] = False
    special = (kind == QUARANTINE) | duplicate | (is_winner & num["has_event"])
    visit = order[special[order]]
    raws = _raw_lines(ingestion.logs, num, np.flatnonzero(duplicate))
    for i in visit.tolist():
        _visit(ingestion, rows, located, int(i), raws, bool(duplicate[i]))
    _count_winners(ingestion, rows, winners)
    if located:
        keys = pa.array(list(located), type=pa.string())
        joined = pc.is_in(keys, value_set=rows.request_id.take(pa.array(winners)))
        for rid in keys.filter(joined).to_pylist():
            del located[rid]
    ingestion._quarantine_orphans(located)
    report.duplicates += int(duplicate.sum())
    return winners[np.lexsort((pos[winners], source[winners], num["ts"][winners]))]


def _place(ingestion: _Ingestion, num: dict[str, np.ndarray], i: int) -> tuple[str, Any, Any]:
    line, row = int(num["line"][i]), int(num["row"][i])
    source = str(ingestion.logs[int(num["source_index"][i])])
    return source, (None if line < 0 else line), (None if row < 0 else row)


def _visit(
    ingestion: _Ingestion, rows: Compact, located: dict[str, list[Any]], i: int,
    raws: dict[int, bytes], duplicate: bool,
) -> None:  # fmt: skip
    """The quarantine entries of row `i`, as `_Ingestion._accept` writes them."""
    report, num = ingestion.report, rows.num
    source, line, row = _place(ingestion, num, i)
    if duplicate:
        rid = rows.request_id[i].as_py()
        ingestion._refuse(
            RawItem(source, line, row, raws[i]), "logs", "duplicate_request_id",
            "an earlier valid record has this request_id; the first occurrence wins", rid,
        )  # fmt: skip
        return
    event = rows.events[i]
    rid = event["request_id"]
    if num["kind"][i] == QUARANTINE:
        if rid:
            ingestion._quarantined_ids.add(rid)
        item = RawItem(source, line, row, event["raw"], overlong=bool(event["overlong"]))
        ingestion._refuse(item, "logs", event["reason"], event["detail"], rid)
        return
    for raw, detail in orjson.loads(event["early"] or b"[]"):
        report.corrections_before_request += 1
        report.corrections_inline_quarantined += 1
        ingestion.quarantine.write(
            stream="corrections", source=source, line=line, row=row,
            reason="correction_before_request", detail=detail, raw=raw.encode(),
            request_id=rid, inline=True,
        )  # fmt: skip
    before = dict(orjson.loads(event["before"] or b"[]"))
    for position, located_event in enumerate(located.get(rid, ())):
        if position in before:
            report.corrections_before_request += 1
            ingestion._refuse(located_event.item, "corrections", "correction_before_request",
                              before[position], rid)  # fmt: skip


def _count_winners(ingestion: _Ingestion, rows: Compact, winners: np.ndarray) -> None:
    """The report's sums over the winners, the time range and the fingerprint's digests."""
    report, num = ingestion.report, rows.num

    def total(name: str) -> int:
        return int(num[name][winners].sum())

    report.valid += len(winners)
    report.corrections_inline += total("n_inline")
    report.corrections_joined += total("n_index") - total("n_before")
    report.contradictions += total("contradiction")
    report.risk_raised += total("risk_raised")
    report.corrections_in_window += total("in_window")
    report.corrections_outside_window += total("outside_window")
    ts, source = num["ts"][winners], num["source_index"][winners]
    for s in np.unique(source):  # a record older than one before it in the same source
        group = ts[source == s]
        report.out_of_order += int(np.sum(group[1:] < np.maximum.accumulate(group)[:-1]))
    if len(winners):
        ingestion._ts_min = min(ingestion._ts_min, float(ts.min()))
        ingestion._ts_max = max(ingestion._ts_max, float(ts.max()))
    ingestion._digests.extend(rows.digest.take(pa.array(winners)).to_pylist())


def _raw_lines(
    paths: list[Any], num: dict[str, np.ndarray], wanted: np.ndarray
) -> dict[int, bytes]:
    """Raw lines of duplicate records, read again from their sources (duplicates are rare)."""
    by_place = {
        (int(num["source_index"][i]), int(num["line"][i]), int(num["row"][i])): int(i)
        for i in wanted.tolist()
    }
    found: dict[int, bytes] = {}
    for source_index in sorted({place[0] for place in by_place}):
        for item in iter_shard(Shard(source_index, str(paths[source_index]))):
            line = -1 if item.line is None else item.line
            row = -1 if item.row is None else item.row
            i = by_place.get((source_index, line, row))
            if i is not None:
                found[i] = item.data
    return found
