"""Streaming readers: one raw record at a time from JSONL (plain or .gz) or Parquet.

Readers do no validation; they only cut a source into raw items with their position, so that
every line can be accounted for (valid, quarantined or blank) and quarantined with its place.
Parquet rows are re-serialized to JSON with orjson, so both formats go through the same strict
validator and a quarantined Parquet row is as readable as a JSONL line.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import orjson

from classifier.errors import InputError

# Text may be 200,000 characters; even fully escaped that is far below this. A longer line is
# quarantined without being held in memory whole.
MAX_LINE_BYTES = 4 * 1024 * 1024
RAW_KEEP_BYTES = 64 * 1024
PARQUET_BATCH_ROWS = 8192
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~1 us a line
class RawItem:
    """One physical line (JSONL, `line` 1-based) or row (Parquet, `row` 0-based) of a source.

    `data` is the line without its line ending; `blank` lines carry no record; `overlong` lines
    were cut to RAW_KEEP_BYTES; `problem` is a reader-level reason (e.g. a Parquet row that
    cannot be expressed as JSON).
    """

    source: str
    line: int | None
    row: int | None
    data: bytes
    blank: bool = False
    overlong: bool = False
    problem: str | None = None


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def iter_raw(path: Path) -> Iterator[RawItem]:
    """Every line or row of `path`, in file order; raises InputError if it cannot be opened."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"log source {path} does not exist or is not a file; check the path")
    if is_parquet(path):
        yield from _iter_parquet(path)
    else:
        yield from _iter_jsonl(path)


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb", buffering=1024 * 1024)


def _iter_jsonl(path: Path) -> Iterator[RawItem]:
    source = str(path)
    with _open_binary(path) as handle:
        readline = handle.readline
        number = 0
        while True:
            chunk = readline(MAX_LINE_BYTES + 1)
            if not chunk:
                return
            number += 1
            if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                while chunk and not chunk.endswith(b"\n"):
                    chunk = readline(MAX_LINE_BYTES)  # skip the rest of the long line
                yield RawItem(source, number, None, b"", overlong=True, problem="line_too_long")
                continue
            data = chunk.rstrip(b"\r\n")
            if not data.strip():
                yield RawItem(source, number, None, data, blank=True)
            else:
                yield RawItem(source, number, None, data)


def _iter_parquet(path: Path) -> Iterator[RawItem]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow ships with the train extra
        raise InputError(
            "reading Parquet needs pyarrow; install the train extra: pip install -e '.[train]'"
        ) from exc
    source = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(
            f"{path} is not a readable Parquet file ({exc}); check its format"
        ) from exc
    row = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        for values in batch.to_pylist():
            try:
                data = orjson.dumps(_plain(values))
                problem = None
            except (TypeError, orjson.JSONEncodeError) as exc:
                data = repr(values).encode("utf-8", "backslashreplace")[:RAW_KEEP_BYTES]
                problem = f"row_not_json: {exc}"
            yield RawItem(source, None, row, data, problem=problem)
            row += 1


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Drop top-level nulls and turn a map-typed `meta` into a dict.

    Parquet fills an absent column with null; for `corrections`, `escalations` or `meta` that
    means "not given" (the default), not "null". Nested nulls are left to validation: every
    nested field that may be absent is nullable in schema v1.
    """
    plain = {k: v for k, v in row.items() if v is not None}
    meta = plain.get("meta")
    if isinstance(meta, list) and all(isinstance(p, tuple) and len(p) == 2 for p in meta):
        plain["meta"] = dict(meta)
    return plain
