"""Is the tier decision or the tier head the limit? Replay other decision rules on the same rows.

`tierwise evaluate` scores the production decision: per-request expected cost with one price of
a failure, that price tuned per feature on the calibration slice. This probe replays, on the
same 20,000 held-out requests and with the same exact outcomes, decision rules that a team could
use instead, all kept to the contracts' p95 budgets and risk floors:

- `tuned`: the production decision, swept over one contract price of a failure for every feature;
- `one_price`: the same decision with one grid price for every feature, untuned;
- `mini_threshold`: mini, and the strongest allowed tier where P(ok | mini) is below a cut;
- `calibrated_outcomes`: per request, the first tier minimising predicted cost + price x
  predicted failure, where both are fitted on the calibration slice's replayed outcomes (final
  failure after retries and escalations, not the first attempt's), isotonic in P(ok | tier);
- `prompt_length`: mini, and the strongest allowed tier from a length cut;
- the `perfect_reader` rows run `tuned` and `mini_threshold` on the simulator's true P(ok).

It prints the cost per 1k requests of each curve at a few failure rates (curves interpolated as
the report does) and writes them as JSON. About 3 minutes here.

    python scripts/probe_tier_decisions.py --bundle models/default --out /tmp/tier-probe.json

Numbers and what they say: docs/evaluation.md, "Is the decision the limit?".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FAILURE_RATES = (0.0275, 0.03, 0.04, 0.05, 0.07, 0.09, 0.1031, 0.15)
Curve = list[tuple[float, float]]


def _replay_rows(bundle: Path, max_rows: int) -> dict[str, Any]:
    """Predictions, eligibility and exact outcomes on the calibration and evaluation slices."""
    from classifier.contracts import load_contracts, load_routing_table
    from classifier.guards import scan
    from classifier.runtime import Classifier
    from data.generator.cached import default_logs
    from data.generator.counterfactual import true_ok_probs
    from training.config import load_config
    from training.ingest.splits import make_splits
    from training.replay.cli import DEFAULT_WORK
    from training.replay.costs import simulate_outcomes
    from training.replay.data import load_replay_data
    from training.replay.run import held_out_rows
    from training.replay.tiers import tuning_slice

    table, contracts = load_routing_table(), load_contracts()
    cfg = load_config()
    logs, corrections, truth = default_logs(DEFAULT_WORK, cfg.generate.n, cfg.generate.seed)
    rd = load_replay_data([logs], [corrections], truth, table)
    if rd.truth is None:
        raise SystemExit("the probe needs the simulator's truth; rebuild the default logs")
    splits = make_splits(rd.data.ts, cfg.data, rd.truth)
    eval_idx = held_out_rows(rd, cfg, max_rows)  # the rows `tierwise evaluate` scores
    held = tuning_slice(rd, splits.calib, table, replays=4, seed=0, max_rows=max_rows,
                        logged=lambda rows: None)  # fmt: skip
    if held is None:
        raise SystemExit("the calibration slice is too small to probe; build a bigger default")
    clf = Classifier.load(bundle)
    out: dict[str, Any] = {"table": table, "contracts": contracts}
    for name, idx in (("calib", held["index"]), ("eval", eval_idx)):
        texts = [rd.data.text[i] for i in idx]
        requests = rd.requests(idx)
        preds = []
        for start in range(0, len(texts), 256):
            preds += clf.classify_batch(texts[start : start + 256])
        out[name] = {
            "texts": texts,
            "features": [rd.data.feature[i] for i in idx],
            "preds": preds,
            "guards": [scan(t) for t in texts],
            "outcomes": held["outcomes"]
            if name == "calib"
            else simulate_outcomes(requests, table, replays=4, seed=0),
            "true_ok": true_ok_probs(
                texts, [r.intent for r in requests], [r.risk for r in requests]
            ),  # fmt: skip
        }
    return out


def _eligible(rows: dict[str, Any], contracts: Any, table: Any) -> np.ndarray:
    """[N, 3]: tiers the learned decision may choose (risk floor, residency, p95 budget)."""
    from classifier.plan import plan_for

    out = np.zeros((len(rows["preds"]), 3), dtype=bool)
    for i, (p, g, f) in enumerate(
        zip(rows["preds"], rows["guards"], rows["features"], strict=True)
    ):
        plan = plan_for(contracts, table, f, None, g.detectors)
        risk = max(plan.contract_risk_rank, plan.risk_rank[p.risk], plan.guard_rank[g.risk_floor])
        for t in range(plan.min_rank_by_risk[risk], 3):
            out[i, t] = plan.eligible[t]
        if not out[i].any():
            out[i, plan.down[plan.top]] = True
    return out


def _points(tier_sets: Sequence[np.ndarray], outcomes: Any) -> Curve:
    from training.replay.metrics import score_exact
    from training.replay.policies import one_hot

    scores = (score_exact(one_hot(t), outcomes) for t in tier_sets)
    return [(s["failure_rate"], s["cost_per_1k_usd"]) for s in scores]


def _tuned(rows: dict[str, Any], preds: list[Any], ctx: dict[str, Any]) -> Curve:
    from training.replay.policies import decide_tiers, with_failure_cost
    from training.replay.tiers import FAILURE_COSTS

    c, t, r = ctx["contracts"], ctx["table"], ctx["rules"]
    args = (rows["texts"], rows["features"], rows["guards"])
    sets = [decide_tiers(preds, *args, with_failure_cost(c, usd), t, r) for usd in FAILURE_COSTS]
    return _points(sets, rows["outcomes"])


def _one_price(rows: dict[str, Any], ctx: dict[str, Any]) -> Curve:
    from classifier.tuning import with_failure_price
    from training.replay.policies import decide_tiers
    from training.replay.tier_tuning import PRICES

    preds = [dataclasses.replace(p, tier_tuning=None) for p in rows["preds"]]
    args = (rows["texts"], rows["features"], rows["guards"])
    c, t, r = ctx["contracts"], ctx["table"], ctx["rules"]
    sets = [decide_tiers(preds, *args, with_failure_price(c, p), t, r) for p in PRICES]
    return _points(sets, rows["outcomes"])


def _cut_curve(score: np.ndarray, elig: np.ndarray, outcomes: Any) -> Curve:
    """Mini (or the lowest eligible tier above it); the strongest eligible tier from a cut."""
    rank = np.arange(3)
    top = np.where(elig, rank, -1).max(axis=1)
    base = np.where(elig & (rank >= 1), rank, 9).min(axis=1)
    base = np.where(base == 9, top, base)
    cuts = np.quantile(score, np.linspace(0.0, 1.0, 101))
    return _points([np.where(score >= cut, top, base) for cut in cuts], outcomes)


def _calibrated(calib: dict[str, Any], rows: dict[str, Any], elig: np.ndarray) -> Curve:
    """argmin over eligible tiers of predicted cost + price x predicted final failure."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.isotonic import IsotonicRegression

    def probs(r: dict[str, Any]) -> np.ndarray:
        return np.array(
            [[p.tier_ok_probs[t] for t in ("nano", "mini", "full")] for p in r["preds"]]
        )

    def side(r: dict[str, Any]) -> np.ndarray:
        tokens = np.log1p([p.tokens_used for p in r["preds"]])
        return np.column_stack([probs(r), tokens, np.log1p([len(t) for t in r["texts"]])])

    pc, pe = probs(calib), probs(rows)
    fail, cost = np.zeros_like(pe), np.zeros_like(pe)
    for t in range(3):
        iso = IsotonicRegression(increasing=False, out_of_bounds="clip")
        fail[:, t] = iso.fit(pc[:, t], calib["outcomes"].fail[:, t]).predict(pe[:, t])
        gbm = HistGradientBoostingRegressor(max_iter=200, random_state=0)
        cost[:, t] = gbm.fit(side(calib), calib["outcomes"].cost_usd[:, t]).predict(side(rows))
    prices = np.concatenate([[0.0], np.geomspace(1e-4, 100.0, 80)])
    sets = [np.where(elig, cost + lam * fail, np.inf).argmin(axis=1) for lam in prices]
    return _points(sets, rows["outcomes"])


def probe(bundle: Path, max_rows: int = 20_000) -> dict[str, Any]:
    from classifier.rules import RuleRouter
    from training.replay.tier_tuning import tune
    from training.replay.tiers import curve_cost_at, with_tier_probs, with_tuning

    data = _replay_rows(bundle, max_rows)
    ctx = {**data, "rules": RuleRouter.default(data["table"].tier_models)}
    calib, rows = data["calib"], data["eval"]
    elig = _eligible(rows, ctx["contracts"], ctx["table"])
    p_mini = np.array([p.tier_ok_probs["mini"] for p in rows["preds"]])
    perfect_calib = with_tier_probs(calib["preds"], calib["true_ok"])
    perfect_tuning = tune(perfect_calib, calib["texts"], calib["features"], ctx["contracts"],
                          ctx["table"], ctx["rules"], outcomes=calib["outcomes"])  # fmt: skip
    perfect = with_tuning(with_tier_probs(rows["preds"], rows["true_ok"]), perfect_tuning)
    lengths = np.array([len(t) for t in rows["texts"]], dtype=float)
    curves: dict[str, Curve] = {
        "tuned": _tuned(rows, rows["preds"], ctx),
        "one_price": _one_price(rows, ctx),
        "mini_threshold": _cut_curve(1.0 - p_mini, elig, rows["outcomes"]),
        "calibrated_outcomes": _calibrated(calib, rows, elig),
        "prompt_length": _cut_curve(lengths, elig, rows["outcomes"]),
        "perfect_reader_tuned": _tuned(rows, perfect, ctx),
        "perfect_reader_mini_threshold": _cut_curve(
            1.0 - rows["true_ok"][:, 1], elig, rows["outcomes"]
        ),  # fmt: skip
    }
    mini = _points([np.ones(len(lengths), dtype=np.intp)], rows["outcomes"])[0]
    table: dict[str, dict[str, Any]] = {}
    for name, curve in curves.items():
        points = [{"failure_rate": f, "cost_per_1k_usd": c} for f, c in curve]
        table[name] = {
            "lowest_failure": min(f for f, _ in curve),
            **{f"{rate:.4f}": curve_cost_at(points, rate) for rate in FAILURE_RATES},
        }
    return {"rows": len(lengths), "calib_rows": len(calib["texts"]), "always_mini": mini,
            "curves": table}  # fmt: skip


def _render(result: dict[str, Any]) -> str:
    head = "| decision | lowest failure | " + " | ".join(f"{r:.2%}" for r in FAILURE_RATES) + " |"
    lines = [head, "|---" * (len(FAILURE_RATES) + 2) + "|"]
    for name, row in result["curves"].items():
        cells = [f"{row[f'{r:.4f}']:.3f}" if row[f"{r:.4f}"] is not None else "-"
                 for r in FAILURE_RATES]  # fmt: skip
        lines.append(f"| {name} | {row['lowest_failure']:.2%} | " + " | ".join(cells) + " |")
    mini_fail, mini_cost = result["always_mini"]
    lines.append(f"\nalways-mini: {mini_cost:.3f} USD per 1k at {mini_fail:.2%} failures")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("models/default"))
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--max-rows", type=int, default=20_000)
    args = parser.parse_args()
    result = probe(args.bundle, args.max_rows)
    print(_render(result))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
