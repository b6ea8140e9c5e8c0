"""The report's "smallest viable tier" section: AUCs beside the perfect reader's, savings
against always-full and against the strongest tier each contract allows, and where the learned
curve lies against every baseline."""

from __future__ import annotations

from typing import Any

from training.replay.formatting import number as _f


def tier_section(result: Any) -> list[str]:
    """AUCs beside the perfect reader's, savings against always-full, below-baseline checks."""
    t = result.tiers
    if not t:
        return []
    out = ["## The smallest viable tier", ""]
    auc = t.get("auc")
    if auc:
        out += [
            "How well P(ok | tier) separates the requests a tier answers from those it fails "
            "(ROC AUC against the simulator's truth), and how often the smallest tier with "
            "P(ok) >= 0.5 is the smallest viable one. The perfect reader knows each text's "
            "noiseless difficulty (docs/generator.md): no head reading the text can do better.",
            "",
            "| head | AUC nano | AUC mini | AUC full | tier accuracy |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, a in auc.items():
            out.append(
                f"| {name} | {_f(a['nano'], '.3f')} | {_f(a['mini'], '.3f')} | "
                f"{_f(a['full'], '.3f')} | {_f(t['tier_accuracy'][name], '.1%')} |"
            )
        out.append("")
    out += [
        "Savings against always-full along each curve: at no higher failure rate than "
        "always-full's (the target), and at looser failure rates.",
        "",
        "| curve | at always-full's failure | +0.5 point | +1 point | at the rules' failure "
        "| vs the strongest allowed tier, at its failure |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, sv in t["savings"].items():
        out.append(
            f"| {name} | {_f(sv['at_full_failure'], '.1%')} | "
            f"{_f(sv['at_full_plus_0.5pt'], '.1%')} | {_f(sv['at_full_plus_1pt'], '.1%')}"
            f" | {_f(sv['at_rules_failure'], '.1%')}"
            f" | {_f(sv.get('vs_strongest_allowed'), '.1%')} |"
        )
    strongest = t.get("strongest_allowed")
    if strongest:
        out += [
            "",
            "Always-full ignores the contracts' p95 budgets (a surface whose budget is below "
            "full's p95 may not pick full as its cheapest-ok tier); the strongest tier each "
            "contract allows costs "
            f"{strongest['cost_per_1k_usd']:.4f} USD per 1k at {strongest['failure_rate']:.2%} "
            "failures: what a policy that keeps to the contracts gets by sending every request "
            "as high as its contract lets it choose. The last column is the saving against it "
            "at no higher failure rate.",
        ]
    below = t.get("below")
    if below:
        out += [
            "",
            "Is the learned curve below each baseline? At every baseline point whose "
            "failure rate the learned curve spans, the learned cost there minus the "
            "baseline's (USD per 1k; > 0 means the learned curve is above it).",
            "",
            "| baseline | points | compared | worst gap | at failure | below everywhere |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in below:
            verdict = "yes" if row["below"] else ("no" if row["compared"] else "not comparable")
            out.append(
                f"| {row['baseline']} | {row['points']} | {row['compared']} | "
                f"{_f(row['worst_gap_per_1k'], '+.4f')} | "
                f"{_f(row['worst_at_failure'], '.2%')} | {verdict} |"
            )
    return [*out, ""]
