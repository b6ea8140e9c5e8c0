"""`tierwise corpora compare-encoders`: which embedding should the served heads sit on?

The same heads (HistGradientBoosting, the training config's parameters) are fitted on the same
rows (real gold, authored and weak rows plus a sample of simulated logs, the default weights)
with three encoders, and scored on the development set:

- the distilled static student (model2vec `distill` of MiniLM), as before;
- that student fine-tuned on the labelled rows (model2vec's own training, `finetune.py`);
- the contextual teacher itself (all-MiniLM-L6-v2 through sentence-transformers).

Latency is the per-text time of the encoder alone, one text at a time, median over a sample of
development texts: what a router would pay per request for the embedding.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from classifier.taxonomy import INTENTS, RISKS


def _encode_one(encoder: Any, text: str) -> Any:
    return encoder.encode([text])


def _latency_ms(encode_one: Callable[[str], Any], texts: Sequence[str]) -> float:
    for text in texts[:5]:
        encode_one(text)
    times = []
    for text in texts:
        start = time.perf_counter()
        encode_one(text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def compare(out: Path, sim_rows: int = 8000, latency_texts: int = 60) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    from data.corpora.labelled import load_corpus
    from data.generator import generate
    from training.config import load_config
    from training.ingest.load import load_training_set
    from training.model.distill import distill_student
    from training.model.embed import StaticStudent, Teacher
    from training.model.heads import TierwiseHeads
    from training.realtext.embedding import embed
    from training.realtext.finetune import finetune_student
    from training.realtext.report import high_balanced_accuracy
    from training.realtext.stage import tuning_rows
    from training.realtext.trainset import build_rows

    cfg = load_config()
    rt = cfg.realtext
    corpus = load_corpus()
    w = rt.weights
    rows = build_rows(corpus, gold_weight=w.gold, authored_weight=w.authored,
                      weak_weight=w.weak, use_weak=rt.weak, calib_fraction=0.0)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tierwise-encoders-") as tmp:
        work = Path(tmp)
        generate(sim_rows * 2, seed=cfg.generate.seed, out_dir=work)
        logs, _ = load_training_set([work / "logs.jsonl"], [], work / "quarantine.jsonl")
    known = np.flatnonzero((logs.intent >= 0) & (logs.risk >= 0))[:sim_rows]
    sim_texts = [logs.text[i] for i in known]
    texts = rows.texts + sim_texts
    intent = np.concatenate([rows.intent, logs.intent[known]])
    risk = np.concatenate([rows.risk, logs.risk[known]])
    weight = np.concatenate([rows.weight, np.full(len(known), w.sim)])
    dev_texts = [d.item.text for d in corpus.dev]
    y_i = np.array([INTENTS.index(d.intent) for d in corpus.dev])
    y_r = np.array([RISKS.index(d.risk) for d in corpus.dev])

    base = StaticStudent.load(distill_student())
    assert base.directory is not None  # loaded from a directory, so it has one
    tune_texts, tune_i, tune_r = tuning_rows(
        rows, sim_texts, logs.intent[known], logs.risk[known], rt
    )
    tuned_dir = finetune_student(
        base.directory,
        [base.window.cut(t)[0] for t in tune_texts],
        tune_i,
        tune_r,
        params={"max_epochs": rt.finetune.epochs},
    )
    tuned = StaticStudent.load(tuned_dir, window=base.window, pooling=base.pooling)
    teacher = Teacher(base.window)
    encoders = {
        "distilled student": base,
        "tuned student (default)": tuned,
        "teacher (MiniLM)": teacher,
    }
    sample = dev_texts[:: max(1, len(dev_texts) // latency_texts)][:latency_texts]
    results: dict[str, Any] = {}
    for name, encoder in encoders.items():
        X, X_dev = embed(texts, encoder), embed(dev_texts, encoder)
        heads = TierwiseHeads(**cfg.hgb_params()).fit(
            X, intent, risk, np.full((len(X), 3), -1), label_weight=weight
        )
        probs = heads.predict_proba(X_dev)
        pi, pr = probs["intent"].argmax(1), probs["risk"].argmax(1)
        results[name] = {
            "intent_macro_f1": float(f1_score(y_i, pi, average="macro")),
            "intent_accuracy": float((pi == y_i).mean()),
            "risk_macro_f1": float(f1_score(y_r, pr, average="macro")),
            "risk_high_balanced_accuracy": high_balanced_accuracy(y_r, pr),
            "embed_ms_per_text": _latency_ms(partial(_encode_one, encoder), sample),
            "dim": int(X.shape[1]),
        }
    out.write_text(_render(results, len(texts), len(dev_texts)), encoding="utf-8")
    return results


def _render(results: dict[str, Any], n_train: int, n_dev: int) -> str:
    lines = [
        "# Which encoder: measured on the real development set",
        "",
        "Written by `tierwise corpora compare-encoders` (training/realtext/encoders.py). The same",
        f"gradient-boosted heads, fitted on the same {n_train:,} rows with the default weights,",
        f"scored on the {n_dev:,} hand-labelled development texts; embedding latency is per text,",
        "one at a time, median, on this machine (2 slow shared cores).",
        "",
        "| encoder | intent macro-F1 | intent accuracy | risk macro-F1 "
        "| risk `high` balanced acc. | embed ms / text | features |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['intent_macro_f1']:.3f} | {r['intent_accuracy']:.3f} | "
            f"{r['risk_macro_f1']:.3f} | {r['risk_high_balanced_accuracy']:.3f} | "
            f"{r['embed_ms_per_text']:.3f} | {r['dim']} |"
        )
    lines.append("")
    return "\n".join(lines)
