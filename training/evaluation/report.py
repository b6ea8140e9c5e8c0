"""The evaluation report: PNG plots (confusion matrices, reliability curves) and one markdown page.

Plots use matplotlib's Agg backend so that training runs headless; the markdown links them by
relative path, so the report reads the same in the bundle dir, in docs/ and in MLflow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from training.evaluation.metrics import Evaluation

HEADS = ("intent", "risk", "tier")


def write_plots(evaluation: Evaluation, out_dir: Path, stem: str) -> list[Path]:
    """One confusion-matrix PNG per head and one reliability PNG for all calibrated outputs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for head, rep in evaluation.heads.items():
        if rep.n == 0:
            continue
        matrix = np.asarray(rep.confusion, dtype=float)
        rows = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(rep.labels), 0.8 + 0.6 * len(rep.labels)))
        ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(rep.labels)), rep.labels, rotation=45, ha="right")
        ax.set_yticks(range(len(rep.labels)), rep.labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(len(rep.labels)):
            for j in range(len(rep.labels)):
                ax.text(
                    j,
                    i,
                    f"{int(matrix[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black",
                )
        ax.set_title(f"{head}: {evaluation.name} (n={rep.n})", fontsize=9)
        fig.tight_layout()
        path = out_dir / f"confusion_{stem}_{head}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)

    curves = [
        (f"{h} (top label)", r.reliability) for h, r in evaluation.heads.items() if r.reliability
    ]
    curves += [
        (f"P(ok|{t})", r.reliability) for t, r in evaluation.tier_ok.items() if r.reliability
    ]
    if curves:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
        for label, rel in curves:
            ax.plot(
                rel["confidence"],
                rel["accuracy"],
                marker="o",
                markersize=3,
                label=f"{label}, ECE {rel['ece']:.3f}",
            )
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_title(f"reliability: {evaluation.name}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        path = out_dir / f"reliability_{stem}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def _f(value: float, digits: int = 3) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def render_markdown(
    *,
    title: str,
    summary: Mapping[str, Any],
    evaluations: Mapping[str, Evaluation],
    comparisons: list[tuple[str, list[tuple[str, str]]]],
    latency_ms: Mapping[str, float],
    calibrations: list[dict[str, Any]],
    timings: Mapping[str, float],
    images: list[str],
    notes: list[str],
) -> str:
    """The report page. `comparisons` are (heading, [(variant label, evaluation key), ...])."""
    lines = [f"# {title}", ""]
    for key, value in summary.items():
        lines.append(f"- **{key}**: {value}")
    lines.append("")

    lines += [
        "## Held-out results per head",
        "",
        "| evaluation | head | n | accuracy | macro-F1 | ECE |",
        "|---|---|---:|---:|---:|---:|",
    ]
    main = {k: v for k, v in evaluations.items() if "/cmp_" not in k}
    for name, ev in main.items():
        for head in HEADS:
            rep = ev.heads[head]
            lines.append(
                f"| {name} | {head} | {rep.n} | {_f(rep.accuracy)} | "
                f"{_f(rep.macro_f1)} | {_f(rep.ece)} |"
            )
    lines.append("")

    if comparisons:
        lines += ["## The student's price: static student vs MiniLM teacher", ""]
        lat = ", ".join(f"{k}: {v:.3f} ms" for k, v in latency_ms.items())
        lines += [f"Per-text latency (one text at a time, this machine): {lat}.", ""]
        for heading, variants in comparisons:
            names = [v for v, _ in variants]
            lines += [
                f"### {heading}",
                "",
                "| head | "
                + " | ".join(f"{v} acc" for v in names)
                + " | "
                + " | ".join(f"{v} macro-F1" for v in names)
                + " |",
                "|---|" + "---:|" * (2 * len(names)),
            ]
            for head in HEADS:
                reps = [evaluations[key].heads[head] for _, key in variants]
                lines.append(
                    f"| {head} | "
                    + " | ".join(_f(r.accuracy) for r in reps)
                    + " | "
                    + " | ".join(_f(r.macro_f1) for r in reps)
                    + " |"
                )
            lines.append("")

    first = next(iter(main.values()), None)
    if first is not None:
        lines += [f"## Per-class precision / recall ({first.name})", ""]
        for head in HEADS:
            rep = first.heads[head]
            lines += [f"**{head}**", "", "| class | precision | recall |", "|---|---:|---:|"]
            lines += [f"| {c} | {_f(rep.precision[c])} | {_f(rep.recall[c])} |" for c in rep.labels]
            lines.append("")
        lines += [
            "## P(tier ok), observed outcomes only",
            "",
            "| tier | n | ok rate | accuracy | AUC | Brier | ECE |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for tier, r in first.tier_ok.items():
            lines.append(
                f"| {tier} | {r.n} | {_f(r.positive_rate)} | {_f(r.accuracy)} | "
                f"{_f(r.auc)} | {_f(r.brier)} | {_f(r.ece)} |"
            )
        lines.append("")

    if calibrations:
        lines += [
            "## Calibration (fitted on the calibration slice, folded into the trees)",
            "",
            "| head | method | scale | shift | ECE before | ECE after |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for c in calibrations:
            lines.append(
                f"| {c['head']} | {c['method']} | {_f(c['scale'])} | {_f(c['shift'])} | "
                f"{_f(c['ece_before'])} | {_f(c['ece_after'])} |"
            )
        lines.append("")

    if timings:
        lines += ["## Stage timings", "", "| stage | seconds |", "|---|---:|"]
        lines += [f"| {stage} | {sec:.1f} |" for stage, sec in timings.items()]
        lines += [f"| **total** | {sum(timings.values()):.1f} |", ""]

    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    if images:
        lines += ["## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images] + [""]
    return "\n".join(lines)
