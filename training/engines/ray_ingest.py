"""Ingestion on Ray Data: shards validated and labelled in parallel, then reconciled in order.

The result equals `training.ingest.load_training_set` on the same sources: the same valid and
quarantined counts (and reasons), the same labels, the same fingerprint. Workers do the costly
part (parse, validate, join, label: ~all of the CPU) and leave each shard's columns in Ray's
object store. The driver reads only the small columns of every row (read position, codes,
counts, digests) and replays the order-dependent rules over them (training.engines.
ray_reconcile); then it takes the TrainingSet's columns (texts) of the winning rows only, one
shard at a time, releasing each shard once taken. Every shard reports the lines it read, and
`valid + quarantined == lines_read` is checked over their sum.

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
import pyarrow as pa
import pyarrow.compute as pc

from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from training.engines.ray_reconcile import EVENT, NUMERIC, Compact, reconcile
from training.engines.ray_runtime import require_ray, start_ray
from training.engines.ray_scan import QUARANTINE, SCHEMA, SUMMARY
from training.engines.shards import SHARD_BYTES, Shard, plan_shards
from training.ingest.labels import OK, UNKNOWN, TrainingSet
from training.ingest.load import IngestReport, _Ingestion
from training.ingest.objectstore import Source
from training.ingest.quarantine import QuarantineWriter

log = logging.getLogger(__name__)


def _scan_batch(batch: dict[str, Any], index: Any, taxonomy: Any) -> Any:
    """map_batches body: one shard description in, its rows out (a pyarrow table)."""
    from training.engines.ray_scan import scan_shard

    tables = [
        scan_shard(Shard(**{k: batch[k][i] for k in batch}), index, taxonomy)
        for i in range(len(batch["path"]))
    ]
    return pa.concat_tables(tables)


def scan_with_ray(
    shards: list[Shard], index: Any, taxonomy: Taxonomy = DEFAULT_TAXONOMY
) -> list[Any]:
    """Object refs of the shards' row tables (Ray Data, one task per shard), left in the
    object store: the driver fetches the columns it needs, not whole tables."""
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
    return list(dataset.to_arrow_refs())


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
    ray = start_ray(num_cpus)
    clock = time.perf_counter()
    ingestion = _Ingestion(logs, corrections, quarantine_path, taxonomy)
    ingestion.quarantine = QuarantineWriter(quarantine_path)
    try:
        located = ingestion._index_corrections()
        index = {rid: [x.item.data for x in events] for rid, events in located.items()}
        refs = scan_with_ray(plan_shards(ingestion.logs, shard_bytes), index, taxonomy)
        del index
        scanned = time.perf_counter()
        rows, blocks = _compact(ray, refs, ingestion.report)
        final = reconcile(ingestion, rows, located)
        data = _training_set(ray, refs, rows, blocks, final, len(taxonomy.tiers))
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


def _compact(ray: Any, refs: list[Any], report: IngestReport) -> tuple[Compact, np.ndarray]:
    """Every block's small columns, copied out of the object store (texts are not read), and
    each row's block number; the shards' line counts go into `report`."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in (*NUMERIC, "has_event")}
    ids: list[pa.Array] = []
    digests: list[pa.Array] = []
    events: dict[int, dict[str, Any]] = {}
    blocks: list[np.ndarray] = []
    offset = 0
    for number, ref in enumerate(refs):
        table = ray.get(ref)
        if table.schema != SCHEMA:
            raise RuntimeError(
                f"Ray block {number} of {len(refs)} has the columns {table.schema}, not "
                f"training.engines.ray_scan.SCHEMA; this is a bug, report it"
            )
        for name in NUMERIC:
            column = table.column(name)
            fill: Any = -1 if name in ("line", "row") else 0
            if pa.types.is_floating(column.type):
                fill = np.nan
            elif pa.types.is_boolean(column.type):
                fill = False
            parts[name].append(pc.fill_null(column, fill).to_numpy())
        kind = parts["kind"][-1]
        summary = kind == SUMMARY
        report.lines_read += int(table.column("lines_read").to_numpy()[summary].sum())
        report.blank_lines += int(table.column("blank_lines").to_numpy()[summary].sum())
        has_event = (
            (kind == QUARANTINE)
            | pc.is_valid(table.column("early")).to_numpy()
            | pc.is_valid(table.column("before")).to_numpy()
        )
        parts["has_event"].append(has_event)
        where = np.flatnonzero(has_event)
        if len(where):
            picked = table.select(list(EVENT)).take(pa.array(where)).to_pylist()
            events.update(zip((where + offset).tolist(), picked, strict=True))
        ids.append(table.column("request_id").combine_chunks())
        digests.append(table.column("digest").combine_chunks())
        blocks.append(np.full(table.num_rows, number, dtype=np.int32))
        offset += table.num_rows
        del table
    num = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    rows = Compact(num, pa.concat_arrays(ids), pa.concat_arrays(digests), events)
    return rows, np.concatenate(blocks)


_PAYLOAD = ("feature", "text", "intent", "risk", "tier_ok", "propensity", "first_tier",
            "input_tokens")  # fmt: skip


def _training_set(
    ray: Any, refs: list[Any], rows: Compact, blocks: np.ndarray, final: np.ndarray,
    n_tiers: int,
) -> TrainingSet:  # fmt: skip
    """The winners' columns, taken block by block (each block released once taken), placed in
    the TrainingSet's order."""
    starts = np.concatenate([[0], np.cumsum(np.bincount(blocks, minlength=len(refs)))])
    n = len(final)
    text: list[Any] = [None] * n  # lists, not object arrays: numpy would copy str via '<U'
    feature: list[Any] = [None] * n
    numeric: dict[str, np.ndarray] = {}
    tier_ok = np.empty((n, n_tiers), dtype=np.int8)
    for number in range(len(refs)):
        at = np.flatnonzero(blocks[final] == number)  # places in the TrainingSet
        if len(at):
            table = ray.get(refs[number])
            part = table.select(list(_PAYLOAD)).take(pa.array(final[at] - starts[number]))
            del table
            places = at.tolist()
            for place, value in zip(places, part.column("text").to_pylist(), strict=True):
                text[place] = value
            for place, value in zip(places, part.column("feature").to_pylist(), strict=True):
                feature[place] = value
            for name in ("intent", "risk", "propensity", "first_tier", "input_tokens"):
                column = part.column(name).to_numpy()
                numeric.setdefault(name, np.empty(n, dtype=column.dtype))[at] = column
            flat = part.column("tier_ok").combine_chunks().flatten().to_numpy()
            tier_ok[at] = flat.reshape(-1, n_tiers)
            del part
        refs[number] = None  # the object store may free this block now
    empty = np.empty(0)
    return TrainingSet(
        request_id=rows.request_id.take(pa.array(final)).to_pylist(),
        ts=rows.num["ts"][final].copy(),
        feature=feature,
        text=text,
        intent=numeric.get("intent", empty).astype(np.int8),
        risk=numeric.get("risk", empty).astype(np.int8),
        tier_ok=tier_ok,
        propensity=numeric.get("propensity", empty).astype(np.float64),
        first_tier=numeric.get("first_tier", empty).astype(np.int8),
        input_tokens=numeric.get("input_tokens", empty).astype(np.int32),
    )
