"""Join hand-labelled batches (key -> intent, risk, note) to their key map and add them to a
committed label file: package, version, path, index, sha256, source, intent, risk, draw, note.

    python scripts/merge_labels.py /tmp/pool data/realtext/gold.jsonl

Rows already in the file stay as they are (a text labelled once is not relabelled by a later
batch); new rows are added and the file is kept sorted by key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from classifier.taxonomy import INTENTS, RISKS
from data.corpora.labelled import DRAW_OF_PURPOSE

FIELDS = ("package", "version", "path", "index", "sha256", "source")
# The draw a key's first letter names, recorded so that training keeps only rows drawn like the
# development set for calibration.
DRAW_OF_PREFIX = {purpose[0]: draw for purpose, draw in DRAW_OF_PURPOSE.items()}


def main(pool: Path, out: Path) -> int:
    keymap = {}
    for line in (pool / "keymap.jsonl").read_text().splitlines():
        row = json.loads(line)
        keymap[row["key"]] = row
    rows, bad = [], 0
    for path in sorted(pool.glob("batch-*.labels.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            label = json.loads(line)
            key = keymap.get(label.get("key"))
            if key is None or label.get("intent") not in INTENTS or label.get("risk") not in RISKS:
                bad += 1
                continue
            rows.append({**{f: key[f] for f in FIELDS}, "intent": label["intent"],
                         "risk": label["risk"], "draw": DRAW_OF_PREFIX[label["key"][0]],
                         "note": label.get("note", "")})  # fmt: skip
    unique = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    before = len(unique)
    seen = {(r["package"], r["path"], str(r["index"])) for r in unique}
    shas = {r["sha256"] for r in unique}
    for row in rows:
        k = (row["package"], row["path"], str(row["index"]))
        if k not in seen and row["sha256"] not in shas:
            seen.add(k)
            shas.add(row["sha256"])
            unique.append(row)
    unique.sort(key=lambda r: (r["package"], r["path"], str(r["index"])))
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in unique))
    added = len(unique) - before
    print(f"{added} rows added -> {out} ({len(unique)} in all; {len(rows) - added} already there,"
          f" {bad} rejected)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
