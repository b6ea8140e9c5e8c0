"""`tierwise evaluate --kpi EVENTS --logs LOGS`: the KPI report of served traffic (no replay)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifier.errors import ClassifierError
from training.kpi.events import EventReport, read_events
from training.kpi.join import load_decisions
from training.kpi.report import markdown, summarise, write


def run(args: argparse.Namespace) -> int:
    """Join, summarise, write `kpi.json` and `kpi-report.md` to --out, print the report."""
    if not args.logs:
        sys.stderr.write(
            "tierwise: --kpi needs the served decisions: pass --logs outcomes.jsonl (the "
            "service's TIERWISE_LOG_DIR files, or your router's schema-v1 logs)\n"
        )
        return 2
    try:
        quarantine = Path(args.out) / "quarantine.jsonl"
        Path(args.out).mkdir(parents=True, exist_ok=True)
        decisions = load_decisions(args.logs, args.corrections, quarantine)
        events = EventReport()
        decisions.attach(read_events(args.kpi, events))
        summary = summarise(decisions, n_resamples=args.bootstrap, seed=args.seed)
        report = write(Path(args.out), summary, decisions, events)
    except (ClassifierError, OSError, ValueError) as exc:
        sys.stderr.write(f"tierwise: {exc}\n")
        return 2
    sys.stdout.write(markdown(summary, decisions, events) + f"\nreport: {report}\n")
    return 0
