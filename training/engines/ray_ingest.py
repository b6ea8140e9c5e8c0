"""Ingestion on Ray Data: shards validated and labelled in parallel, then reconciled in order.

The result equals `training.ingest.load_training_set` on the same sources: the same valid and
quarantined counts (and reasons), the same labels, the same fingerprint. Workers do the costly
part (parse, validate, join, label: ~all of the CPU); the driver replays the order-dependent
rules over their compact rows in read order: the first valid record of a request_id wins, a
correction joins that record or is quarantined, orphans are quarantined last. Every shard
reports the lines it read, and `valid + quarantined == lines_read` is checked over their sum.

    data, report = ray_load_training_set([Path("logs.jsonl")], [Path("corrections.jsonl")],
                                         quarantine_path=Path("q.jsonl"), num_cpus=2)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from training.engines.ray_runtime import require_ray, start_ray
from training.engines.shards import SHARD_BYTES, Shard, iter_shard, plan_shards
from training.ingest.labels import OK, UNKNOWN, TrainingSet
from training.ingest.load import IngestReport, _Ingestion
from training.ingest.objectstore import Source
from training.ingest.quarantine import QuarantineWriter
from training.ingest.readers import RawItem

log = logging.getLogger(__name__)


def _scan_batch(batch: dict[str, Any], index: Any, taxonomy: Any) -> Any:
    """map_batches body: one shard description in, its rows out (a pyarrow table)."""
    import pyarrow as pa

    from training.engines.ray_scan import scan_shard

    tables = [
        scan_shard(Shard(**{k: batch[k][i] for k in batch}), index, taxonomy)
        for i in range(len(batch["path"]))
    ]
    return pa.concat_tables(tables)


def scan_with_ray(shards: list[Shard], index: Any, taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> Any:
    """All shards' rows as one pyarrow table (Ray Data, one task per shard)."""
    import pyarrow as pa

    ray = require_ray()
    items = [
        {k: (int(v) if isinstance(v, int) else v) for k, v in asdict(s).items()} for s in shards
    ]
    dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _scan_batch,
        batch_size=1,
        batch_format="numpy",
        fn_kwargs={"index": index, "taxonomy": taxonomy},
    )
    return pa.concat_tables(list(dataset.iter_batches(batch_format="pyarrow", batch_size=None)))


def ray_load_training_set(
    logs: Sequence[Source | str],
    corrections: Sequence[Source | str] = (),
    quarantine_path: Path | None = None,
    *,
    num_cpus: int | None = None,
    shard_bytes: int = SHARD_BYTES,
    timings: dict[str, float] | None = None,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
) -> tuple[TrainingSet, IngestReport]:
    """`load_training_set` on Ray Data (a local cluster of `num_cpus` unless one is running).

    `timings`, when given, receives the seconds of the parallel scan and of the driver's
    reconciliation (the serial part: what more workers cannot shorten).
    """
    start_ray(num_cpus)
    clock = time.perf_counter()
    ingestion = _Ingestion(logs, corrections, quarantine_path, taxonomy)
    ingestion.quarantine = QuarantineWriter(quarantine_path)
    try:
        located = ingestion._index_corrections()
        index = {rid: [x.item.data for x in events] for rid, events in located.items()}
        table = scan_with_ray(plan_shards(ingestion.logs, shard_bytes), index, taxonomy)
        scanned = time.perf_counter()
        data = _reconcile(ingestion, table, located, len(taxonomy.tiers))
    finally:
        ingestion.quarantine.close()
    ingestion._finish()
    report = ingestion.report
    report.tier_labels = {
        tier: {
            "ok": int((data.tier_ok[:, t] == OK).sum()),
            "fail": int((data.tier_ok[:, t] == 0).sum()),
            "unknown": int((data.tier_ok[:, t] == UNKNOWN).sum()),
        }
        for t, tier in enumerate(taxonomy.tiers)
    }
    if timings is not None:
        timings.update(scan_s=scanned - clock, reconcile_s=time.perf_counter() - scanned)
    if not report.balanced:
        raise RuntimeError(f"ingestion lost lines: {report.to_dict()}; this is a bug, report it")
    return data, report


def _reconcile(
    ingestion: _Ingestion, table: Any, located: dict[str, list[Any]], n_tiers: int
) -> TrainingSet:
    """Apply the order-dependent rules over the rows in read order; returns the winners' set."""
    report = ingestion.report
    kind = table.column("kind").to_numpy(zero_copy_only=False)
    shards = table.filter(kind == "shard")
    report.lines_read = int(np.sum(shards.column("lines_read").to_numpy()))
    report.blank_lines = int(np.sum(shards.column("blank_lines").to_numpy()))
    # Indices into `table` in read order; only the driver's columns are copied (not texts).
    keep = np.flatnonzero(kind != "shard")
    source = table.column("source_index").to_numpy()[keep]
    order = keep[np.lexsort((table.column("pos").to_numpy()[keep], source))]
    rows = table.select(list(_DRIVER_COLUMNS)).take(order)
    cols = {name: rows.column(name).to_pylist() for name in _DRIVER_COLUMNS}
    winners, duplicates = _first_wins(cols)
    raws = _raw_lines(ingestion.logs, cols, duplicates)
    latest: dict[int, float] = {}
    for i in range(len(cols["kind"])):
        where = (cols["source_index"][i], cols["line"][i], cols["row"][i])
        if cols["kind"][i] == "quarantine":
            if cols["request_id"][i]:
                ingestion._quarantined_ids.add(cols["request_id"][i])
            item = RawItem(str(ingestion.logs[where[0]]), where[1], where[2], cols["raw"][i],
                           overlong=bool(cols["overlong"][i]))  # fmt: skip
            ingestion._refuse(item, "logs", cols["reason"][i], cols["detail"][i],
                              cols["request_id"][i])  # fmt: skip
        elif i in duplicates:
            report.duplicates += 1
            item = RawItem(str(ingestion.logs[where[0]]), where[1], where[2], raws[i])
            ingestion._refuse(
                item, "logs", "duplicate_request_id",
                "an earlier valid record has this request_id; the first occurrence wins",
                cols["request_id"][i],
            )  # fmt: skip
        else:
            _accept(ingestion, cols, i, located, latest)
    ingestion._quarantine_orphans(located)
    win = order[np.asarray(sorted(winners), dtype=np.int64)]
    ts = table.column("ts").to_numpy()[win]
    src = table.column("source_index").to_numpy()[win]
    picked = table.take(win[np.lexsort((table.column("pos").to_numpy()[win], src, ts))])
    tier_ok = picked.column("tier_ok").combine_chunks().flatten().to_numpy()
    return TrainingSet(
        request_id=picked.column("request_id").to_pylist(),
        ts=picked.column("ts").to_numpy().copy(),
        feature=picked.column("feature").to_pylist(),
        text=picked.column("text").to_pylist(),
        intent=picked.column("intent").to_numpy().astype(np.int8),
        risk=picked.column("risk").to_numpy().astype(np.int8),
        tier_ok=tier_ok.astype(np.int8).reshape(-1, n_tiers),
        propensity=picked.column("propensity").to_numpy().astype(np.float64),
        first_tier=picked.column("first_tier").to_numpy().astype(np.int8),
        input_tokens=picked.column("input_tokens").to_numpy().astype(np.int32),
    )


_DRIVER_COLUMNS = (
    "kind", "source_index", "line", "row", "request_id", "reason", "detail", "raw", "overlong",
    "ts", "contradiction", "risk_raised", "in_window", "outside_window", "n_inline", "early",
    "before", "digest",
)  # fmt: skip


def _first_wins(cols: dict[str, list[Any]]) -> tuple[set[int], set[int]]:
    seen: set[str] = set()
    winners: set[int] = set()
    duplicates: set[int] = set()
    for i, kind in enumerate(cols["kind"]):
        if kind != "valid":
            continue
        rid = cols["request_id"][i]
        (duplicates if rid in seen else winners).add(i)
        seen.add(rid)
    return winners, duplicates


def _raw_lines(
    paths: list[Source], cols: dict[str, list[Any]], wanted: set[int]
) -> dict[int, bytes]:
    """Raw lines of duplicate records, read again from their sources (duplicates are rare)."""
    by_place = {(cols["source_index"][i], cols["line"][i], cols["row"][i]): i for i in wanted}
    found: dict[int, bytes] = {}
    for source_index in sorted({place[0] for place in by_place}):
        for item in iter_shard(Shard(source_index, str(paths[source_index]))):
            i = by_place.get((source_index, item.line, item.row))
            if i is not None:
                found[i] = item.data
    return found


def _accept(
    ingestion: _Ingestion, cols: dict[str, list[Any]], i: int, located: dict[str, list[Any]],
    latest: dict[int, float],
) -> None:  # fmt: skip
    """Count one winning record as `_Ingestion._accept` does, quarantining what it would."""
    report, rid, ts = ingestion.report, cols["request_id"][i], cols["ts"][i]
    source = cols["source_index"][i]
    ingestion._seen.add(rid)
    report.valid += 1
    report.corrections_inline += cols["n_inline"][i]
    for raw, detail in orjson.loads(cols["early"][i]):
        report.corrections_before_request += 1
        report.corrections_inline_quarantined += 1
        ingestion.quarantine.write(
            stream="corrections", source=str(ingestion.logs[source]), line=cols["line"][i],
            row=cols["row"][i], reason="correction_before_request", detail=detail,
            raw=raw.encode(), request_id=rid, inline=True,
        )  # fmt: skip
    events = located.pop(rid, [])
    before = dict(orjson.loads(cols["before"][i]))
    for position, event in enumerate(events):
        if position in before:
            report.corrections_before_request += 1
            ingestion._refuse(event.item, "corrections", "correction_before_request",
                              before[position], rid)  # fmt: skip
    report.corrections_joined += len(events) - len(before)
    report.contradictions += cols["contradiction"][i]
    report.risk_raised += cols["risk_raised"][i]
    report.corrections_in_window += cols["in_window"][i]
    report.corrections_outside_window += cols["outside_window"][i]
    if ts < latest.get(source, float("-inf")):
        report.out_of_order += 1
    else:
        latest[source] = ts
    ingestion._ts_min = min(ingestion._ts_min, ts)
    ingestion._ts_max = max(ingestion._ts_max, ts)
    ingestion._digests.append(cols["digest"][i])
