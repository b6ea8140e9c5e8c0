"""The student's price in accuracy: the same heads fitted on MiniLM (teacher) embeddings.

The teacher costs ~10-90 ms a text here, so it is compared on a seeded sample: `train_sample`
training rows and `eval_sample` rows per held-out set. To keep the comparison about the
embedding alone, the student's heads are refitted on exactly the same sample ("student (sample)");
the production student (fitted on all training rows) is scored on the same rows as a reference.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training.config import TrainConfig
from training.evaluation.metrics import Evaluation, evaluate_probs
from training.ingest.labels import TrainingSet
from training.model.heads import TierwiseHeads

logger = logging.getLogger(__name__)

Encode = Callable[[Any, Sequence[str]], np.ndarray]


@dataclass
class Comparison:
    """Evaluations keyed `<split>/cmp_<variant>`, latencies in ms per text, and sample sizes."""

    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    groups: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def per_text_latency_ms(encode: Callable[[Sequence[str]], Any], texts: Sequence[str]) -> float:
    """Median wall time of encoding one text at a time (what a request would pay), after warm-up."""
    if not texts:
        return float("nan")
    encode([texts[0]])
    times = []
    for text in texts:
        start = time.perf_counter()
        encode([text])
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


def _sample(index: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    if len(index) <= k:
        return index
    return np.sort(rng.choice(index, k, replace=False))


def _fit(cfg: TrainConfig, X: np.ndarray, data: TrainingSet) -> TierwiseHeads:
    from training.model.binning import snap_for_fit

    return TierwiseHeads(**cfg.hgb_params()).fit(
        snap_for_fit(X),
        data.intent,
        data.risk,
        data.tier_ok,
        data.propensity,
        first_tier=data.first_tier,
    )


def compare_teacher(
    *,
    cfg: TrainConfig,
    data: TrainingSet,
    X_student: np.ndarray,
    heads_student: TierwiseHeads,
    train_index: np.ndarray,
    eval_sets: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]],
    student: Any,
    teacher: Any,
    encode: Encode,
) -> Comparison:
    """Fit heads on teacher and student embeddings of one training sample; score both per split.

    `eval_sets` maps a split name to (row index, labels {"intent", "risk", "tier_ok"}).
    `encode(embedder, texts)` goes through the embedding cache.
    """
    rng = np.random.default_rng(cfg.data.seed)
    tcfg = cfg.teacher
    train_rows = _sample(train_index, tcfg.train_sample, rng)
    samples = {
        name: _sample(np.arange(len(idx)), tcfg.eval_sample, rng)
        for name, (idx, _) in eval_sets.items()
    }
    wanted = np.concatenate([train_rows] + [eval_sets[n][0][s] for n, s in samples.items()])
    unique, inverse = np.unique(wanted, return_inverse=True)
    logger.info(
        "teacher: embedding %d texts (%d train + held-out samples)", len(unique), len(train_rows)
    )
    T_unique = encode(teacher, [data.text[i] for i in unique])
    position = dict(zip(unique.tolist(), range(len(unique)), strict=True))
    del inverse

    n_text = heads_student.n_text_features  # the same token counts beside the teacher's vectors

    def teacher_rows(rows: np.ndarray) -> np.ndarray:
        vectors = T_unique[[position[int(i)] for i in rows]]
        if not n_text:
            return vectors
        return np.hstack([vectors, X_student[rows, -n_text:]]).astype(np.float32)

    train_data = data.subset(train_rows)
    heads_teacher = _fit(cfg, teacher_rows(train_rows), train_data)
    heads_sample = _fit(cfg, X_student[train_rows], train_data)

    out = Comparison(sizes={"train_sample": len(train_rows)})
    kw: dict[str, Any] = {
        "tier_threshold": cfg.evaluate.tier_threshold,
        "n_bins": cfg.calibration.n_bins,
        "taxonomy": cfg.label_taxonomy(),
    }
    for name, (idx, labels) in eval_sets.items():
        pick = samples[name]
        rows = idx[pick]
        if len(rows) == 0:
            continue
        out.sizes[f"{name}_sample"] = len(rows)
        lab = {k: v[pick] for k, v in labels.items()}
        variants = {
            ("student (all rows)", "cmp_student"): heads_student.predict_proba(X_student[rows]),
            ("student (sample)", "cmp_student_sample"): heads_sample.predict_proba(X_student[rows]),
            ("teacher (sample)", "cmp_teacher_sample"): heads_teacher.predict_proba(
                teacher_rows(rows)
            ),
        }
        group = []
        for (label, variant), probs in variants.items():
            key = f"{name}/{variant}"
            out.evaluations[key] = evaluate_probs(
                key, probs, lab["intent"], lab["risk"], lab["tier_ok"], **kw
            )
            group.append((label, key))
        out.groups.append((f"{name} (n={len(rows)})", group))

    latency_texts = [data.text[i] for i in _sample(train_index, tcfg.latency_sample, rng)]
    out.latency_ms["student embedding"] = per_text_latency_ms(student.encode, latency_texts)
    out.latency_ms["teacher embedding"] = per_text_latency_ms(teacher.encode, latency_texts)
    return out
