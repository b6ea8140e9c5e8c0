"""`tierwise evaluate`: offline replay of routing policies on held-out logs, logged to MLflow.

Policies: rules, learned (the bundle + the production decision), always-nano/mini/full, random
at the learned policy's cost, a prompt-length router at the learned policy's cost, kNN on the
bundle's embeddings, and (with truth) the oracle. They
are scored on the newest slice of the logs, split exactly as `tierwise train` splits them, so
the learned model never saw these requests. With the simulator's truth the scores are exact
(the playbook is replayed from every first tier); without it they are inverse-propensity
estimates with bootstrap intervals, labelled as such.

Example:
    result = run_replay([Path("logs.jsonl")], [Path("corrections.jsonl")], Path("truth.jsonl"),
                        Path("models/default"), Path(".tierwise/evaluate"))
    result.scores["learned"]["cost_per_1k_usd"], result.verdict
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifier.contracts import Contracts, RoutingTable, load_contracts, load_routing_table
from classifier.prediction import Prediction
from classifier.rules import RuleRouter
from training.config import TrainConfig, load_config
from training.engines.stages import replay_scorer
from training.ingest.splits import make_splits
from training.replay.costs import Logged, Outcomes, logged_outcomes
from training.replay.data import ReplayData, load_replay_data
from training.replay.drivers import cost_drivers
from training.replay.knn_router import predictions_from_proba
from training.replay.metrics import (
    add_relative,
    breakdown,
    breakdown_ips,
    gap_figures,
    pgr,
    poisson_weights,
    score_exact,
    score_ips,
)
from training.replay.policies import (
    decide_tiers,
    fixed,
    length_sweep,
    length_tiers,
    match_length_cost,
    matched_mixture,
    mixture,
    one_hot,
    oracle_tiers,
    rules_tiers,
    strongest_allowed_tiers,
    with_failure_cost,
    with_quality_bar,
)
from training.replay.record import track_replay
from training.replay.routers import classify_all, encoder, fit_knn, router_latency
from training.replay.rowscore import ScoreJob
from training.replay.tiers import (
    CURVE_KEYS,
    FAILURE_COSTS,
    keyword_scores,
    perfect_reader,
    tier_figures,
    tune_on,
    tuning_info,
    tuning_slice,
    with_tuning,
)

logger = logging.getLogger(__name__)

DEFAULT_BARS = (0.05, 0.2, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99)
MAIN = (
    "rules",
    "learned",
    "knn",
    "random_matched",
    "prompt_length",
    "keyword",
    "always_nano",
    "always_mini",
    "always_full",
    "strongest_allowed",
)


@dataclass(frozen=True)
class ReplayConfig:
    """Replay knobs (logged whole as MLflow params)."""

    replays: int = 4  # playbook draws per (request, first tier) in exact mode
    seed: int = 0
    knn_k: int = 25
    knn_max_train: int = 20_000  # newest training rows the kNN router searches
    bars: tuple[float, ...] = DEFAULT_BARS  # quality bars swept for the cost/quality curve
    bootstrap: int = 200
    max_eval_rows: int | None = None  # evaluate a seeded sample of the held-out slice
    latency_sample: int = 100
    batch_size: int = 256


@dataclass
class ReplayResult:
    mode: str  # "exact" or "estimate"
    scores: dict[str, dict[str, Any]]
    curves: dict[str, list[dict[str, float]]]
    gaps: dict[str, dict[str, float]]
    per_feature: dict[str, dict[str, dict[str, Any]]]
    subsets: dict[str, dict[str, dict[str, Any]]]
    ips_check: dict[str, dict[str, Any]]
    verdict: str
    info: dict[str, Any]
    tiers: dict[str, Any] = field(default_factory=dict)  # AUCs, savings, below-baseline checks
    drivers: dict[str, dict[str, Any]] = field(default_factory=dict)  # replay.drivers, learned
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    run_id: str | None = None


def run_replay(
    logs: Sequence[Path],
    corrections: Sequence[Path],
    truth: Path | None,
    bundle_dir: Path,
    out_dir: Path,
    *,
    config: ReplayConfig | None = None,
    train_config: TrainConfig | None = None,
    contracts: Contracts | None = None,
    table: RoutingTable | None = None,
    rules: RuleRouter | None = None,
    track: bool = True,
    engine: str = "local",
    workers: int | None = None,
) -> ReplayResult:
    """Score every policy; write report.md, replay.json and the curve to `out_dir`; track it.

    `engine` runs the per-request scoring (training.replay.rowscore) in this process or on Ray
    Data (`workers` actors); the report is the same.
    """
    from classifier.runtime import Classifier
    from training.replay.report import verdict_sentence, write_outputs

    rc = config or ReplayConfig()
    cfg = train_config or load_config()
    table = table or load_routing_table()
    contracts = contracts or load_contracts()
    rules = rules or RuleRouter.default(table.tier_models)
    started = time.perf_counter()

    rd = load_replay_data(
        logs, corrections, truth, table, quarantine_path=Path(out_dir) / "quarantine.jsonl"
    )
    data = rd.data
    n = len(data)
    splits = make_splits(data.ts, cfg.data, rd.truth)
    eval_idx = held_out_rows(rd, cfg, rc.max_eval_rows, rc.seed)
    exact = rd.truth is not None
    texts = [data.text[i] for i in eval_idx]
    features = [data.feature[i] for i in eval_idx]
    m = len(eval_idx)
    logger.info("replaying %d held-out requests (%s)", m, "exact" if exact else "estimate")

    clf = Classifier.load(bundle_dir)
    tuned = clf.tier_tuning is not None and contracts.decision.thresholds == "tuned"
    variants = (contracts, *(c for _, _, c in _sweep_contracts(rc, tuned, contracts)))
    job = ScoreJob(Path(bundle_dir), table, rules, variants, rc.replays, rc.seed, rc.batch_size)
    scoring_started = time.perf_counter()
    scored = replay_scorer(engine, workers)(job, texts, features,
                                         rd.requests(eval_idx) if exact else None)  # fmt: skip
    guards, learned_preds = scored.guards, scored.predictions
    scoring_seconds = time.perf_counter() - scoring_started
    decided = {c.source: j for j, c in enumerate(variants)}
    knn, embedder, knn_preds = fit_knn(
        cfg, rd, splits.train[-rc.knn_max_train :], rc.knn_k, bundle_dir, texts
    )
    held = tuning_slice(
        rd,
        splits.calib,
        table,
        replays=rc.replays,
        seed=rc.seed,
        max_rows=rc.max_eval_rows,
        logged=lambda rows: logged_traces(rd, rows),
    )
    if held is not None:  # kNN's thresholds, tuned where the bundle's were: out of sample
        knn_held = predictions_from_proba(knn.predict_proba(encoder(cfg, embedder)(
            held["texts"])), f"knn-k{rc.knn_k}")  # fmt: skip
        knn_preds = with_tuning(knn_preds, tune_on(held, knn_held, contracts, table, rules))

    def route(preds: Sequence[Any], c: Contracts) -> np.ndarray:
        if preds is learned_preds and c.source in decided:  # decided with the scoring
            return one_hot(scored.decisions[:, decided[c.source]])
        return one_hot(decide_tiers(preds, texts, features, guards, c, table, rules))

    pis: dict[str, np.ndarray] = {
        "rules": one_hot(rules_tiers(rules, texts, features)),
        "learned": route(learned_preds, contracts),
        "knn": route(knn_preds, contracts),
        "always_nano": fixed(m, "nano"),
        "always_mini": fixed(m, "mini"),
        "always_full": fixed(m, "full"),
        "strongest_allowed": one_hot(strongest_allowed_tiers(contracts, table, features)),
    }
    perfect_preds = None
    if exact:
        pis["oracle"] = one_hot(oracle_tiers(rd.truth.tier_ok[eval_idx]))  # type: ignore[union-attr]
        perfect_preds = perfect_reader(rd, eval_idx, learned_preds, held,
                                       lambda ts: classify_all(clf, ts, rc.batch_size), contracts,
                                       table, rules)  # fmt: skip
        pis["perfect_reader"] = route(perfect_preds, contracts)

    logged = logged_traces(rd, eval_idx)
    boot = poisson_weights(m, rc.bootstrap, rc.seed)
    if exact:
        outcomes = Outcomes.of(scored.outcomes)  # type: ignore[arg-type]

        def score(pi: np.ndarray) -> dict[str, Any]:
            return score_exact(pi, outcomes)

        search_score = score
    else:

        def score(pi: np.ndarray) -> dict[str, Any]:
            return score_ips(pi, logged, boot)

        def search_score(pi: np.ndarray) -> dict[str, Any]:  # threshold search: no bootstrap
            return score_ips(pi, logged)

    scores = {name: score(pi) for name, pi in pis.items()}
    cap = budget_cap(pis["strongest_allowed"], scores)
    lengths, keywords = _cost_matched_baselines(pis, scores, texts, score, search_score, cap)

    router_ms = router_latency(
        rc.latency_sample, clf, contracts, table, rules, knn, embedder, texts, features
    )
    add_relative(scores, router_ms)

    curves = {"learned": _sweep(rc, learned_preds, route, contracts, score),
              "knn": _sweep(rc, knn_preds, route, contracts, score),
              "prompt_length": [{k: p[k] for k in ("lo_chars", "hi_chars", *CURVE_KEYS)}
                                for p in length_sweep(lengths, search_score, cap=cap)],
              "keyword": [{"lo_keywords": p["lo_chars"], "hi_keywords": p["hi_chars"],
                           **{k: p[k] for k in CURVE_KEYS}}
                          for p in length_sweep(keywords, search_score, cap=cap)]}  # fmt: skip
    if perfect_preds is not None:
        curves["perfect_reader"] = _sweep(rc, perfect_preds, route, contracts, score)
    gaps = _gaps(curves, scores)

    if exact:
        per_feature = {name: breakdown(pi, outcomes, features) for name, pi in pis.items()}
    else:
        per_feature = {name: breakdown_ips(pi, logged, features) for name, pi in pis.items()}
    subsets = _subsets(pis, eval_idx, splits, outcomes) if exact else {}
    ips_check = _ips_check(pis, logged, boot, scores) if exact and rd.true_fail is not None else {}

    heads: dict[str, Sequence[Prediction] | None] = {
        "learned": learned_preds,
        "knn": knn_preds,
        "perfect_reader": perfect_preds,
    }
    truth_ok = rd.truth.tier_ok[eval_idx] if rd.truth is not None else None
    tiers = tier_figures(scores, curves, heads, truth_ok)
    verdict = verdict_sentence(scores, curves.get("learned", []))
    info: dict[str, Any] = {
        "mode": "exact" if exact else "estimate",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "logs": [str(p) for p in logs],
        "corrections": [str(p) for p in corrections],
        "truth": str(truth) if truth else None,
        "bundle": str(bundle_dir),
        "bundle_version": clf.model_version,
        "bundle_hash": clf.bundle_hash,
        "bundle_run_id": clf.manifest.mlflow_run_id,
        "records": n,
        "eval_rows": m,
        "eval_from": dt.datetime.fromtimestamp(float(data.ts[eval_idx[0]]), dt.UTC).isoformat()
        if m
        else None,
        "train_rows_knn": int(len(knn.X_)),
        "routing_table": table.version,
        "contracts": contracts.source,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in rc.__dict__.items()},
        "split": splits.sizes(),
        "holdout_domains": splits.holdout_domains,
        "seconds": round(time.perf_counter() - started, 1),
        "engine": engine,
        "scoring_seconds": round(scoring_seconds, 2),  # classify, decide, price (rowscore)
    }
    info["tuning"] = {name: tuning_info(p[0].tier_tuning if p else None) for name, p in
                      (("learned", learned_preds), ("knn", knn_preds),
                       ("perfect_reader", perfect_preds))}  # fmt: skip
    drivers = cost_drivers(learned_preds, texts, features, guards, contracts, table,
                           pis["learned"].argmax(axis=1), rules)  # fmt: skip
    result = ReplayResult(info["mode"], scores, curves, gaps, per_feature, subsets, ips_check,
                          verdict, info, tiers, drivers=drivers)  # fmt: skip
    result.out_dir = Path(out_dir)
    result.files = write_outputs(result, Path(out_dir))
    if track:
        result.run_id = track_replay(result, cfg)
    return result


def held_out_rows(
    rd: ReplayData, cfg: TrainConfig, max_rows: int | None = None, seed: int = 0
) -> np.ndarray:
    """The rows `tierwise evaluate` scores: the newest `eval_fraction` of the logs (as training
    splits them), with truth only those it labels, then a seeded sample of `max_rows`."""
    n = len(rd.data)
    index = np.arange(n - max(1, math.ceil(cfg.data.eval_fraction * n)), n)
    if rd.truth is not None:
        index = index[rd.truth.intent[index] >= 0]
    if max_rows is not None and len(index) > max_rows:
        pick = np.random.default_rng(seed).choice(len(index), max_rows, replace=False)
        index = index[np.sort(pick)]
    return index


def budget_cap(strongest: np.ndarray, scores: dict[str, dict[str, Any]]) -> np.ndarray | None:
    """Per request, the highest tier the cost-matched baselines may pick: the strongest tier its
    contract allows within the p95 budget (one-hot `strongest`), as the tuned learned decision
    keeps to it. None (no cap) when the learned policy costs more than that: untuned bars send a
    request past the budget when no tier meets them, and a capped baseline could not match it.
    """
    if scores["learned"]["cost_usd"] > scores["strongest_allowed"]["cost_usd"] + 1e-12:
        return None
    return strongest.argmax(axis=1)


def _cost_matched_baselines(
    pis: dict[str, np.ndarray],
    scores: dict[str, dict[str, Any]],
    texts: list[str],
    score: Callable[[np.ndarray], dict[str, Any]],
    search_score: Callable[[np.ndarray], dict[str, Any]],
    cap: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Add the baselines matched to the learned policy's cost (random mixture, prompt length,
    keywords) to `pis` and `scores`; returns the lengths and keyword counts they read.

    None of them goes above `cap` (see `budget_cap`): the random mixture's "full" share is
    each request's strongest allowed tier then."""
    m = len(texts)
    corners = [score(mixture(m, tier, cap))["cost_usd"] for tier in np.eye(pis["rules"].shape[1])]
    q = matched_mixture(scores["learned"]["cost_usd"], corners)
    pis["random_matched"] = mixture(m, q, cap)
    scores["random_matched"] = score(pis["random_matched"])
    scores["random_matched"]["mixture"] = [float(x) for x in q]
    lengths = np.fromiter((len(t) for t in texts), dtype=np.float64, count=m)
    target = scores["learned"]["cost_per_1k_usd"]
    matched = match_length_cost(lengths, search_score, target, cap=cap)
    pis["prompt_length"] = one_hot(
        length_tiers(lengths, matched["lo_chars"], matched["hi_chars"], cap)
    )
    scores["prompt_length"] = score(pis["prompt_length"])
    scores["prompt_length"].update(
        length_lo_chars=matched["lo_chars"], length_hi_chars=matched["hi_chars"]
    )
    keywords = keyword_scores(texts)
    matched = match_length_cost(keywords, search_score, target, cap=cap)
    pis["keyword"] = one_hot(length_tiers(keywords, matched["lo_chars"], matched["hi_chars"], cap))
    scores["keyword"] = score(pis["keyword"])
    scores["keyword"].update(keyword_lo=matched["lo_chars"], keyword_hi=matched["hi_chars"])
    return lengths, keywords


def _gaps(
    curves: dict[str, list[dict[str, float]]], scores: dict[str, dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Savings and PGR on every curve point, each policy's best saving at full quality, and the
    gap figures (CPT, APGR) per curve."""
    full, nano = scores["always_full"], scores["always_nano"]
    for curve in curves.values():
        for point in curve:
            point["savings_vs_full"] = 1.0 - point["cost_per_1k_usd"] / full["cost_per_1k_usd"]
            point["pgr"] = pgr(point["failure_rate"], nano["failure_rate"], full["failure_rate"])
    for name, s in scores.items():
        s["best_savings_at_full_quality"] = _best_savings(curves.get(name), full)
    return {
        name: gap_figures([(p["share_full"], p["pgr"]) for p in curve])
        for name, curve in curves.items()
    }


def _ips_check(
    pis: dict[str, np.ndarray],
    logged: Logged,
    boot: np.ndarray,
    scores: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The IPS estimate next to the exact score of the same policies (simulated logs only)."""
    check = {
        name: score_ips(pis[name], logged, boot)
        for name in ("rules", "learned", "knn", "always_nano", "always_mini", "always_full")
    }
    for name, est in check.items():
        est["exact"] = {
            k: scores[name][k] for k in ("cost_per_1k_usd", "failure_rate", "escalations_per_1k")
        }
    return check


def logged_traces(rd: ReplayData, index: np.ndarray) -> Logged:
    """The logged first tier, propensity and outcome of rows `index` (for IPS estimates)."""
    true_fail = rd.true_fail[index] if rd.true_fail is not None else None
    if true_fail is not None and not np.isfinite(true_fail).all():
        true_fail = None
    return logged_outcomes(
        rd.logged[index],
        rd.data.first_tier[index].astype(np.intp),
        rd.data.propensity[index],
        true_fail,
    )


def _sweep_contracts(
    rc: ReplayConfig, tuned: bool, contracts: Contracts
) -> list[tuple[str, float, Contracts]]:
    """Tuned predictions: one failure price for all features; untuned: the quality bar."""
    if tuned:
        return [("failure_usd", usd, with_failure_cost(contracts, usd)) for usd in FAILURE_COSTS]
    return [("quality_bar", bar, with_quality_bar(contracts, bar)) for bar in rc.bars]


def _sweep(
    rc: ReplayConfig, preds: Sequence[Any], route: Callable, contracts: Contracts, score: Callable
) -> list[dict[str, float]]:
    """The cost/failure curve of `preds` over the sweep's contract variants."""
    tuned = bool(preds) and preds[0].tier_tuning is not None
    points = []
    for key, value, variant in _sweep_contracts(
        rc, tuned and contracts.decision.thresholds == "tuned", contracts
    ):
        s = score(route(preds, variant))
        points.append({key: value, **{k: s[k] for k in CURVE_KEYS}})
    return points


def _best_savings(curve: list[dict[str, float]] | None, full: dict[str, Any]) -> float | None:
    """Largest saving vs always-full among sweep points with no higher failure rate."""
    if not curve:
        return None
    ok = [p["savings_vs_full"] for p in curve if p["failure_rate"] <= full["failure_rate"] + 1e-12]
    return max(ok) if ok else None


def _subsets(
    pis: dict[str, np.ndarray], eval_idx: np.ndarray, splits: Any, outcomes: Any
) -> dict[str, dict[str, dict[str, Any]]]:
    """Held-out rows of templates/domains seen in training vs never seen (truth only)."""
    unseen = np.isin(eval_idx, splits.test_unseen)
    if not unseen.any():
        return {}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for label, mask in (("seen templates", ~unseen), ("unseen templates/domains", unseen)):
        idx = np.flatnonzero(mask)
        out[label] = {name: score_exact(pi[idx], outcomes.subset(idx)) for name, pi in pis.items()}
    return out
