"""Gradient-boosted heads: intent, risk, and monotone tier viability from censored labels.

Tier labels are censored (DESIGN section 4): a request first sent to `mini` that succeeded says
nothing about `nano`. So each tier has its own binary head P(ok | tier), fitted only on rows
where that tier's outcome is observed (tier_ok != -1). Rows whose outcome was observed because
the logging policy *chose* that tier first carry weight 1 / propensity (clipped), which undoes
the policy's preference for sending easy requests to small tiers; outcomes known by monotone
implication or after an escalation keep weight 1, since no single logged probability describes
how they came to be observed. Weights are normalised to mean 1 per head.
The three probabilities are made monotone (nano <= mini <= full) by a cumulative maximum, which
the ONNX graph reproduces with two `Max` nodes.

`tier_head="ordinal"` replaces the three tier heads by one ordinal model over stacked
(request, tier) rows, monotone by construction (training.model.tier_head); `tier_ordinal_` holds it.

`text_features` names the heads that read the last `text_features.N_FEATURES` columns of X (the
token counts of training.model.text_features, appended by the student); the other heads see the
pooled embedding alone. Empty: X is the embedding and every head reads all of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from classifier.taxonomy import INTENTS, RISKS, TIERS
from training.model import text_features as tf
from training.model import tier_head as ordinal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadFit:
    """One fitted head: a boosted model over the classes seen, or a constant when it cannot fit.

    `classes` are column indices into the head's full label list; `constant` (full width) is
    used when fewer than two classes were observed.
    """

    n_outputs: int
    model: HistGradientBoostingClassifier | None
    classes: np.ndarray
    constant: np.ndarray | None = None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.model is None:
            assert self.constant is not None  # a head without a model is a constant
            return np.tile(self.constant, (len(X), 1)).astype(np.float64)
        out = np.zeros((len(X), self.n_outputs))
        out[:, self.classes] = self.model.predict_proba(X)
        return out


def ipw_weights(
    observed: np.ndarray,
    tier: int,
    propensity: np.ndarray | None,
    first_tier: np.ndarray | None,
    clip: float,
) -> np.ndarray:
    """Per-row weights for tier `tier`'s head over the observed rows (see module docstring)."""
    weights = np.ones(int(observed.sum()))
    if propensity is None or first_tier is None:
        return weights
    p = np.asarray(propensity, dtype=np.float64)[observed]
    chosen = (np.asarray(first_tier)[observed] == tier) & np.isfinite(p) & (p > 0)
    weights[chosen] = 1.0 / np.clip(p[chosen], clip, 1.0)
    return weights / weights.mean()


def balanced_weights(y: np.ndarray, weights: np.ndarray | None, power: float) -> np.ndarray | None:
    """Row weights times (mean class weight / class weight) ** power.

    Real traffic is mostly `chat` and `low`; fitted on it as it comes, a head learns that prior
    and answers `chat` for most of the rarer intents. power 0 keeps the weights, 1 gives every
    class the same total weight, 0.5 (square root) lands in between. Temperature calibration on
    held-back real rows afterwards keeps the confidence honest; the argmax keeps the balance.
    """
    if power == 0 or len(y) == 0:
        return weights
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    totals = np.bincount(y, weights=w)
    present = totals > 0
    factor = np.ones(len(totals))
    factor[present] = (totals[present].mean() / totals[present]) ** power
    return w * factor[y]


class TierwiseHeads(BaseEstimator):
    """Intent, risk and tier-viability (monotone) heads over fixed embeddings; widths are the
    taxonomy's label counts (default 7, 3, 3; `n_intents`, `n_risks`, `n_tiers`).

    Example:
        heads = TierwiseHeads(max_iter=100).fit(X, ts.intent, ts.risk, ts.tier_ok,
                                                  ts.propensity, first_tier=ts.first_tier)
        heads.predict_proba(X)["tier_ok"]  # [N, 3], non-decreasing along axis 1
    """

    def __init__(
        self,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        propensity_clip: float = 0.05,
        random_state: int = 0,
        n_threads: int | None = 1,
        class_balance: float = 0.0,
        tier_head: str = "per_tier",
        text_features: tuple[str, ...] | list[str] = (),
        n_intents: int = len(INTENTS),
        n_risks: int = len(RISKS),
        n_tiers: int = len(TIERS),
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.propensity_clip = propensity_clip
        self.random_state = random_state
        self.n_threads = n_threads
        self.class_balance = class_balance
        self.tier_head = tier_head
        self.text_features = text_features
        # head widths: the taxonomy's label counts (classifier.taxonomy), the default's unless set
        self.n_intents = n_intents
        self.n_risks = n_risks
        self.n_tiers = n_tiers

    def _new_model(self, **constraints: object) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
            **constraints,  # type: ignore[arg-type]
        )

    def _fit_head(
        self,
        name: str,
        X: np.ndarray,
        y: np.ndarray,
        n_outputs: int,
        weights: np.ndarray | None,
        **constraints: object,
    ) -> HeadFit:
        classes = np.unique(y)
        if len(classes) < 2:
            constant = np.full(n_outputs, 1.0 / n_outputs)
            if len(classes) == 1:
                constant = np.zeros(n_outputs)
                constant[int(classes[0])] = 1.0
            logger.warning(
                "head %s saw %d class(es) in %d rows; it predicts a constant. Add labelled "
                "logs covering more classes and retrain.",
                name,
                len(classes),
                len(y),
            )
            return HeadFit(n_outputs, None, classes.astype(np.int64), constant)
        model = self._new_model(**constraints).fit(X, y, sample_weight=weights)
        return HeadFit(n_outputs, model, model.classes_.astype(np.int64))

    def fit(
        self,
        X: np.ndarray,
        intent: np.ndarray,
        risk: np.ndarray,
        tier_ok: np.ndarray,
        propensity: np.ndarray | None = None,
        *,
        first_tier: np.ndarray | None = None,
        label_weight: np.ndarray | None = None,
        on_head: Callable[[str], None] | None = None,
    ) -> TierwiseHeads:
        """Fit every head; -1 (unknown) labels are skipped per head, never guessed.

        `label_weight` weighs rows in the intent and risk heads (real text against simulated
        logs); the tier heads keep their inverse-propensity weights. `on_head(name)` is called
        after each head is fitted, in the order of `head_names()` (a progress bar's tick).

        OpenMP threads are capped at `n_threads` (None: sklearn's default): on shared, busy
        cores two spinning OpenMP threads made a fit here 10-30x slower than one.
        """
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self._fit(
                X, intent, risk, tier_ok, propensity, first_tier, label_weight, on_head
            )

    @property
    def n_text_features(self) -> int:
        """Trailing columns of X that are text features (0 when no head reads them)."""
        return tf.N_FEATURES if tf.check_heads(self.text_features) else 0

    def columns(self, X: np.ndarray, head: str) -> np.ndarray:
        """The columns `head` reads: all of X, or X without the text features."""
        if head in self.text_features or not self.n_text_features:
            return X
        return X[:, : X.shape[1] - self.n_text_features]

    def head_names(self) -> list[str]:
        """The heads `fit` fits, in order: intent, risk, then the ordinal or per-tier heads."""
        if self.tier_head == "ordinal":
            return ["intent", "risk", "tier_ok[ordinal]"]
        tiers = TIERS if self.n_tiers == len(TIERS) else [str(t) for t in range(self.n_tiers)]
        return ["intent", "risk", *(f"tier_ok[{tier}]" for tier in tiers)]

    def _fit(
        self,
        X: np.ndarray,
        intent: np.ndarray,
        risk: np.ndarray,
        tier_ok: np.ndarray,
        propensity: np.ndarray | None,
        first_tier: np.ndarray | None,
        label_weight: np.ndarray | None,
        on_head: Callable[[str], None] | None,
    ) -> TierwiseHeads:
        def fit_head(name: str, *args: Any, **constraints: Any) -> HeadFit:
            fit = self._fit_head(name, *args, **constraints)
            if on_head is not None:
                on_head(name)
            return fit

        X = np.asarray(X, dtype=np.float32)
        intent = np.asarray(intent)
        risk = np.asarray(risk)
        tier_ok = np.asarray(tier_ok)
        if tier_ok.shape != (len(X), self.n_tiers):
            raise ValueError(
                f"tier_ok must have shape ({len(X)}, {self.n_tiers}), got {tier_ok.shape}"
            )
        if X.shape[1] <= self.n_text_features:
            raise ValueError(
                f"X has {X.shape[1]} columns, but heads {list(self.text_features)} read "
                f"{self.n_text_features} text-feature columns after the embedding; embed with "
                "StaticStudent.with_text_features(True)"
            )
        self.n_features_in_ = X.shape[1]
        X_intent, X_risk, X_tier = (self.columns(X, h) for h in tf.HEADS)
        w = None if label_weight is None else np.asarray(label_weight, dtype=np.float64)
        known = intent >= 0
        self.intent_ = fit_head(
            "intent", X_intent[known], intent[known], self.n_intents,
            balanced_weights(intent[known], None if w is None else w[known], self.class_balance),
        )  # fmt: skip
        known = risk >= 0
        self.risk_ = fit_head(
            "risk", X_risk[known], risk[known], self.n_risks,
            balanced_weights(risk[known], None if w is None else w[known], self.class_balance),
        )  # fmt: skip
        self.tiers_ = []
        self.tier_rows_ = []
        self.tier_ordinal_: HeadFit | None = None
        if self.tier_head == "ordinal":
            rows, tiers, labels, weights = ordinal.stacked_rows(
                tier_ok, propensity, first_tier, self.propensity_clip
            )
            self.tier_ordinal_ = fit_head(
                "tier_ok[ordinal]", ordinal.with_tier(X_tier[rows], tiers), labels, 2, weights,
                **ordinal.constraints(X_tier.shape[1], additive=True),
            )  # fmt: skip
            self.tier_rows_ = np.bincount(tiers, minlength=self.n_tiers).tolist()
            return self
        if self.tier_head != "per_tier":
            raise ValueError(f"tier_head must be 'per_tier' or 'ordinal', got {self.tier_head!r}")
        for t in range(self.n_tiers):
            tier = TIERS[t] if self.n_tiers == len(TIERS) else str(t)
            observed = tier_ok[:, t] >= 0
            weights = ipw_weights(observed, t, propensity, first_tier, self.propensity_clip)
            fit = fit_head(f"tier_ok[{tier}]", X_tier[observed], tier_ok[observed, t], 2, weights)
            self.tiers_.append(fit)
            self.tier_rows_.append(int(observed.sum()))
        return self

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """{"intent": [N,7], "risk": [N,3], "tier_ok": [N,3] monotone}, float64."""
        X = np.asarray(X, dtype=np.float32)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self._predict_proba(X)

    def _tier_raw(self, X: np.ndarray) -> np.ndarray:
        X = self.columns(X, "tier")
        if self.tier_ordinal_ is not None:
            p_ok = self.tier_ordinal_.predict_proba(ordinal.every_tier(X, self.n_tiers))[:, 1]
            return ordinal.unstack(p_ok, len(X), self.n_tiers)
        return np.column_stack([fit.predict_proba(X)[:, 1] for fit in self.tiers_])

    def _predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        raw = self._tier_raw(X)
        return {
            "intent": self.intent_.predict_proba(self.columns(X, "intent")),
            "risk": self.risk_.predict_proba(self.columns(X, "risk")),
            "tier_ok": np.maximum.accumulate(raw, axis=1),
        }

    def raw_tier_proba(self, X: np.ndarray) -> np.ndarray:
        """Per-tier P(ok) before the monotone step, for diagnostics and calibration."""
        X = np.asarray(X, dtype=np.float32)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self._tier_raw(X)

    @property
    def n_trees_(self) -> int:
        """Trees the exported graph evaluates per row; the main driver of head latency."""
        total = 0
        for fit in (self.intent_, self.risk_, *self.tiers_):
            if fit.model is not None:
                total += sum(len(stage) for stage in fit.model._predictors)
        ordinal_fit = getattr(self, "tier_ordinal_", None)
        if ordinal_fit is not None and ordinal_fit.model is not None:  # run once per tier
            total += self.n_tiers * sum(len(stage) for stage in ordinal_fit.model._predictors)
        return total
