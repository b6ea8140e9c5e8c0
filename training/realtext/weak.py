"""Weak labels for unlabelled real text: a label model over cues, zero-shot and embeddings.

Sources of evidence, per text:
- the cues of `cues.py` (structure and words), as 0/1 features;
- the zero-shot prototype similarities (`zero_shot.py`);
- the teacher's embedding.
A multinomial logistic regression per target (the label model) is fitted on the hand-labelled
gold rows, and its cross-validated predictions there choose a confidence threshold per target:
the lowest at which the kept gold rows reach `min_precision`. Below it the label model abstains,
so a weak label is either well supported or absent. For risk, a source's own typology (AdvBench,
HarmBench and its tense rewrites, Do-Not-Answer's harm areas, PyRIT harm categories) decides
`high` outright: those are the datasets' published labels, not our guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier.taxonomy import INTENTS, RISKS
from training.realtext.cues import INTENT_CUES, RISK_CUES, votes

TYPOLOGY_CUES = ("harmful_source", "dna_harmful", "harm_category")
_ALL_CUES = [c.name for c in (*INTENT_CUES, *RISK_CUES) if c.name not in TYPOLOGY_CUES]


@dataclass(frozen=True)
class WeakLabel:
    intent: str | None
    risk: str | None
    intent_confidence: float
    risk_confidence: float
    risk_from: str  # "typology" | "label_model" | "abstain"


def cue_features(texts: Sequence[str], metas: Sequence[Mapping[str, Any]]) -> np.ndarray:
    out = np.zeros((len(texts), len(_ALL_CUES)), dtype=np.float32)
    index = {name: i for i, name in enumerate(_ALL_CUES)}
    for row, (text, meta) in enumerate(zip(texts, metas, strict=True)):
        fired = votes(text, {k: v for k, v in meta.items() if not k.startswith("_")})
        for name in (*fired["intent"], *fired["risk"]):
            if name in index:
                out[row, index[name]] = 1.0
    return out


def typology_high(meta: Mapping[str, Any], text: str) -> bool:
    fired = votes(text, meta)["risk"]
    return any(name in fired for name in TYPOLOGY_CUES)


def threshold_for_precision(conf: np.ndarray, correct: np.ndarray, min_precision: float) -> float:
    """Lowest confidence at which the rows kept (conf >= t) are right at least `min_precision`."""
    order = np.argsort(-conf)
    hits = np.cumsum(correct[order])
    precision = hits / np.arange(1, len(order) + 1)
    ok = np.where(precision >= min_precision)[0]
    if len(ok) == 0:
        return 1.01  # abstain on everything rather than emit labels below the bar
    return float(conf[order][ok.max()])


class WeakLabeller:
    """Fit on gold rows, then label or abstain on unlabelled rows (see module docstring)."""

    def __init__(self, min_precision: float = 0.9, C: float = 1.0, folds: int = 5) -> None:
        self.min_precision = min_precision
        self.C = C
        self.folds = folds

    def _features(self, X: np.ndarray, cues: np.ndarray, sims: np.ndarray) -> np.ndarray:
        return np.hstack([X, cues * 0.5, sims]).astype(np.float64)

    def fit(
        self,
        X: np.ndarray,
        cues: np.ndarray,
        sims: np.ndarray,
        intent: Sequence[str],
        risk: Sequence[str],
    ) -> WeakLabeller:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_predict

        F = self._features(X, cues, sims)
        self.models_: dict[str, Any] = {}
        self.thresholds_: dict[str, float] = {}
        self.cv_: dict[str, dict[str, float]] = {}
        for target, labels, names in (("intent", intent, INTENTS), ("risk", risk, RISKS)):
            y = np.array([names.index(v) for v in labels])
            model = LogisticRegression(C=self.C, max_iter=2000)
            proba = cross_val_predict(model, F, y, cv=self.folds, method="predict_proba")
            classes = np.unique(y)
            pred = classes[proba.argmax(axis=1)]
            conf = proba.max(axis=1)
            t = threshold_for_precision(conf, pred == y, self.min_precision)
            self.thresholds_[target] = t
            self.cv_[target] = {
                "accuracy": float((pred == y).mean()),
                "threshold": t,
                "coverage": float((conf >= t).mean()),
                "precision_kept": float((pred == y)[conf >= t].mean())
                if (conf >= t).any()
                else 0.0,
            }
            self.models_[target] = model.fit(F, y)
        return self

    def label(
        self,
        X: np.ndarray,
        cues: np.ndarray,
        sims: np.ndarray,
        texts: Sequence[str],
        metas: Sequence[Mapping[str, Any]],
    ) -> list[WeakLabel]:
        F = self._features(X, cues, sims)
        out: list[WeakLabel] = []
        p_intent = self.models_["intent"].predict_proba(F)
        p_risk = self.models_["risk"].predict_proba(F)
        ci, cr = self.models_["intent"].classes_, self.models_["risk"].classes_
        for row in range(len(F)):
            i_conf = float(p_intent[row].max())
            r_conf = float(p_risk[row].max())
            intent = (
                INTENTS[ci[p_intent[row].argmax()]]
                if i_conf >= self.thresholds_["intent"]
                else None
            )
            if typology_high(metas[row], texts[row]):
                risk, r_from, r_conf = "high", "typology", 1.0
            elif r_conf >= self.thresholds_["risk"]:
                risk, r_from = RISKS[cr[p_risk[row].argmax()]], "label_model"
            else:
                risk, r_from = None, "abstain"
            out.append(WeakLabel(intent, risk, i_conf, r_conf, r_from))
        return out
