"""`tierwise corpora weak-label`: fit the label model on gold rows, label the rest, write
`data/realtext/weak.jsonl` (labels keyed to texts, never the texts) and a coverage report.

Run once after the gold labels change; training reads the committed file, so `./scripts/run`
never pays for the teacher over the whole corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from data.corpora.extract import RealText
from data.corpora.labelled import Corpus, load_corpus
from training.realtext.trainset import WEAK_PATH
from training.realtext.weak import WeakLabeller, cue_features
from training.realtext.zero_shot import INTENT_PROTOTYPES, RISK_PROTOTYPES, NearestPrototype

logger = logging.getLogger(__name__)

TURNS_SAMPLE = 8000  # later conversation turns are many and repetitive: a seeded sample


def _meta(item: RealText) -> dict[str, Any]:
    return {**item.meta, "_source": item.source}


def pick_unlabelled(corpus: Corpus, turns_sample: int = TURNS_SAMPLE) -> list[RealText]:
    """All unlabelled texts except later turns, of which a stable sample (by sha256)."""
    turns = [t for t in corpus.unlabelled if t.source == "sharegpt_turns"]
    turns.sort(key=lambda t: hashlib.sha256(t.sha256.encode()).hexdigest())
    rest = [t for t in corpus.unlabelled if t.source != "sharegpt_turns"]
    return rest + turns[:turns_sample]


def run(out: Path = WEAK_PATH, min_precision: float = 0.9) -> dict[str, Any]:
    from training.realtext.embedding import teacher_encoder

    corpus = load_corpus()
    if not corpus.gold:
        raise SystemExit("no gold labels in data/realtext/gold.jsonl: label some rows first")
    encode = teacher_encoder()
    zs_intent = NearestPrototype(encode, INTENT_PROTOTYPES)
    zs_risk = NearestPrototype(encode, RISK_PROTOTYPES)

    def features(items: list[RealText]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        texts = [t.text for t in items]
        X = encode(texts)
        sims = np.hstack([zs_intent.similarities(X), zs_risk.similarities(X)])
        return X, cue_features(texts, [_meta(t) for t in items]), sims

    gold_items = [g.item for g in corpus.gold]
    labeller = WeakLabeller(min_precision=min_precision).fit(
        *features(gold_items), [g.intent for g in corpus.gold], [g.risk for g in corpus.gold]
    )
    targets = pick_unlabelled(corpus)
    logger.info("weak-labelling %d texts", len(targets))
    labels = labeller.label(
        *features(targets), [t.text for t in targets], [_meta(t) for t in targets]
    )
    # Agreement with the development set: the same label model on texts it never saw.
    dev_items = [d.item for d in corpus.dev]
    dev_labels = labeller.label(
        *features(dev_items), [t.text for t in dev_items], [_meta(t) for t in dev_items]
    )
    agreement = {}
    for target in ("intent", "risk"):
        gold = [getattr(d, target) for d in corpus.dev]
        got = [getattr(w, target) for w in dev_labels]
        covered = [g == w for g, w in zip(gold, got, strict=True) if w is not None]
        agreement[target] = {
            "coverage": round(len(covered) / max(len(gold), 1), 3),
            "accuracy_where_labelled": round(
                float(np.mean(covered)) if covered else float("nan"), 3
            ),
        }
    with out.open("w", encoding="utf-8") as fh:
        for item, label in zip(targets, labels, strict=True):
            if label.intent is None and label.risk is None:
                continue
            fh.write(json.dumps({
                "package": item.package, "version": item.version, "path": item.path,
                "index": item.index, "sha256": item.sha256, "source": item.source,
                "intent": label.intent, "risk": label.risk, "risk_from": label.risk_from,
                "intent_confidence": round(label.intent_confidence, 3),
                "risk_confidence": round(label.risk_confidence, 3),
            }) + "\n")  # fmt: skip
    coverage: dict[str, Any] = {}
    by_source = Counter(t.source for t in targets)
    for target in ("intent", "risk"):
        labelled = Counter(
            t.source for t, w in zip(targets, labels, strict=True) if getattr(w, target)
        )
        coverage[target] = {s: round(labelled[s] / n, 3) for s, n in sorted(by_source.items())}
        coverage[f"{target}_labels"] = dict(
            Counter(getattr(w, target) for w in labels if getattr(w, target))
        )
    summary = {
        "gold_rows": len(corpus.gold),
        "texts_considered": len(targets),
        "label_model_cv": labeller.cv_,
        "coverage_by_source": coverage,
        "agreement_with_dev": agreement,
        "min_precision": min_precision,
    }
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
