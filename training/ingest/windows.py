"""The time window a model was fitted and calibrated on, as its manifest records it.

The promotion gate may only score rows that neither model has seen, and a bundle is the one
thing both the gate and a reader of the registry hold, so the window lives in the manifest
(`training_data.window`), written once by `tierwise train` at export. Bundles exported before
the window was recorded still carry the ingested time range (`data.time_start` /
`data.time_end`); that range contains every trained row, so it is a safe, wider stand-in.
The window bounds log rows by their timestamps; texts a run took from elsewhere (the real-text
rows) have no time and are not covered by it.

Example:
    window = TrainingWindow.of_rows(data.ts[np.concatenate([splits.train, splits.calib])])
    extra_manifest = {"training_data": {"window": window.to_manifest()}}
    TrainingWindow.from_manifest(manifest).covers(ts)  # bool mask of rows it may have seen
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

WINDOW_KEY = "window"
EXACT = "training_data.window"
INGESTED = "training_data.data.time_start/time_end (everything the run ingested)"


@dataclass(frozen=True)
class TrainingWindow:
    """First and last timestamp (epoch seconds, inclusive) of the rows a model learned from."""

    start: float
    end: float
    rows: int | None
    source: str = EXACT

    @classmethod
    def of_rows(cls, ts: np.ndarray) -> TrainingWindow:
        """The window of the given timestamps (the training and calibration rows)."""
        ts = np.asarray(ts, dtype=np.float64)
        if ts.size == 0:
            raise ValueError("a training window needs at least one trained row")
        return cls(float(ts.min()), float(ts.max()), int(ts.size))

    @classmethod
    def from_manifest(cls, training_data: Mapping[str, Any]) -> TrainingWindow | None:
        """Read `training_data` of a manifest; None when it records no time range at all."""
        recorded = training_data.get(WINDOW_KEY)
        if isinstance(recorded, Mapping):
            try:
                return cls(
                    float(recorded["start_ts"]),
                    float(recorded["end_ts"]),
                    int(recorded["rows"]) if recorded.get("rows") is not None else None,
                )
            except (KeyError, TypeError, ValueError):
                return None
        start, end = training_data.get("data.time_start"), training_data.get("data.time_end")
        if isinstance(start, str) and isinstance(end, str):
            try:
                return cls(_epoch(start), _epoch(end), None, INGESTED)
            except ValueError:
                return None
        return None

    def covers(self, ts: np.ndarray) -> np.ndarray:
        """True where a timestamp lies inside the window (bounds included)."""
        ts = np.asarray(ts, dtype=np.float64)
        return (ts >= self.start) & (ts <= self.end)

    def to_manifest(self) -> dict[str, Any]:
        return {
            "start": utc_iso(self.start),
            "end": utc_iso(self.end),
            "start_ts": self.start,
            "end_ts": self.end,
            "rows": self.rows,
            "meaning": "timestamps of the log rows fitted and calibrated on (bounds included)",
        }

    def describe(self) -> str:
        return f"{utc_iso(self.start)} .. {utc_iso(self.end)} ({self.source})"


def utc_iso(epoch: float) -> str:
    """Epoch seconds as RFC 3339 UTC with a Z, as the logs write it."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def _epoch(text: str) -> float:
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
