"""The quarantine file: every record ingestion refuses, with where it came from and why.

One JSON object per line (docs/logs-and-labels.md, "Quarantine format"):
`stream` (`logs` | `corrections`), `source`, `line` (1-based, JSONL) or `row` (0-based, Parquet),
`reason` (a short code to count by), `detail` (pydantic's message or ours), `request_id` when it
could be read, and `raw` (the line as text; `raw_b64` too when it was not valid UTF-8).
"""

from __future__ import annotations

import base64
import logging
import tempfile
from collections import Counter
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

log = logging.getLogger(__name__)

MAX_DETAIL_ERRORS = 3


class QuarantineWriter:
    """Appends quarantined items to a JSONL file and counts them by reason.

    An explicit path is truncated at start, so a stale file never passes for this run's. Without
    a path, a temporary file is created on the first quarantined item, so nothing is lost.
    """

    def __init__(self, path: Path | None) -> None:
        self.by_reason: Counter[str] = Counter()
        self._path = Path(path) if path is not None else None
        self._handle: IO[bytes] | None = None
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self._path.open("wb")

    @property
    def path(self) -> Path | None:
        return self._path

    def write(
        self,
        *,
        stream: str,
        source: str,
        line: int | None,
        row: int | None,
        reason: str,
        detail: str,
        raw: bytes,
        request_id: str | None = None,
        raw_truncated: bool = False,
        inline: bool = False,
    ) -> None:
        entry: dict[str, Any] = {
            "stream": stream,
            "source": source,
            "line": line,
            "row": row,
            "reason": reason,
            "detail": detail,
            "request_id": request_id,
        }
        try:
            entry["raw"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            entry["raw"] = raw.decode("utf-8", "replace")
            entry["raw_b64"] = base64.b64encode(raw).decode("ascii")
        if raw_truncated:
            entry["raw_truncated"] = True
        if inline:  # an event taken out of a valid log record; `raw` is the event alone
            entry["inline"] = True
        self._open().write(orjson.dumps(entry) + b"\n")
        self.by_reason[reason] += 1

    def _open(self) -> IO[bytes]:
        if self._handle is None:
            fd, name = tempfile.mkstemp(prefix="tierwise-quarantine-", suffix=".jsonl")
            self._path = Path(name)
            self._handle = open(fd, "wb")  # noqa: SIM115 - closed in close()
            log.warning("no quarantine path given; quarantining into %s", self._path)
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def reason_for(error: ValidationError) -> tuple[str, str]:
    """A short countable code and a readable detail for a pydantic validation failure."""
    errors = error.errors(include_url=False, include_input=False)
    first = errors[0]
    kind, loc = first["type"], tuple(first["loc"])
    field = loc[-1] if loc else None
    detail = "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or '<record>'}: {e['msg']}"
        for e in errors[:MAX_DETAIL_ERRORS]
    )
    if len(errors) > MAX_DETAIL_ERRORS:
        detail += f" (+{len(errors) - MAX_DETAIL_ERRORS} more)"
    return _code(kind, loc, field, first["msg"]), detail


def _code(kind: str, loc: tuple[Any, ...], field: Any, message: str) -> str:
    if kind == "json_invalid":
        return "bad_json"
    if kind in ("model_type", "model_attributes_type") and not loc:
        return "not_an_object"
    if loc == ("text",):
        if kind == "string_too_long":
            return "text_too_long"
        if kind == "string_too_short":
            return "text_empty"
    if not loc and "text is blank" in message:
        return "text_blank"
    if not loc and "inline correction" in message:
        return "correction_mismatch"
    if kind == "missing":
        return "missing_field"
    if kind == "extra_forbidden":
        return "unknown_field"
    if field == "schema_version":
        return "unsupported_schema_version"
    # unknown_label: a label outside the training taxonomy (classifier.logschema)
    if kind in ("literal_error", "unknown_label") and field in ("tier", "from", "to"):
        return "unknown_tier"
    if kind in ("literal_error", "unknown_label") and field in ("intent", "risk"):
        return "unknown_label"
    if kind == "timestamp_out_of_range":
        return kind
    if field == "ts" or kind.startswith(("datetime", "timezone")):
        return "bad_timestamp"
    return "invalid_field"
