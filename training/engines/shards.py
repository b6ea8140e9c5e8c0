"""Cut log sources into shards that workers read independently, each line still numbered.

A plain JSONL file is cut at line boundaries every `shard_bytes`, with the count of lines before
each cut, so a worker reports the same `line` numbers the in-process reader does. Gzip and
Parquet files are one shard each (a gzip stream cannot be entered mid-way; Parquet files are
usually written per partition already).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from training.ingest.objectstore import Source, as_source
from training.ingest.readers import MAX_LINE_BYTES, RawItem, is_gzip, is_parquet, iter_raw

SHARD_BYTES = 32 * 1024 * 1024
_COUNT_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Shard:
    """Bytes [start, end) of source number `source_index`; `first_line` is the line before it."""

    source_index: int
    path: str
    start: int = 0
    end: int = -1  # -1: the whole file, read by the in-process reader
    first_line: int = 0


def plan_shards(paths: list[Source], shard_bytes: int = SHARD_BYTES) -> list[Shard]:
    """Shards of every source in source order; their concatenation is every line once."""
    shards: list[Shard] = []
    for index, path in enumerate(paths):
        if is_gzip(path) or is_parquet(path):
            shards.append(Shard(index, str(path)))
            continue
        size = path.stat().st_size
        cuts = [0]
        with path.open("rb") as handle:
            while cuts[-1] + shard_bytes < size:
                handle.seek(cuts[-1] + shard_bytes)
                handle.readline()  # to the end of the line the target falls in
                if handle.tell() >= size:
                    break
                cuts.append(handle.tell())
        cuts.append(size)
        lines_before = _lines_before(path, cuts)
        for start, end, first in zip(cuts, cuts[1:], lines_before, strict=False):
            shards.append(Shard(index, str(path), start, end, first))
    return shards


def _lines_before(path: Source, cuts: list[int]) -> list[int]:
    """Newlines before each cut (one pass over the file, counted in large chunks)."""
    counts, seen, position = [], 0, 0
    with path.open("rb") as handle:
        for cut in cuts[:-1]:
            while position < cut:
                chunk = handle.read(min(_COUNT_CHUNK, cut - position))
                seen += chunk.count(b"\n")
                position += len(chunk)
            counts.append(seen)
    return counts


def iter_shard(shard: Shard) -> Iterator[RawItem]:
    """The shard's items, as `training.readers.iter_raw` numbers them for the whole file."""
    path = as_source(shard.path)
    if shard.end < 0:
        yield from iter_raw(path)
        return
    source = str(path)
    with path.open("rb", buffering=1024 * 1024) as handle:
        handle.seek(shard.start)
        position, number = shard.start, shard.first_line
        while position < shard.end:
            chunk = handle.readline(MAX_LINE_BYTES + 1)
            if not chunk:
                break
            position += len(chunk)
            number += 1
            if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                while chunk and not chunk.endswith(b"\n"):
                    chunk = handle.readline(MAX_LINE_BYTES)  # skip the rest of the long line
                    position += len(chunk)
                yield RawItem(source, number, None, b"", overlong=True, problem="line_too_long")
                continue
            data = chunk.rstrip(b"\r\n")
            yield RawItem(source, number, None, data, blank=not data.strip())
