"""Streaming readers: one raw record at a time from JSONL (plain or .gz) or Parquet.

Readers do no validation; they only cut a source into raw items with their position, so that
every line can be accounted for (valid, quarantined or blank) and quarantined with its place.
Parquet rows are re-serialized to JSON with orjson, so both formats go through the same strict
validator and a quarantined Parquet row is as readable as a JSONL line.

A damaged source is read as far as it can be: a truncated or corrupt `.gz` yields every line that
decompressed and then one item carrying the partial last line and the damage as its `problem`; a
Parquet file without its footer, or a row group that cannot be decoded, becomes one such item and
the rows around it are still read. Only a file whose first bytes contradict its suffix is refused.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from classifier.errors import InputError
from training.ingest.objectstore import Source, as_source

# Text may be 200,000 characters; even fully escaped that is far below this. A longer line is
# quarantined without being held in memory whole.
MAX_LINE_BYTES = 4 * 1024 * 1024
RAW_KEEP_BYTES = 64 * 1024
PARQUET_BATCH_ROWS = 8192
PARQUET_SUFFIXES = (".parquet", ".pq")
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# Problem codes meaning part of a source could not be read (the report names such sources).
DAMAGE_REASONS = frozenset(
    {"truncated_gzip", "corrupt_gzip", "truncated_parquet", "unreadable_row_group"}
)


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


def is_parquet(path: Source) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def is_gzip(path: Source) -> bool:
    return path.suffix.lower() == ".gz"


def check_source(path: Source) -> None:
    """Raise InputError for a missing file or one whose first bytes contradict its suffix.

    That is a usage error (a wrong path or name), told before anything is read; damage further in
    is the data's problem and is quarantined instead.
    """
    path = as_source(path)
    if not path.is_file():
        raise InputError(f"log source {path} does not exist or is not a file; check the path")
    magic = PARQUET_MAGIC if is_parquet(path) else GZIP_MAGIC if is_gzip(path) else None
    if magic is None:
        return
    with path.open("rb") as handle:
        head = handle.read(len(magic))
    if head and not magic.startswith(head):
        kind = "Parquet" if magic == PARQUET_MAGIC else "gzip-compressed"
        raise InputError(
            f"{path} is named as {kind} but is not; rename it to match its content "
            "(.jsonl for plain JSON lines)"
        )


def iter_raw(path: Source) -> Iterator[RawItem]:
    """Every line or row of `path`, in file order; raises InputError if it cannot be opened."""
    path = as_source(path)
    check_source(path)
    if is_parquet(path):
        yield from _iter_parquet(path)
    else:
        yield from _iter_jsonl(path)


class _GzipUntilDamage(io.RawIOBase):
    """A gzip stream whose damaged end reads as end-of-file, the damage kept in `damage`.

    gzip raises at the cut, and a buffered readline then drops the partial line it holds; read as
    a raw stream under our own buffer, every byte that decompressed reaches the caller.
    """

    def __init__(self, path: Source) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._gzip = gzip.GzipFile(fileobj=self._file, mode="rb")
        self.damage: str | None = None
        self._size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.damage is not None:
            return 0
        try:
            data = self._gzip.read1(len(buffer))
        except EOFError:
            self.damage = (
                f"truncated_gzip: the compressed stream ends before its end marker, after "
                f"{self._size} bytes of text; the complete lines before the cut were read"
            )
            return 0
        except (gzip.BadGzipFile, zlib.error) as exc:
            self.damage = (
                f"corrupt_gzip: {exc} after {self._size} bytes of text; the complete lines "
                "before it were read"
            )
            return 0
        size = len(data)
        memoryview(buffer)[:size] = data
        self._size += size
        return size

    def close(self) -> None:
        self._gzip.close()
        self._file.close()
        super().close()


def _iter_jsonl(path: Source) -> Iterator[RawItem]:
    source = str(path)
    damaged = _GzipUntilDamage(path) if is_gzip(path) else None
    buffer = 1024 * 1024
    handle = io.BufferedReader(damaged, buffer) if damaged else path.open("rb", buffering=buffer)
    with handle:
        readline = handle.readline
        number = 0
        while True:
            chunk = readline(MAX_LINE_BYTES + 1)
            if not chunk:
                break
            number += 1
            if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                while chunk and not chunk.endswith(b"\n"):
                    chunk = readline(MAX_LINE_BYTES)  # skip the rest of the long line
                yield RawItem(source, number, None, b"", overlong=True, problem="line_too_long")
                continue
            if damaged and damaged.damage and not chunk.endswith(b"\n"):
                # The line the damage cut: its bytes go to the quarantine, never parsed.
                yield RawItem(source, number, None, chunk, problem=damaged.damage)
                return
            data = chunk.rstrip(b"\r\n")
            if not data.strip():
                yield RawItem(source, number, None, data, blank=True)
            else:
                yield RawItem(source, number, None, data)
    if damaged and damaged.damage:  # cut at a line boundary: the damage is an item of its own
        yield RawItem(source, number + 1, None, b"", problem=damaged.damage)


def _iter_parquet(path: Source) -> Iterator[RawItem]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow ships with the train extra
        raise InputError(
            "reading Parquet needs pyarrow; install the train extra: pip install -e '.[train]'"
        ) from exc
    import pyarrow as pa

    source = str(path)
    try:
        parquet = pq.ParquetFile(path if isinstance(path, Path) else path.open("rb"))
    except (OSError, pa.ArrowException) as exc:  # check_source saw the leading magic
        yield RawItem(source, None, 0, b"", problem=(
            f"truncated_parquet: {exc}; the schema and row index live in the footer, so no row "
            "of this file can be read: export it again"
        ))  # fmt: skip
        return
    row = 0
    for group in range(parquet.num_row_groups):
        end = row + parquet.metadata.row_group(group).num_rows
        try:
            batches = parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group])
            for batch in batches:
                for item in _batch_items(source, batch, row):
                    yield item
                    row += 1
        except (OSError, pa.ArrowException) as exc:
            yield RawItem(source, None, row, b"", problem=(
                f"unreadable_row_group: row group {group} cannot be decoded ({exc}); rows "
                f"{row}-{end - 1} ({end - row} rows) are lost, the other row groups were read"
            ))  # fmt: skip
        row = end


def _batch_items(source: str, batch: Any, first_row: int) -> Iterator[RawItem]:
    """One item per row; a value Python cannot hold (a timestamp past 9999) spoils one row only."""
    try:
        rows: list[dict[str, Any]] | None = batch.to_pylist()
    except (ValueError, OverflowError):
        rows = None
    for offset in range(batch.num_rows):
        row = first_row + offset
        if rows is not None:
            values = rows[offset]
        else:
            try:
                values = batch.slice(offset, 1).to_pylist()[0]
            except (ValueError, OverflowError) as exc:
                yield RawItem(source, None, row, b"", problem=f"row_not_readable: {exc}")
                continue
        try:
            data = orjson.dumps(_plain(values))
        except (TypeError, orjson.JSONEncodeError) as exc:
            data = repr(values).encode("utf-8", "backslashreplace")[:RAW_KEEP_BYTES]
            yield RawItem(source, None, row, data, problem=f"row_not_json: {exc}")
            continue
        yield RawItem(source, None, row, data)


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
