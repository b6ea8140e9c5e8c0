"""Drift over logs: the newest requests of decision (or training) logs against a bundle's reference.

The texts are classified again with the bundle, through the same `classifier.drift.DriftStats`
the service keeps and the export used for the reference, so the figures match `/metrics` for
the same traffic. Failure rates by tier come from each record's first attempt when the logs
carry attempts (training logs) and from the service's `outcomes.jsonl` (feedback).

Example:
    report = drift_over_logs(Path("models/default"), [Path("logs/decisions.jsonl")])
    report["crossed"]  # ["psi:tokens", ...]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from classifier.drift import DEFAULT_THRESHOLDS, DriftStats, Thresholds, compare
from classifier.errors import InputError
from classifier.runtime import Classifier

_BATCH = 256  # a batch is padded to its longest text


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; a generator keeps it open
    except FileNotFoundError as exc:
        raise InputError(
            f"log file {path} does not exist; pass the service's decisions.jsonl"
        ) from exc
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(
                    f"{path}:{number}: not JSON ({exc}); fix or drop the line"
                ) from exc
            if isinstance(record, dict):
                yield record


def newest_records(paths: Sequence[Path], window: int) -> list[dict[str, Any]]:
    """The `window` newest records (by `ts`) that carry a text."""
    records = [r for path in paths for r in _lines(path) if isinstance(r.get("text"), str)]
    records.sort(key=lambda r: str(r.get("ts", "")))
    return records[-window:] if window > 0 else records


def _first_attempt(record: dict[str, Any]) -> tuple[str, bool] | None:
    attempts = record.get("attempts")
    if not attempts or not isinstance(attempts[0], dict) or "tier" not in attempts[0]:
        return None
    first = attempts[0]
    ok = (
        bool(first.get("schema_ok")) and bool(first.get("compliance_ok")) and not first.get("error")
    )
    return str(first["tier"]), not ok


def drift_over_logs(
    bundle: Path,
    logs: Sequence[Path],
    *,
    outcomes: Sequence[Path] = (),
    window: int = 20_000,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """`classifier.drift.compare` of the newest `window` logged requests with the bundle's
    reference (manifest `reference_stats`; a bundle without it gets the live figures only)."""
    classifier = Classifier.load(bundle)
    manifest = classifier.manifest
    labels = manifest.labels
    records = newest_records(logs, window)
    if not records:
        raise InputError(f"no logged request with a text in {[str(p) for p in logs]}")
    stats = DriftStats(labels["intent"], labels["risk"], labels["tier"],
                       window=max(len(records), 2) * 2, segments=2)  # fmt: skip
    for start in range(0, len(records), _BATCH):
        part = records[start : start + _BATCH]
        features = [r.get("feature") if isinstance(r.get("feature"), str) else None for r in part]
        made = classifier.classify_batch([r["text"] for r in part], features)
        for prediction, record in zip(made, part, strict=True):
            stats.observe(prediction, prediction.abstain)
            first = _first_attempt(record)
            if first is not None:
                stats.observe_outcome(*first)
    for path in outcomes:
        for outcome in _lines(path):
            first = _first_attempt(outcome)
            if first is not None:
                stats.observe_outcome(*first)
    reference = getattr(manifest, "reference_stats", None)
    report = compare(reference, stats.summary(), thresholds)
    report["bundle"] = {"path": str(bundle), "version": manifest.version}
    report["window"] = {"from": records[0].get("ts"), "to": records[-1].get("ts")}
    return report


def render(report: dict[str, Any], thresholds: Thresholds) -> str:
    """The report for people: one line per signal, the crossed ones marked."""
    lines = [
        f"drift of {report['n']} logged requests ({report['window']['from']} .. "
        f"{report['window']['to']}) against bundle {report['bundle']['version']}"
    ]
    if report["reference"] is None:
        lines.append("the bundle carries no reference statistics (exported before drift was "
                     "recorded): retrain or re-export it to compare")  # fmt: skip
    crossed = set(report["crossed"])
    for name, value in report["psi"].items():
        mark = "DRIFT" if f"psi:{name}" in crossed else "ok"
        lines.append(f"  psi {name:<12} {value:8.4f}  (threshold {thresholds.psi})  {mark}")
    for name, pair in report["rates"].items():
        ref, live = pair["reference"], pair["live"]
        if ref is None and live is None:
            continue
        mark = "DRIFT" if f"rate:{name}" in crossed else "ok"
        shown = " ".join(
            f"{k} {'-' if v is None else f'{v:.3f}'}"
            for k, v in (("reference", ref), ("live", live))
        )
        lines.append(f"  rate {name:<11} {shown}  (threshold ±{thresholds.rate})  {mark}")
    lines.append("drift: " + (", ".join(report["crossed"]) if crossed else "none crossed"))
    return "\n".join(lines) + "\n"
