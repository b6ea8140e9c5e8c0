"""Log sources behind object-store URIs (s3://, gs://, ...), read through pyarrow's filesystems.

An `ObjectPath` offers the few `pathlib.Path` members the readers use (`suffix`, `is_file`,
`stat().st_size`, `open("rb")` with seek), so the same readers, shard planner and quarantine
accounting serve local files and objects alike. `pyarrow.fs.FileSystem.from_uri` resolves the
scheme (s3, gs, hdfs, abfs); any other scheme fsspec knows is used through pyarrow's fsspec
handler. Credentials and endpoints come from each store's standard environment: for S3
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (or `AWS_PROFILE`), `AWS_DEFAULT_REGION` and
`AWS_ENDPOINT_URL` for an S3-compatible store. A URI that names a prefix stands for every log
file under it, in key order. An `ObjectPath` pickles as its URI, so a Ray worker resolves the
store from its own environment.

    sources = expand_sources(["s3://logs/2026-11/", Path("local.jsonl")])
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

from classifier.errors import InputError

LOG_SUFFIXES = (".jsonl", ".json", ".gz", ".parquet", ".pq")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_ADVICE = (
    "set the store's standard environment variables: for S3, AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), AWS_DEFAULT_REGION, and AWS_ENDPOINT_URL for an "
    "S3-compatible store (MinIO, Ceph); for gs://, GOOGLE_APPLICATION_CREDENTIALS; and check "
    "the bucket name"
)


def is_uri(value: object) -> bool:
    """True for `scheme://...` other than `file://` (a local path)."""
    return isinstance(value, str) and bool(_URI.match(value)) and not value.startswith("file://")


class ObjectPath:
    """One object in a store, named by its URI; the part of `Path` the log readers use."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._resolved: tuple[Any, str] | None = None

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"ObjectPath({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return ObjectPath, (self.uri,)  # the store is resolved again where it is unpickled

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.uri.split("://", 1)[1].split("?", 1)[0]).suffix

    @property
    def fs(self) -> tuple[Any, str]:
        if self._resolved is None:
            self._resolved = _filesystem(self.uri)
        return self._resolved

    def info(self) -> Any:
        fs, key = self.fs
        try:
            return fs.get_file_info(key)
        except OSError as exc:
            raise InputError(f"cannot reach {self.uri}: {_short(exc)}; {_ADVICE}") from exc

    def is_file(self) -> bool:
        from pyarrow.fs import FileType

        return bool(self.info().type == FileType.File)

    def stat(self) -> SimpleNamespace:
        return SimpleNamespace(st_size=int(self.info().size))

    def open(self, mode: str = "rb", buffering: int = -1) -> io.BufferedReader:
        """A seekable, buffered binary reader (pyarrow's file has no readline of its own)."""
        if mode != "rb":
            raise ValueError(f"{self.uri} can only be read ('rb'), not opened with {mode!r}")
        fs, key = self.fs
        try:
            raw = fs.open_input_file(key)
        except OSError as exc:
            raise InputError(f"cannot open {self.uri}: {_short(exc)}; {_ADVICE}") from exc
        size = buffering if buffering > 0 else io.DEFAULT_BUFFER_SIZE
        return io.BufferedReader(raw, size)  # type: ignore[arg-type]


Source = Path | ObjectPath


def as_source(value: str | Path | ObjectPath) -> Source:
    """A local `Path`, or an `ObjectPath` for a store URI (the argparse `type` of --logs)."""
    if isinstance(value, (Path, ObjectPath)):
        return value
    if is_uri(value):
        return ObjectPath(value)
    return Path(value.removeprefix("file://"))


def expand_sources(values: Iterable[str | Path | ObjectPath]) -> list[Source]:
    """Sources in order; a URI naming a prefix becomes every log file under it, in key order.

    Raises InputError, saying what to set or check, when the store cannot be reached or the
    URI names neither an object nor a prefix holding log files.
    """
    out: list[Source] = []
    for value in values:
        source = as_source(value)
        if isinstance(source, Path):
            out.append(source)
            continue
        out.extend(_objects_under(source))
    return out


def _objects_under(source: ObjectPath) -> list[Source]:
    from pyarrow.fs import FileSelector, FileType

    info = source.info()
    if info.type == FileType.File:
        return [source]
    fs, key = source.fs
    try:
        found = fs.get_file_info(FileSelector(key.rstrip("/"), recursive=True))
    except FileNotFoundError:
        found = []
    except OSError as exc:  # a missing bucket too
        raise InputError(f"cannot list {source.uri}: {_short(exc)}; {_ADVICE}") from exc
    scheme = source.uri.split("://", 1)[0]
    query = "?" + source.uri.split("?", 1)[1] if "?" in source.uri else ""  # store options
    keys = sorted(
        f.path for f in found if f.type == FileType.File and f.path.lower().endswith(LOG_SUFFIXES)
    )
    if not keys:
        raise InputError(
            f"no log object at {source.uri} and no log files ({', '.join(LOG_SUFFIXES)}) under "
            "it; check the bucket and prefix (a prefix stands for every log file under it)"
        )
    return [ObjectPath(f"{scheme}://{k}{query}") for k in keys]


def _filesystem(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path in it); fsspec's filesystems for schemes pyarrow lacks."""
    import pyarrow as pa
    from pyarrow import fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except pa.ArrowInvalid:
        pass  # not a scheme pyarrow implements itself
    except OSError as exc:
        raise InputError(f"cannot open the store of {uri}: {_short(exc)}; {_ADVICE}") from exc
    try:
        import fsspec

        store, key = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise InputError(
            f"no filesystem for {uri}: pyarrow reads s3://, gs://, hdfs:// and abfs://; other "
            f"schemes need fsspec and its package for the scheme ({exc})"
        ) from exc
    return pafs.PyFileSystem(pafs.FSSpecHandler(store)), key


def _short(exc: BaseException) -> str:
    """The store's message without its request ids and curl details."""
    text = str(exc).split("(Request ID", 1)[0].split("; Details:", 1)[0]
    return text.strip().rstrip(".")
