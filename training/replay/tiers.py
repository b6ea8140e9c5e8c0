"""The tier decision under replay: tuned cost/failure curves, the keyword router, the perfect
reader, AUCs, and whether the learned curve lies below every baseline.

- **Tuned curves.** A bundle with tuning (training.replay.tier_tuning) is swept over one price of a
  failure for every feature; each feature then takes its own tuned point for that price. kNN
  gets the same treatment, tuned on the same held-out slice, so both curves are out of sample.
- **Keyword router.** Counts distinct difficulty keywords (reasoning, arithmetic, constraints,
  requested size and format, specialist terms, code markers): nano below `lo`, full from `hi`.
  Like the prompt-length router, its two thresholds are picked on the scored rows themselves.
- **Perfect reader** (truth only). The simulator's noiseless difficulty of each text gives
  P(ok | tier) = Phi((cut-point - latent) / noise sd): the best any tier head that reads the
  text can do (data.generator.difficulty). Run through the same decision and tuning, its AUCs
  and curve are the ceiling the learned head is measured against.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from classifier.contracts import Contracts
from classifier.prediction import Prediction
from classifier.taxonomy import TIERS
from classifier.tuning import TierTuning
from training.replay.policies import with_failure_cost

CURVE_KEYS = (
    "cost_per_1k_usd",
    "failure_rate",
    "escalations_per_1k",
    "share_nano",
    "share_mini",
    "share_full",
)
# One price of a failure for every feature, in USD: 0 and 43 steps of about x1.4 to 100.
FAILURE_COSTS = (0.0, *(round(float(p), 7) for p in np.geomspace(1e-4, 100.0, 43)))


def with_tuning(predictions: Sequence[Prediction], tuning: TierTuning | None) -> list[Prediction]:
    return [dataclasses.replace(p, tier_tuning=tuning) for p in predictions]


def with_tier_probs(predictions: Sequence[Prediction], probs: np.ndarray) -> list[Prediction]:
    """The same predictions with other P(ok | tier) (intent, risk and provenance kept)."""
    return [
        dataclasses.replace(p, tier_ok_probs=dict(zip(TIERS, map(float, row), strict=True)))
        for p, row in zip(predictions, probs, strict=True)
    ]


def tuned_sweep(
    predictions: Sequence[Prediction], route: Callable, contracts: Contracts, score: Callable
) -> list[dict[str, float]]:
    """The learned curve: every feature's failure priced alike, each at its tuned point."""
    points = []
    for usd in FAILURE_COSTS:
        s = score(route(predictions, with_failure_cost(contracts, usd)))
        points.append({"failure_usd": usd, **{k: s[k] for k in CURVE_KEYS}})
    return points


# -- keyword router ------------------------------------------------------------------------------
# What a team writes when it routes by difficulty cues: no model, one list.
_KEYWORD_LINES = (
    "step steps prove derive analyze analyse analysis compare evaluate tradeoff tradeoffs plan",
    "planning strategy optimize optimise design architecture reasoning justify why",
    "calculate compute solve equation probability percent percentage average total",
    "must exactly only ensure without never required constraint constraints",
    "detailed comprehensive thorough essay report json table csv yaml schema",
    "legal contract compliance regulation regulatory liability gdpr medical diagnosis dosage",
    "patient tax financial audit",
    "code function class sql query regex bug error exception traceback refactor python javascript",
)
KEYWORDS = frozenset(word for line in _KEYWORD_LINES for word in line.split())
PHRASES = (
    "step by step",
    "pros and cons",
    "trade-off",
    "how many",
    "how much",
    "at least",
    "at most",
    "no more than",
    "do not",
    "in depth",
    "stack trace",
    "unit test",
    "```",
)
_WORD = re.compile(r"[a-z]+")


def keyword_scores(texts: Sequence[str]) -> np.ndarray:
    """Distinct keywords and phrases per text (case-insensitive; words match whole)."""
    out = np.empty(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        low = text.lower()
        words = set(_WORD.findall(low))
        out[i] = len(words & KEYWORDS) + sum(phrase in low for phrase in PHRASES)
    return out


def tier_aucs(probs: np.ndarray, tier_ok: np.ndarray) -> dict[str, float]:
    """ROC AUC of P(ok | tier) against the true outcome, per tier (NaN when one class only)."""
    from sklearn.metrics import roc_auc_score

    out = {}
    for t, tier in enumerate(TIERS):
        y = np.asarray(tier_ok)[:, t] == 1
        out[tier] = float(roc_auc_score(y, probs[:, t])) if 0 < y.sum() < len(y) else math.nan
    return out


def tier_accuracy(probs: np.ndarray, tier_ok: np.ndarray, threshold: float = 0.5) -> float:
    """Share of requests whose smallest tier with P(ok) >= threshold is the smallest viable."""
    ok = np.asarray(tier_ok) == 1
    truth = np.where(ok.any(axis=1), ok.argmax(axis=1), len(TIERS) - 1)
    meets = probs >= threshold
    pred = np.where(meets.any(axis=1), meets.argmax(axis=1), len(TIERS) - 1)
    return float((pred == truth).mean()) if len(pred) else math.nan


# -- is the learned curve below the baselines? ---------------------------------------------------


def curve_cost_at(curve: Sequence[dict[str, float]], failure: float) -> float | None:
    """Cost of the curve at a failure rate: its cheapest point failing no more, interpolated.

    Points may be mixed at random, so the curve between two points is their segment; None
    outside the failure rates the curve spans.
    """
    pts = sorted((p["failure_rate"], p["cost_per_1k_usd"]) for p in curve)
    if not pts or not pts[0][0] - 1e-12 <= failure <= pts[-1][0] + 1e-12:
        return None
    fail = np.array([f for f, _ in pts])
    cost = np.minimum.accumulate(np.array([c for _, c in pts]))
    return float(np.interp(failure, fail, cost))


def below_baselines(
    curve: Sequence[dict[str, float]], baselines: dict[str, Sequence[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Per baseline: at each of its points inside the curve's span, the curve's cost minus its.

    Returns one row per baseline: points compared, the worst (largest) gap in USD per 1k and
    where; `below` is True when no compared point has the curve above it.
    """
    rows = []
    for name, points in baselines.items():
        gaps = []
        for p in points:
            at = curve_cost_at(curve, p["failure_rate"])
            if at is not None:
                gaps.append((at - p["cost_per_1k_usd"], p))
        worst = max(gaps, key=lambda g: g[0]) if gaps else None
        rows.append(
            {
                "baseline": name,
                "points": len(points),
                "compared": len(gaps),
                "worst_gap_per_1k": worst[0] if worst else None,
                "worst_at_failure": worst[1]["failure_rate"] if worst else None,
                "below": bool(gaps) and worst is not None and worst[0] <= 1e-9,
            }
        )
    return rows


def savings_at(curve: Sequence[dict[str, float]], failure: float, full_cost: float) -> float | None:
    """1 - cost / always-full's cost for the curve at a failure rate (None outside its span)."""
    at = curve_cost_at(curve, failure)
    return None if at is None else 1.0 - at / full_cost


# -- the figures the report prints ---------------------------------------------------------------


def _probs(predictions: Sequence[Prediction]) -> np.ndarray:
    return np.array([[p.tier_ok_probs[t] for t in TIERS] for p in predictions])


def tier_figures(
    scores: dict[str, dict[str, Any]],
    curves: dict[str, list[dict[str, float]]],
    heads: dict[str, Sequence[Prediction] | None],
    tier_ok: np.ndarray | None,
) -> dict[str, Any]:
    """AUCs and tier accuracy (truth only), savings against always-full, below-baseline checks."""
    full, rules = scores["always_full"], scores["rules"]
    out: dict[str, Any] = {}
    if tier_ok is not None:
        found = {name: _probs(p) for name, p in heads.items() if p}
        out["auc"] = {name: tier_aucs(pr, tier_ok) for name, pr in found.items()}
        out["tier_accuracy"] = {name: tier_accuracy(pr, tier_ok) for name, pr in found.items()}
    out["savings"] = {
        name: {
            "at_full_failure": _best_at(curve, full["failure_rate"], full["cost_per_1k_usd"]),
            "at_full_plus_0.5pt": savings_at(
                curve, full["failure_rate"] + 0.005, full["cost_per_1k_usd"]
            ),
            "at_full_plus_1pt": savings_at(
                curve, full["failure_rate"] + 0.01, full["cost_per_1k_usd"]
            ),
            "at_rules_failure": savings_at(curve, rules["failure_rate"], full["cost_per_1k_usd"]),
        }
        for name, curve in curves.items()
    }
    strongest = scores.get("strongest_allowed")
    if strongest is not None:
        out["strongest_allowed"] = {k: strongest[k] for k in ("cost_per_1k_usd", "failure_rate")}
        for name, curve in curves.items():
            out["savings"][name]["vs_strongest_allowed"] = _best_at(
                curve, strongest["failure_rate"], strongest["cost_per_1k_usd"]
            )
    if "learned" in curves:
        baselines: dict[str, Sequence[dict[str, Any]]] = {
            name: [scores[name]]
            for name in ("always_nano", "always_mini", "always_full", "strongest_allowed", "rules")
            if name in scores
        }
        baselines |= {
            name: curves[name] for name in ("knn", "prompt_length", "keyword") if name in curves
        }
        out["below"] = below_baselines(curves["learned"], baselines)
    return out


def _best_at(curve: Sequence[dict[str, float]], failure: float, full_cost: float) -> float | None:
    ok = [p["cost_per_1k_usd"] for p in curve if p["failure_rate"] <= failure + 1e-12]
    return 1.0 - min(ok) / full_cost if ok else None


# -- held-out tuning inside the replay ----------------------------------------------------------


def tuning_slice(
    rd: Any,
    index: np.ndarray,
    table: Any,
    *,
    replays: int,
    seed: int,
    max_rows: int | None,
    logged: Callable[[np.ndarray], Any],
) -> dict[str, Any] | None:
    """The calibration slice (never trained on, not scored): where thresholds are tuned.

    Exact outcomes with truth, else `logged(index)` traces; None when it is too small.
    """
    from training.replay.costs import simulate_outcomes
    from training.replay.tier_tuning import MIN_TUNING_ROWS

    if rd.truth is not None:
        index = index[rd.truth.intent[index] >= 0]
    if max_rows is not None and len(index) > max_rows:
        pick = np.random.default_rng(seed).choice(len(index), max_rows, replace=False)
        index = index[np.sort(pick)]
    if len(index) < MIN_TUNING_ROWS:
        return None
    held: dict[str, Any] = {
        "index": index,
        "texts": [rd.data.text[i] for i in index],
        "features": [rd.data.feature[i] for i in index],
    }
    if rd.truth is not None:
        held["outcomes"] = simulate_outcomes(rd.requests(index), table, replays=replays, seed=seed)
    else:
        held["logged"] = logged(index)
    return held


def tune_on(
    held: dict[str, Any],
    predictions: Sequence[Prediction],
    contracts: Contracts,
    table: Any,
    rules: Any,
) -> TierTuning:
    from training.replay.tier_tuning import tune

    return tune(
        predictions,
        held["texts"],
        held["features"],
        contracts,
        table,
        rules,
        outcomes=held.get("outcomes"),
        logged=held.get("logged"),
    )


def perfect_reader(
    rd: Any,
    index: np.ndarray,
    learned: Sequence[Prediction],
    held: dict[str, Any] | None,
    classify: Callable[[list[str]], list[Prediction]],
    contracts: Contracts,
    table: Any,
    rules: Any,
) -> list[Prediction]:
    """The bundle with the best possible tier head (truth only), tuned on the same slice."""
    from classifier.taxonomy import INTENTS, RISKS
    from data.generator.counterfactual import true_ok_probs

    truth = rd.truth

    def probs(rows: np.ndarray) -> np.ndarray:
        return true_ok_probs(
            [rd.data.text[i] for i in rows],
            [INTENTS[truth.intent[i]] for i in rows],
            [RISKS[truth.risk[i]] for i in rows],
        )

    tuning = None
    if held is not None:
        held_preds = with_tier_probs(classify(held["texts"]), probs(held["index"]))
        tuning = tune_on(held, held_preds, contracts, table, rules)
    return with_tuning(with_tier_probs(learned, probs(index)), tuning)


def tuning_info(tuning: TierTuning | None) -> dict[str, Any] | None:
    if tuning is None:
        return None
    return {"mode": tuning.mode, "rows": tuning.rows, "features": sorted(tuning.curves)}
