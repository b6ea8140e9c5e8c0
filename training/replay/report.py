"""The replay's words and files: the verdict, report.md (people), replay.json (machines) and
cost_quality.png (curves)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from training.replay.drivers import drivers_section

ORDER = (
    "oracle",
    "perfect_reader",
    "learned",
    "knn",
    "rules",
    "random_matched",
    "prompt_length",
    "keyword",
    "always_nano",
    "always_mini",
    "always_full",
    "strongest_allowed",
)
LABEL = {
    "oracle": "oracle (cheapest viable tier)",
    "perfect_reader": "perfect reader (best possible tier head)",
    "learned": "learned (bundle + decision)",
    "knn": "kNN router (same embeddings)",
    "rules": "rules (today's router)",
    "random_matched": "random at learned's cost",
    "prompt_length": "prompt length at learned's cost",
    "keyword": "keyword router at learned's cost",
    "always_nano": "always nano",
    "always_mini": "always mini",
    "always_full": "always full",
    "strongest_allowed": "strongest tier each contract allows",
}
FEATURE_POLICIES = ("rules", "learned", "knn", "oracle", "always_full")


def _f(value: Any, fmt: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, fmt)


def _ci(s: dict[str, Any], key: str, fmt: str) -> str:
    interval = s.get("ci", {}).get(key)
    return "" if not interval else f" [{_f(interval[0], fmt)}, {_f(interval[1], fmt)}]"


def _knob(point: dict[str, Any]) -> str:
    if "quality_bar" in point:
        return f"{point['quality_bar']:.2f}"
    if "failure_usd" in point:
        return f"{point['failure_usd']:.4g}"
    if "lo_keywords" in point:
        return f"{point['lo_keywords']:.0f} / {point['hi_keywords']:.0f}"
    return f"{point['lo_chars']:,.0f} / {point['hi_chars']:,.0f}"


KNOB = {
    "quality_bar": "bar",
    "failure_usd": "failure price (USD, every feature)",
    "lo_keywords": "nano below / full from (keywords)",
    "lo_chars": "nano below / full from (chars)",
}


def _knob_name(curve: list[dict[str, Any]]) -> str:
    return next((v for k, v in KNOB.items() if curve and k in curve[0]), "knob")


def _policies(result: Any) -> list[str]:
    return [p for p in ORDER if p in result.scores]


def headline_table(result: Any) -> str:
    """The table the README shows: one row per policy."""
    rows = [
        "| policy | cost / 1k requests (USD) | failure rate | escalations / 1k | "
        "added latency (ms) | routed to full first | savings vs always-full | PGR |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in _policies(result):
        s = result.scores[name]
        savings = s.get("savings_vs_full")
        saving = (
            "–"
            if savings is None
            else f"{savings:.1%}" + ("" if s.get("no_worse_than_full") else " (fails more)")
        )
        rows.append(
            f"| {LABEL[name]} | {_f(s['cost_per_1k_usd'])}{_ci(s, 'cost_per_1k_usd', '.4f')} | "
            f"{_f(s['failure_rate'], '.2%')}{_ci(s, 'failure_rate', '.2%')} | "
            f"{_f(s['escalations_per_1k'], '.1f')} | {_f(s['added_latency_ms'], '.1f')} | "
            f"{_f(s['share_full'], '.1%')} | {saving} | {_f(s.get('pgr'), '.3f')} |"
        )
    return "\n".join(rows)


def verdict_sentence(
    scores: dict[str, dict[str, Any]], learned_curve: list[dict[str, float]]
) -> str:
    """The report's first line: learned vs rules, and what the learned threshold curve offers."""
    return _verdict(scores) + _curve_note(learned_curve, scores["rules"])


def _verdict(scores: dict[str, dict[str, Any]]) -> str:
    """One plain sentence: does the learned policy beat rules on cost at no higher failure rate?"""
    learned, rules = scores["learned"], scores["rules"]
    cheaper = learned["cost_per_1k_usd"] < rules["cost_per_1k_usd"]
    no_worse = learned["failure_rate"] <= rules["failure_rate"] + 1e-12
    delta_cost = 1.0 - learned["cost_per_1k_usd"] / rules["cost_per_1k_usd"]
    delta_fail = (learned["failure_rate"] - rules["failure_rate"]) * 100
    numbers = (
        f"cost {learned['cost_per_1k_usd']:.4f} vs {rules['cost_per_1k_usd']:.4f} USD per "
        f"1k requests ({delta_cost:+.1%} saved), failure rate "
        f"{learned['failure_rate']:.2%} vs {rules['failure_rate']:.2%} "
        f"({delta_fail:+.2f} points)"
    )
    if cheaper and no_worse:
        return f"The learned policy beats the rules: {numbers}."
    what = (
        "it is cheaper but fails more often"
        if cheaper
        else "it costs more"
        + (" and fails more often" if not no_worse else " (at a lower failure rate)")
    )
    return (
        "The learned policy does NOT beat the rules on cost at no higher failure rate: "
        f"{what}; {numbers}."
    )


def _curve_note(curve: list[dict[str, float]], rules: dict[str, Any]) -> str:
    """Whether some threshold on the learned curve beats the rules (a retuning, not the default)."""
    ok = [p for p in curve if p["failure_rate"] <= rules["failure_rate"] + 1e-12]
    if not ok:
        return " No threshold on the learned curve reaches the rules' failure rate."
    best = min(ok, key=lambda p: p["cost_per_1k_usd"])
    saving = 1.0 - best["cost_per_1k_usd"] / rules["cost_per_1k_usd"]
    knob = (
        f"bar {best['quality_bar']:.2f} (price-only decision)"
        if "quality_bar" in best
        else f"every failure priced at {best['failure_usd']:.4g} USD (tuned thresholds)"
    )
    return (
        f" On the learned curve, {knob} costs "
        f"{best['cost_per_1k_usd']:.4f} USD per 1k at {best['failure_rate']:.2%} failures: "
        f"{saving:+.1%} vs the rules at no higher failure rate."
    )


def render(result: Any, png_name: str) -> str:
    info = result.info
    exact = result.mode == "exact"
    mode = (
        "**Exact**: the simulator's truth says which tiers could answer each request; the "
        "router playbook is replayed from each first tier "
        f"({info['config']['replays']} draws per request and tier, common random numbers)."
        if exact
        else "**ESTIMATE** (no truth file): self-normalised inverse-propensity estimates from the "
        "logged first tiers and their propensities, with 95% Poisson-bootstrap intervals "
        "in brackets. Failure = a failed trace or a correction within 300 s (what the logs "
        "can see; silent bad answers nobody corrected are missed)."
    )
    out = [
        f"# tierwise evaluate: offline replay ({result.mode})",
        "",
        f"**Verdict.** {result.verdict}",
        "",
        mode,
        "",
        f"- bundle: `{info['bundle']}` version {info['bundle_version']} "
        f"(hash {info['bundle_hash']}, training run {info['bundle_run_id']})",
        f"- held-out: {info['eval_rows']} requests, the newest slice of {info['records']} "
        f"valid records (from {info['eval_from']}), split as `tierwise train` splits",
        f"- routing table {info['routing_table']}; contracts `{info['contracts']}`",
        f"- kNN: k={info['config']['knn_k']} on {info['train_rows_knn']} training rows",
        f"- {info['seconds']} s",
        "",
        "## Policies",
        "",
        headline_table(result),
        "",
    ]
    mix = result.scores.get("random_matched", {}).get("mixture")
    if mix:
        out += [
            f"Random at matched cost mixes nano/mini/full as {mix[0]:.2f}/{mix[1]:.2f}/"
            f"{mix[2]:.2f} on every request (same total cost as the learned policy).",
            "",
        ]
    length = result.scores.get("prompt_length")
    if length:
        learned = result.scores["learned"]
        out += [
            f"The prompt-length router sends requests under {length['length_lo_chars']:,.0f} "
            f"characters to nano and from {length['length_hi_chars']:,.0f} on to full: the "
            "thresholds, picked on these very rows, that fail least at the learned policy's "
            f"cost ({_f(length['cost_per_1k_usd'])} against {_f(learned['cost_per_1k_usd'])}"
            f" USD per 1k; failures {_f(length['failure_rate'], '.2%')} against "
            f"{_f(learned['failure_rate'], '.2%')}).",
            "",
        ]
    keyword = result.scores.get("keyword")
    if keyword:
        out += [
            f"The keyword router counts distinct difficulty keywords (reasoning, arithmetic, "
            "constraints, size and format, specialist terms, code): under "
            f"{keyword['keyword_lo']:.0f} to nano, from {keyword['keyword_hi']:.0f} on to "
            "full, thresholds picked on these very rows as for prompt length "
            f"({_f(keyword['cost_per_1k_usd'])} USD per 1k, failures "
            f"{_f(keyword['failure_rate'], '.2%')}).",
            "",
        ]
    out += _tier_section(result)
    out += [
        "## Cost versus quality",
        "",
        f"![cost versus quality]({png_name})",
        "",
        "| curve | CPT(50%) | CPT(80%) | APGR | best savings vs always-full at no higher "
        "failure rate |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, g in result.gaps.items():
        best = result.scores[name].get("best_savings_at_full_quality")
        out.append(
            f"| {name} | {_f(g['cpt50'], '.1%')} | {_f(g['cpt80'], '.1%')} | "
            f"{_f(g['apgr'], '.3f')} | {_f(best, '.1%')} |"
        )
    out += [
        "",
        "Curves. With tuned thresholds (a bundle built by `tierwise train`) the learned, "
        "kNN and perfect-reader curves price a failure alike for every feature and let each "
        "feature take its own threshold for that price, tuned on the held-out calibration "
        "slice (never these rows). Without tuning, every feature's quality bar is set to the "
        "value and failure costs to zero (the cheapest allowed tier whose P(ok) meets the "
        "bar). The prompt-length and keyword curves are the cost/failure frontiers of their "
        "two thresholds over every pair of 5 % quantiles, picked on these very rows:",
        "",
    ]
    for name, curve in result.curves.items():
        knob = _knob_name(curve)
        out += [
            f"**{name}**",
            "",
            f"| {knob} | cost / 1k | failure | nano / mini / full | PGR |",
            "| ---: | ---: | ---: | --- | ---: |",
        ]
        out += [
            f"| {_knob(p)} | {_f(p['cost_per_1k_usd'])} | "
            f"{_f(p['failure_rate'], '.2%')} | {p['share_nano']:.0%} / {p['share_mini']:.0%}"
            f" / {p['share_full']:.0%} | {_f(p['pgr'], '.3f')} |"
            for p in _distinct(curve)
        ]
        out.append("")
    out += [
        "## Per feature",
        "",
        "Cost per 1k requests (USD) / failure rate.",
        "",
        "| feature | " + " | ".join(p for p in FEATURE_POLICIES if p in result.per_feature) + " |",
        "| --- |" + " ---: |" * sum(p in result.per_feature for p in FEATURE_POLICIES),
    ]
    features = sorted(next(iter(result.per_feature.values())).keys())
    for feat in features:
        cells = [
            f"{_f(result.per_feature[p][feat]['cost_per_1k_usd'])} / "
            f"{_f(result.per_feature[p][feat]['failure_rate'], '.1%')}"
            for p in FEATURE_POLICIES
            if p in result.per_feature
        ]
        n = int(result.per_feature["rules"][feat]["n"])
        out.append(f"| {feat} ({n}) | " + " | ".join(cells) + " |")
    drivers = drivers_section(getattr(result, "drivers", {}))
    out += ["", *drivers[:-1]] if drivers else []
    if result.subsets:
        out += [
            "",
            "## Seen versus unseen templates",
            "",
            "| subset | n | " + " | ".join(p for p in FEATURE_POLICIES) + " |",
            "| --- | ---: |" + " ---: |" * len(FEATURE_POLICIES),
        ]
        for label, by_policy in result.subsets.items():
            n = int(by_policy["rules"]["n"])
            cells = [
                f"{_f(by_policy[p]['cost_per_1k_usd'])} / {_f(by_policy[p]['failure_rate'], '.1%')}"
                for p in FEATURE_POLICIES
            ]
            out.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    if result.ips_check:
        out += [
            "",
            "## Estimator check: inverse propensity vs exact",
            "",
            "What `tierwise evaluate` would report without the truth file (SNIPS on the "
            "logged traces, true failure from truth), next to the exact replay. "
            "ESS = effective sample size of the weights; below ~100 the intervals are not "
            "to be trusted.",
            "",
            "| policy | cost / 1k exact | cost / 1k IPS [95% CI] | failure exact | "
            "failure IPS [95% CI] | ESS |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, est in result.ips_check.items():
            ex = est["exact"]
            out.append(
                f"| {name} | {_f(ex['cost_per_1k_usd'])} | {_f(est['cost_per_1k_usd'])}"
                f"{_ci(est, 'cost_per_1k_usd', '.4f')} | {_f(ex['failure_rate'], '.2%')} | "
                f"{_f(est['failure_rate'], '.2%')}{_ci(est, 'failure_rate', '.2%')} | "
                f"{est['ess']:.0f} |"
            )
    out += ["", "Definitions: docs/evaluation.md.", ""]
    return "\n".join(out)


def _distinct(curve: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Points that differ from the one before (neighbouring prices often route alike)."""
    out: list[dict[str, Any]] = []
    for p in curve:
        if not out or (p["cost_per_1k_usd"], p["failure_rate"]) != (
            out[-1]["cost_per_1k_usd"],
            out[-1]["failure_rate"],
        ):
            out.append(p)
    return out


def _tier_section(result: Any) -> list[str]:
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


def plot(result: Any, path: Path) -> Path:
    """Left: cost per 1k vs failure rate (curves + policy points). Right: PGR vs full share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for name, curve in result.curves.items():
        kind = _knob_name(curve).split(" (")[0]
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
    for name in _policies(result):
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


def write_outputs(result: Any, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    png = plot(result, out_dir / "cost_quality.png")
    report = out_dir / "report.md"
    report.write_text(render(result, png.name), encoding="utf-8")
    payload = {
        "mode": result.mode,
        "verdict": result.verdict,
        "info": result.info,
        "scores": result.scores,
        "curves": result.curves,
        "gaps": result.gaps,
        "tiers": result.tiers,
        "per_feature": result.per_feature,
        "drivers": getattr(result, "drivers", {}),
        "subsets": result.subsets,
        "ips_check": result.ips_check,
    }
    js = out_dir / "replay.json"
    js.write_text(
        json.dumps(_finite(payload), indent=1, default=_json_default, allow_nan=False),
        encoding="utf-8",
    )
    return {"report": report, "json": js, "curve": png}


def _finite(value: Any) -> Any:
    """NaN/inf become null: strict JSON, and 'not defined' reads as such."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
