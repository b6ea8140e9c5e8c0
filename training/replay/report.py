"""The replay's words and files: the verdict, report.md (people), replay.json (machines) and
cost_quality.png (curves)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from training.replay.drivers import drivers_section
from training.replay.formatting import (
    FEATURE_POLICIES,
    LABEL,
    knob_name,
    policies,
)
from training.replay.formatting import interval as _ci
from training.replay.formatting import knob as _knob
from training.replay.formatting import number as _f
from training.replay.plot import plot
from training.replay.report_tiers import tier_section


def headline_table(result: Any) -> str:
    """The table the README shows: one row per policy."""
    rows = [
        "| policy | cost / 1k requests (USD) | failure rate | escalations / 1k | "
        "added latency (ms) | routed to full first | savings vs always-full | PGR |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in policies(result):
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
            f"{mix[2]:.2f} on every request (same total cost as the learned policy; full "
            "stands for the strongest tier each contract allows).",
            "",
        ]
    length = result.scores.get("prompt_length")
    if length:
        learned = result.scores["learned"]
        out += [
            f"The prompt-length router sends requests under {length['length_lo_chars']:,.0f} "
            f"characters to nano and from {length['length_hi_chars']:,.0f} on to full, never "
            "above the strongest tier the request's contract allows (its p95 budget, as for the "
            "learned policy): the thresholds, picked on these very rows, that fail least at the "
            "learned policy's "
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
            "full (within the same budgets), thresholds picked on these very rows as for prompt "
            "length "
            f"({_f(keyword['cost_per_1k_usd'])} USD per 1k, failures "
            f"{_f(keyword['failure_rate'], '.2%')}).",
            "",
        ]
    out += tier_section(result)
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
        knob = knob_name(curve)
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
