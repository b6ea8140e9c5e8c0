"""Read KPI events line by line; a bad line is refused with its place and reason, never guessed.

Accounting as ingestion's: `valid + refused == lines read` (blank lines are not counted).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from classifier.kpischema import KpiEvent


@dataclass
class EventReport:
    """What reading the events found; `refused` holds (file, line, reason) of each bad line."""

    read: int = 0
    valid: int = 0
    refused: list[tuple[str, int, str]] = field(default_factory=list)


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "(line)"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


def read_events(paths: Sequence[Path], report: EventReport) -> Iterator[KpiEvent]:
    """Valid events in file order; each refused line is recorded in `report`."""
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"KPI events file {path} does not exist; pass a JSONL file")
        with Path(path).open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                report.read += 1
                try:
                    event = KpiEvent.model_validate_json(line, strict=True)
                except ValidationError as exc:
                    report.refused.append((str(path), number, _reason(exc)))
                    continue
                report.valid += 1
                yield event
