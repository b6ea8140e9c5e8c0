"""Fitting the heads of one training run: simulated log rows plus real-text rows, calibrated.

Real rows (training.realtext) carry intent and risk but no tier outcome, so they join the intent
and risk heads only, weighted against the simulated rows; calibration of intent and risk uses
held-back real gold rows when there are any, since real text is where their confidence must hold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.config import TrainConfig
from training.ingest.labels import TrainingSet
from training.model.binning import snap_for_fit
from training.model.calibration import calibrate_heads
from training.model.heads import TierwiseHeads


def with_real(X: np.ndarray, data: TrainingSet, real: Any, cfg: TrainConfig) -> dict[str, Any]:
    """Simulated training rows followed by real ones; real rows have no tier outcome."""
    if real is None:
        return {"X": X, "intent": data.intent, "risk": data.risk, "tier_ok": data.tier_ok,
                "propensity": data.propensity, "first_tier": data.first_tier,
                "label_weight": None}  # fmt: skip
    n = len(real.train)
    return {
        "X": np.vstack([X, real.X_train]).astype(np.float32, copy=False),
        "intent": np.concatenate([data.intent, real.train.intent]),
        "risk": np.concatenate([data.risk, real.train.risk]),
        "tier_ok": np.vstack(
            [data.tier_ok, np.full((n, data.tier_ok.shape[1]), -1, data.tier_ok.dtype)]
        ),
        "propensity": np.concatenate([data.propensity, np.full(n, np.nan)]),
        "first_tier": np.concatenate([data.first_tier, np.full(n, -1, data.first_tier.dtype)]),
        "label_weight": np.concatenate(
            [np.full(len(data), cfg.realtext.weights.sim), real.train.weight]
        ),
    }


def fit_heads(
    cfg: TrainConfig, X: np.ndarray, data: TrainingSet, progress: bool, real: Any = None
) -> Any:
    """Fit TierwiseHeads, with a bar that ticks once per fitted head."""
    rows = with_real(X, data, real, cfg)
    X = snap_for_fit(rows.pop("X"))  # fast weighted binning; same predictions on raw X
    heads = TierwiseHeads(**cfg.hgb_params())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(heads.head_names()), desc="fit heads", unit="head")
    try:
        return heads.fit(
            X, rows["intent"], rows["risk"], rows["tier_ok"], rows["propensity"],
            first_tier=rows["first_tier"], label_weight=rows["label_weight"],
            on_head=None if bar is None else (lambda name: bar.update(1)),
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()


def calibrate(
    cfg: TrainConfig, heads: Any, X: np.ndarray, calib: TrainingSet, real: Any
) -> list[Any]:
    """Tier heads on the simulated calibration slice; intent and risk on held-back real gold
    rows when there are any, since real text is where their confidence must hold."""
    intent, risk, tier_ok = calib.intent, calib.risk, calib.tier_ok
    if real is not None and len(real.calib):
        n = len(real.calib)
        X = np.vstack([X, real.X_calib])
        intent = np.concatenate([np.full(len(calib), -1, intent.dtype), real.calib.intent])
        risk = np.concatenate([np.full(len(calib), -1, risk.dtype), real.calib.risk])
        tier_ok = np.vstack([tier_ok, np.full((n, tier_ok.shape[1]), -1, tier_ok.dtype)])
    if len(X) == 0:
        return []
    return calibrate_heads(
        heads, X, intent, risk, tier_ok,
        threshold=cfg.calibration.ece_threshold, n_bins=cfg.calibration.n_bins,
    )  # fmt: skip
