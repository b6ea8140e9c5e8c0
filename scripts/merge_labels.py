"""Join hand-labelled batches (key -> intent, risk, note) to their key map and write the
committed label file: package, version, path, index, sha256, source, intent, risk, note.

    python scripts/merge_labels.py /tmp/pool data/realtext/devset.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from classifier.taxonomy import INTENTS, RISKS

FIELDS = ("package", "version", "path", "index", "sha256", "source")


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
                         "risk": label["risk"], "note": label.get("note", "")})  # fmt: skip
    seen, unique = set(), []
    for row in rows:
        k = (row["package"], row["path"], row["index"])
        if k not in seen:
            seen.add(k)
            unique.append(row)
    unique.sort(key=lambda r: (r["package"], r["path"], r["index"]))
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in unique))
    print(f"{len(unique)} rows -> {out} ({bad} rejected)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
