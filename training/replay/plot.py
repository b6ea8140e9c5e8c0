"""cost_quality.png: every curve and policy point, cost against failure and PGR against the
share sent to full (matplotlib, headless)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from training.replay.formatting import knob_name, policies


def plot(result: Any, path: Path) -> Path:
    """Left: cost per 1k vs failure rate (curves + policy points). Right: PGR vs full share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for name, curve in result.curves.items():
        kind = knob_name(curve).split(" (")[0]
        left.plot(
            [p["failure_rate"] * 100 for p in curve],
            [p["cost_per_1k_usd"] for p in curve],
            marker=".",
            label=f"{name} ({kind} sweep)",
        )
        right.plot(
            [p["share_full"] * 100 for p in curve],
            [p["pgr"] for p in curve],
            marker=".",
            label=name,
        )
    for name in policies(result):
        s = result.scores[name]
        left.scatter([s["failure_rate"] * 100], [s["cost_per_1k_usd"]], zorder=3)
        left.annotate(
            name,
            (s["failure_rate"] * 100, s["cost_per_1k_usd"]),
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
        if s.get("pgr") is not None and math.isfinite(s["pgr"]):
            right.scatter([s["share_full"] * 100], [s["pgr"]], zorder=3)
            right.annotate(
                name,
                (s["share_full"] * 100, s["pgr"]),
                fontsize=8,
                xytext=(4, 4),
                textcoords="offset points",
            )
    left.set_xlabel("failure rate (%)")
    left.set_ylabel("cost per 1k requests (USD)")
    left.set_title(f"cost vs quality ({result.mode})")
    right.set_xlabel("requests routed to full first (%)")
    right.set_ylabel("performance gap recovered")
    right.axhline(0.5, ls=":", c="grey")
    right.axhline(0.8, ls=":", c="grey")
    right.set_title("PGR vs share of full-tier calls")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
