"""The real-text stage of `tierwise train`: rows, a student fitted to them, their embeddings.

Kept out of `pipeline.py` so that the pipeline reads as a list of stages. Everything returned is
already split: rows to train on, gold rows kept back for calibration, and the development set
(evaluation only; its near-duplicates were removed from the training rows here).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifier.taxonomy import INTENTS, RISKS
from data.corpora.labelled import load_corpus
from data.corpora.sources import PACKAGES
from training.config import RealTextConfig
from training.realtext.trainset import RealRows, build_rows, drop_near_duplicates

logger = logging.getLogger(__name__)


@dataclass
class RealText:
    train: RealRows
    calib: RealRows
    X_train: np.ndarray
    X_calib: np.ndarray
    dev_texts: list[str]
    dev_intent: np.ndarray
    dev_risk: np.ndarray
    X_dev: np.ndarray
    student: Any  # the (tuned) StaticStudent every row and log is embedded with
    summary: dict[str, Any] = field(default_factory=dict)


def prepare(
    cfg: RealTextConfig,
    base_student: Any,
    sim_texts: Sequence[str],
    sim_intent: np.ndarray,
    sim_risk: np.ndarray,
    encode: Callable[[Any, Sequence[str]], np.ndarray],
    progress: bool = True,
) -> RealText:
    """Load rows, fine-tune the student (optional), embed, drop near-duplicates of dev texts."""
    from training.model.embed import StaticStudent

    corpus = load_corpus()
    rows = build_rows(
        corpus,
        gold_weight=cfg.weights.gold,
        authored_weight=cfg.weights.authored,
        weak_weight=cfg.weights.weak,
        use_weak=cfg.weak,
        calib_fraction=cfg.calib_fraction,
        seed=cfg.seed,
    )
    student = base_student
    tuning: dict[str, Any] = {}
    if cfg.finetune.enabled and base_student.directory is not None:
        from training.realtext.finetune import finetune_student

        texts, intents, risks = tuning_rows(rows, sim_texts, sim_intent, sim_risk, cfg)
        window = base_student.window
        tuned = finetune_student(
            Path(base_student.directory),
            [window.cut(t)[0] for t in texts],
            intents,
            risks,
            params={"max_epochs": cfg.finetune.epochs},
            progress=progress,
        )
        student = StaticStudent.load(
            tuned,
            window=window,
            pooling=base_student.pooling,
            text_features=getattr(base_student, "text_features", None) is not None,
        )
        tuning = {"rows": len(texts), "student": student.meta.get("key")}
    X_rows = encode(student, rows.texts)
    dev_texts = [d.item.text for d in corpus.dev]
    X_dev = encode(student, dev_texts) if dev_texts else np.zeros((0, X_rows.shape[1]), np.float32)
    pooled = getattr(student, "pooled_dim", X_rows.shape[1])  # cosine of the embedding alone
    keep = drop_near_duplicates(X_rows[:, :pooled], X_dev[:, :pooled], cfg.near_duplicate)
    train_mask, calib_mask = keep & ~rows.calib, keep & rows.calib
    summary = {
        "packages": {n: p.requirement for n, p in PACKAGES.items()},
        "rows": rows.counts,
        "near_duplicates_dropped": int((~keep).sum()),
        "train_rows": int(train_mask.sum()),
        "calib_rows": int(calib_mask.sum()),
        "dev_rows": len(dev_texts),
        "missing_labels": len(corpus.missing),
        "finetune": tuning,
    }
    return RealText(
        train=rows.subset(train_mask),
        calib=rows.subset(calib_mask),
        X_train=X_rows[train_mask],
        X_calib=X_rows[calib_mask],
        dev_texts=dev_texts,
        dev_intent=np.array([INTENTS.index(d.intent) for d in corpus.dev], dtype=np.int64),
        dev_risk=np.array([RISKS.index(d.risk) for d in corpus.dev], dtype=np.int64),
        X_dev=X_dev,
        student=student,
        summary=summary,
    )


def tuning_rows(
    rows: RealRows, sim_texts: Sequence[str], sim_intent: np.ndarray, sim_risk: np.ndarray,
    cfg: RealTextConfig,
) -> tuple[list[str], list[str], list[str]]:  # fmt: skip
    """Training rows with both labels (never the calibration slice) plus a seeded sample of
    simulated training rows, so the tuned vectors still serve the simulator's phrasings."""
    texts, intents, risks = [], [], []
    for i in range(len(rows)):
        if not rows.calib[i] and rows.intent[i] >= 0 and rows.risk[i] >= 0:
            texts.append(rows.texts[i])
            intents.append(INTENTS[rows.intent[i]])
            risks.append(RISKS[rows.risk[i]])
    known = np.flatnonzero((np.asarray(sim_intent) >= 0) & (np.asarray(sim_risk) >= 0))
    rng = np.random.default_rng(cfg.seed)
    n = min(cfg.finetune.sim_rows, len(known))
    take = rng.choice(known, n, replace=False) if n else np.empty(0, dtype=np.int64)
    for i in sorted(int(j) for j in take):
        texts.append(sim_texts[i])
        intents.append(INTENTS[sim_intent[i]])
        risks.append(RISKS[sim_risk[i]])
    return texts, intents, risks
