"""Real text as training rows: hand-labelled gold rows plus weak labels, never the dev set.

Returned rows carry intent and risk (or -1 where the weak labeller abstained) and a weight; they
have no tier outcome (tier_ok = -1), so the tier heads never see them. A slice of the gold rows
is kept back to calibrate the intent and risk heads on real text. Rows whose embedding is a
near-duplicate of a development-set text (cosine >= `near_duplicate`) are dropped, on top of the
exact normalised-text check in `data.corpora.labelled`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier.taxonomy import INTENTS, RISKS
from data.corpora.labelled import (
    AUTHORED_DIR,
    LABELS_DIR,
    REPRESENTATIVE_DRAWS,
    Corpus,
    read_authored,
)

logger = logging.getLogger(__name__)

WEAK_PATH = LABELS_DIR / "weak.jsonl"


@dataclass
class RealRows:
    texts: list[str]
    intent: np.ndarray  # -1 = no label
    risk: np.ndarray
    weight: np.ndarray
    origin: list[str]  # "gold" | "authored" | "weak"
    source: list[str]
    calib: np.ndarray  # bool: kept back for calibration, not trained on
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, mask: np.ndarray) -> RealRows:
        idx = np.flatnonzero(mask)
        return RealRows(
            [self.texts[i] for i in idx],
            self.intent[idx],
            self.risk[idx],
            self.weight[idx],
            [self.origin[i] for i in idx],
            [self.source[i] for i in idx],
            self.calib[idx],
        )


def read_weak(path: Path = WEAK_PATH) -> dict[tuple[str, str, str, str], dict]:
    return read_keyed(path)


def read_keyed(path: Path) -> dict[tuple[str, str, str, str], dict]:
    """Label rows keyed by (package, version, path, index); empty when the file is absent."""
    rows = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows[(row["package"], row["version"], row["path"], str(row["index"]))] = row
    return rows


def build_rows(
    corpus: Corpus,
    *,
    weak_path: Path = WEAK_PATH,
    authored_dir: Path = AUTHORED_DIR,
    gold_weight: float = 3.0,
    authored_weight: float = 3.0,
    weak_weight: float = 1.0,
    use_weak: bool = True,
    calib_fraction: float = 0.3,
    seed: int = 0,
) -> RealRows:
    """Gold rows (a `calib_fraction` slice kept back for calibration), authored rows and weak
    rows, each with its weight.

    The calibration slice comes only from gold rows drawn like the development set: rows drawn
    because a bundle missed them or was unsure are harder than traffic, and a temperature fitted
    on them makes the heads too timid everywhere else. They all train.
    """
    rng = np.random.default_rng(seed)
    texts, intent, risk, weight, origin, source, calib = [], [], [], [], [], [], []

    def add(text: str, src: str, i: int, r: int, w: float, kind: str, held: bool) -> None:
        texts.append(text)
        intent.append(i)
        risk.append(r)
        weight.append(w)
        origin.append(kind)
        source.append(src)
        calib.append(held)

    for row in corpus.gold:
        held = bool(rng.random() < calib_fraction) and row.draw in REPRESENTATIVE_DRAWS
        add(row.item.text, row.item.source, INTENTS.index(row.intent), RISKS.index(row.risk),
            gold_weight, "gold", held)  # fmt: skip
    for authored in read_authored(authored_dir):
        add(authored["text"], authored["source"], INTENTS.index(authored["intent"]),
            RISKS.index(authored["risk"]),
            authored_weight, "authored", False)  # fmt: skip
    weak = read_weak(weak_path) if use_weak else {}
    for item in corpus.unlabelled:
        label = weak.get(item.key)
        if label is None or label.get("sha256") != item.sha256:
            continue
        i = INTENTS.index(label["intent"]) if label.get("intent") else -1
        r = RISKS.index(label["risk"]) if label.get("risk") else -1
        if i >= 0 or r >= 0:
            add(item.text, item.source, i, r, weak_weight, "weak", False)
    rows = RealRows(
        texts,
        np.array(intent, dtype=np.int64),
        np.array(risk, dtype=np.int64),
        np.array(weight, dtype=np.float64),
        origin,
        source,
        np.array(calib, dtype=bool),
    )
    rows.counts = dict(Counter(f"{o}/{s}" for o, s in zip(origin, source, strict=True)))
    return rows


def drop_near_duplicates(
    X_rows: np.ndarray, X_dev: np.ndarray, threshold: float = 0.95, chunk: int = 2048
) -> np.ndarray:
    """Mask of rows whose cosine to every dev text is below `threshold` (True = keep)."""
    if len(X_dev) == 0 or len(X_rows) == 0:
        return np.ones(len(X_rows), dtype=bool)
    dev = X_dev / np.maximum(np.linalg.norm(X_dev, axis=1, keepdims=True), 1e-12)
    keep = np.ones(len(X_rows), dtype=bool)
    for start in range(0, len(X_rows), chunk):
        block = X_rows[start : start + chunk]
        block = block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
        keep[start : start + chunk] = (block @ dev.T).max(axis=1) < threshold
    return keep
