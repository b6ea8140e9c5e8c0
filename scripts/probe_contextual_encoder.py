"""Would a fine-tuned contextual encoder earn an opt-in bundle? Measure it on the real dev set.

Fine-tunes all-MiniLM-L6-v2 (the pinned teacher package, never the hub) end to end with an
intent and a risk head on the rows the default model trains on (gold except the calibration
slice, authored, a sample of weak rows, a sample of simulated rows; near-duplicates of
development texts dropped as training drops them), then scores the development set alone and
blended 50/50 with a built bundle's probabilities. Prints per-class F1 and the encoder's
latency at 40 tokens. Slow: about 35 minutes on one core of this machine.

    python scripts/probe_contextual_encoder.py --bundle models/default [--epochs 1] [--threads 1]

Numbers and the decision they led to: docs/real-text.md, "Encoder choice".
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score

MAX_TOKENS = 128
BATCH = 32


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def training_rows(weak_sample: int, sim_sample: int, seed: int) -> dict[str, Any]:
    """The default model's real-text rows (near-duplicates of dev dropped) plus simulated rows."""
    from classifier.taxonomy import INTENTS, RISKS
    from data.corpora.labelled import load_corpus
    from data.generator import generate
    from training.config import load_config
    from training.ingest.load import load_training_set
    from training.model.distill import distill_student
    from training.model.embed import StaticStudent
    from training.realtext.embedding import embed
    from training.realtext.trainset import build_rows, drop_near_duplicates

    cfg = load_config().realtext
    corpus = load_corpus()
    rows = build_rows(corpus, gold_weight=cfg.weights.gold, authored_weight=cfg.weights.authored,
                      weak_weight=cfg.weights.weak, use_weak=cfg.weak,
                      calib_fraction=cfg.calib_fraction, seed=cfg.seed)  # fmt: skip
    dev_texts = [d.item.text for d in corpus.dev]
    student = StaticStudent.load(distill_student())
    keep = drop_near_duplicates(
        embed(rows.texts, student), embed(dev_texts, student), cfg.near_duplicate
    )
    usable = keep & ~rows.calib & (rows.intent >= 0) & (rows.risk >= 0)
    origin = np.array(rows.origin)
    rng = np.random.default_rng(seed)
    weak = np.flatnonzero(usable & (origin == "weak"))
    weak = rng.choice(weak, min(len(weak), weak_sample), replace=False)
    picked = np.r_[np.flatnonzero(usable & (origin != "weak")), weak]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(sim_sample * 2, seed=seed, out_dir=work)
        logs, _ = load_training_set([work / "logs.jsonl"], [], work / "q.jsonl")
    known = np.flatnonzero((logs.intent >= 0) & (logs.risk >= 0))[:sim_sample]
    texts = [rows.texts[i] for i in picked] + [logs.text[i] for i in known]
    intent = np.r_[rows.intent[picked], logs.intent[known]].astype(np.int64)
    risk = np.r_[rows.risk[picked], logs.risk[known]].astype(np.int64)
    weight = np.r_[rows.weight[picked], np.full(len(known), 0.5)]
    counts = np.bincount(intent, weights=weight, minlength=len(INTENTS))
    weight = weight * (counts.sum() / (len(INTENTS) * np.maximum(counts, 1e-9)))[intent] ** 0.5
    return {
        "texts": texts, "intent": intent, "risk": risk, "weight": weight / weight.mean(),
        "dev_texts": dev_texts,
        "dev_intent": np.array([INTENTS.index(d.intent) for d in corpus.dev]),
        "dev_risk": np.array([RISKS.index(d.risk) for d in corpus.dev]),
        "dropped": int((~keep).sum()),
    }  # fmt: skip


def fine_tune(data: dict[str, Any], epochs: float, seed: int) -> Any:
    """MiniLM + mean pooling + two linear heads, AdamW with one-cycle, weighted cross-entropy."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from training.model.distill import teacher_path

    tokenizer = AutoTokenizer.from_pretrained(str(teacher_path()))
    encoder = AutoModel.from_pretrained(str(teacher_path()))

    class Heads(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.intent = torch.nn.Linear(384, 7)
            self.risk = torch.nn.Linear(384, 3)

        def forward(self, batch: Any) -> tuple[Any, Any]:
            hidden = self.encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            return self.intent(pooled), self.risk(pooled)

    model = Heads()
    texts, intent, risk, weight = data["texts"], data["intent"], data["risk"], data["weight"]
    steps = int(len(texts) * epochs / BATCH)
    optimiser = torch.optim.AdamW(model.parameters(), lr=4e-5, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=4e-5, total_steps=steps, pct_start=0.1
    )
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(texts)) for _ in range(int(np.ceil(epochs)))])
    ce = torch.nn.functional.cross_entropy
    model.train()
    for step in range(steps):
        idx = order[step * BATCH : (step + 1) * BATCH]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                          max_length=MAX_TOKENS, return_tensors="pt")  # fmt: skip
        intent_logits, risk_logits = model(batch)
        w = torch.tensor(weight[idx], dtype=torch.float32)
        loss = (ce(intent_logits, torch.tensor(intent[idx]), reduction="none") * w).mean() + 0.5 * (
            ce(risk_logits, torch.tensor(risk[idx]), reduction="none") * w
        ).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f}", flush=True)
    model.eval()
    return model, tokenizer


def score(model: Any, tokenizer: Any, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    import torch

    intents, risks = [], []
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            batch = tokenizer(texts[start : start + 64], padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt")  # fmt: skip
            i, r = model(batch)
            intents.append(i.numpy())
            risks.append(r.numpy())
    return _softmax(np.concatenate(intents)), _softmax(np.concatenate(risks))


def latency_ms(model: Any, tokenizer: Any) -> tuple[float, float]:
    import torch

    batch = tokenizer([" ".join(["word"] * 38)], return_tensors="pt")  # 40 tokens with CLS/SEP
    samples = []
    with torch.no_grad():
        for _ in range(60):
            start = time.perf_counter()
            model(batch)
            samples.append(time.perf_counter() - start)
    p50, p99 = np.percentile(np.array(samples[10:]) * 1e3, [50, 99])
    return float(p50), float(p99)


def report(name: str, intent_p: np.ndarray, risk_p: np.ndarray, data: dict[str, Any]) -> None:
    y, r = data["dev_intent"], data["dev_risk"]
    pred, risk_pred = intent_p.argmax(1), risk_p.argmax(1)
    per = np.round(f1_score(y, pred, average=None, labels=range(7)), 2)
    high = balanced_accuracy_score(r == 2, risk_pred == 2)
    print(f"{name:28s} intent macro-F1 {f1_score(y, pred, average='macro'):.3f} "
          f"accuracy {(pred == y).mean():.3f} per intent {per.tolist()} | "
          f"risk high balanced accuracy {high:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="bundle to compare and blend")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--weak-sample", type=int, default=5000)
    parser.add_argument("--sim-sample", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from classifier.runtime import Classifier
    from classifier.taxonomy import INTENTS, RISKS

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    data = training_rows(args.weak_sample, args.sim_sample, args.seed)
    print(f"{len(data['texts'])} training rows ({data['dropped']} near-duplicates of dev dropped)")
    model, tokenizer = fine_tune(data, args.epochs, args.seed)
    intent_c, risk_c = score(model, tokenizer, data["dev_texts"])
    bundle = Classifier.load(args.bundle)
    predictions = bundle.classify_batch(data["dev_texts"])
    intent_b = np.array([[p.intent_probs[k] for k in INTENTS] for p in predictions])
    risk_b = np.array([[p.risk_probs[k] for k in RISKS] for p in predictions])
    report(f"bundle {bundle.model_version}", intent_b, risk_b, data)
    report("fine-tuned MiniLM", intent_c, risk_c, data)
    report("blend 50/50", (intent_b + intent_c) / 2, (risk_b + risk_c) / 2, data)
    p50, p99 = latency_ms(model, tokenizer)
    total = time.perf_counter() - started
    print(f"fine-tuned MiniLM at 40 tokens, torch, {args.threads} thread(s): "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; whole probe {total:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
