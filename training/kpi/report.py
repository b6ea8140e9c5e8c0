"""Cost, failures and KPIs per arm, per prompt version and per both, as JSON and Markdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from classifier.kpischema import KPI_KINDS
from training.kpi.events import EventReport
from training.kpi.join import VERSION_KEYS, Decisions
from training.kpi.stats import Estimate, ratio_estimate

GROUPINGS: dict[str, Callable[[Decisions, int], str]] = {
    "arm": lambda d, i: d.arm[i],
    "prompt": lambda d, i: d.prompt[i],
    "arm_prompt": lambda d, i: f"{d.arm[i]} / {d.prompt[i]}",
}


def summarise(decisions: Decisions, n_resamples: int, seed: int = 0) -> dict[str, Any]:
    """Every grouping's groups, each with its rates and intervals and the versions it saw."""
    _, units = np.unique(np.array(decisions.unit, dtype=object), return_inverse=True)
    cost = np.array(decisions.cost, dtype=np.float64)
    failed = np.array(decisions.failed, dtype=np.float64)
    escalated = np.array(decisions.escalated, dtype=np.float64)
    out: dict[str, Any] = {}
    for grouping, key_of in GROUPINGS.items():
        keys = np.array([key_of(decisions, i) for i in range(len(decisions))], dtype=object)
        groups: dict[str, Any] = {}
        for key in sorted(set(keys.tolist())):
            mask = keys == key

            def rate(values: np.ndarray, mask: np.ndarray = mask) -> Estimate:
                return ratio_estimate(values[mask], units[mask], n_resamples=n_resamples,
                                      seed=seed)  # fmt: skip

            rows = np.flatnonzero(mask)
            groups[key] = {
                "requests": int(mask.sum()),
                "units": int(np.unique(units[mask]).size),
                "with_outcome": int((~np.isnan(cost[mask])).sum()),
                "cost_per_request_usd": rate(cost).to_dict(),
                "failure_rate": rate(failed).to_dict(),
                "escalation_rate": rate(escalated).to_dict(),
                "kpi_per_request": {k: rate(decisions.kpi[k]).to_dict() for k in KPI_KINDS},
                "versions": {
                    name: sorted({str(decisions.versions[i][j]) for i in rows})
                    for j, name in enumerate(VERSION_KEYS)
                },
            }
        out[grouping] = groups
    return out


def _cell(est: dict[str, Any], scale: float = 1.0, digits: int = 4) -> str:
    if est["value"] is None:
        return "n/a"
    value = f"{est['value'] * scale:.{digits}f}"
    if est["low"] is None:
        return value
    return f"{value} [{est['low'] * scale:.{digits}f}, {est['high'] * scale:.{digits}f}]"


def markdown(summary: dict[str, Any], decisions: Decisions, events: EventReport) -> str:
    lines = [
        "# KPI report: served decisions joined to business events",
        "",
        f"{len(decisions)} decisions; {events.valid} KPI events read ({len(events.refused)} "
        f"refused), {decisions.matched} joined, "
        f"{sum(decisions.unmatched.values())} unmatched"
        + (f" ({dict(decisions.unmatched)})" if decisions.unmatched else "")
        + ". Intervals: 95 % cluster bootstrap over conversations (else requests).",
    ]
    titles = {"arm": "Per arm", "prompt": "Per prompt version", "arm_prompt": "Per arm and prompt"}
    kinds = [k for k in KPI_KINDS if decisions.kpi.get(k) is not None and decisions.kpi[k].any()]
    head = ["group", "requests", "cost / 1k requests (USD)", "failure rate",
            *(f"{k} / request" for k in kinds)]  # fmt: skip
    for grouping, groups in summary.items():
        lines += ["", f"## {titles[grouping]}", "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]  # fmt: skip
        for key, g in groups.items():
            cells = [key, str(g["requests"]), _cell(g["cost_per_request_usd"], 1000.0),
                     _cell(g["failure_rate"]),
                     *(_cell(g["kpi_per_request"][k]) for k in kinds)]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Versions seen per arm", ""]
    for key, g in summary["arm"].items():
        shown = "; ".join(f"{name}: {', '.join(v)}" for name, v in g["versions"].items())
        lines.append(f"- {key}: {shown}")
    if events.refused:
        lines += ["", "## Refused KPI lines (first 20)", ""]
        lines += [f"- {path}:{line}: {reason}" for path, line, reason in events.refused[:20]]
    return "\n".join(lines) + "\n"


def write(out: Path, summary: dict[str, Any], decisions: Decisions, events: EventReport) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    body = {
        "decisions": len(decisions),
        "events": {"read": events.read, "valid": events.valid, "refused": len(events.refused),
                   "joined": decisions.matched, "unmatched": dict(decisions.unmatched)},
        "groups": summary,
    }  # fmt: skip
    (out / "kpi.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    report = out / "kpi-report.md"
    report.write_text(markdown(summary, decisions, events), encoding="utf-8")
    return report
