"""`tierwise corpora report`: the real-traffic report of a bundle, on the development set.

Scores the served bundle (through `Classifier`, exactly as a router calls it) and two baselines
on the same hand-labelled real texts: zero-shot nearest-prototype on the teacher, and the keyword
cues. Writes `docs/real-traffic.md` with its figures, and logs the numbers and the page to MLflow.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.taxonomy import INTENTS, RISKS, TIERS
from data.corpora.labelled import LABELS_DIR, Corpus, load_corpus, read_labels
from training.evaluation.metrics import Evaluation, evaluate_probs

logger = logging.getLogger(__name__)

HIGH = RISKS.index("high")
SECOND_PATH = LABELS_DIR / "devset-second.jsonl"  # a blind second labelling of a dev sample
ZERO_SHOT_TEMPERATURE = 0.05  # softmax over cosines, so the baseline has probabilities to score


@dataclass
class Scored:
    name: str
    evaluation: Evaluation
    intent_pred: np.ndarray
    risk_pred: np.ndarray
    extra: dict[str, Any]


def high_balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean of recall on `high` and on everything else: what a safety floor needs from risk."""
    is_high, said_high = y == HIGH, pred == HIGH
    if not is_high.any() or is_high.all():
        return float("nan")
    return float((said_high[is_high].mean() + (~said_high[~is_high]).mean()) / 2)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _one_hot(labels: list[str], names: tuple[str, ...]) -> np.ndarray:
    out = np.zeros((len(labels), len(names)))
    out[np.arange(len(labels)), [names.index(v) for v in labels]] = 1.0
    return out


def intervals(y_i: np.ndarray, y_r: np.ndarray, model: Scored, n_resamples: int = 1000
              ) -> dict[str, list[float]]:  # fmt: skip
    """95 % percentile-bootstrap intervals over development rows for the two target figures.

    With 10 `review_policy` and 33 `classify` rows, one row moves macro-F1 by up to 0.015, so a
    difference between two bundles means little until it leaves these intervals.
    """
    from scipy.stats import bootstrap
    from sklearn.metrics import f1_score

    def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
        return float(f1_score(y, pred, labels=range(len(INTENTS)), average="macro",
                              zero_division=0))  # fmt: skip

    out = {}
    for key, data, stat in (
        ("intent_macro_f1", (y_i, model.intent_pred), macro_f1),
        ("risk_high_balanced_accuracy", (y_r, model.risk_pred), high_balanced_accuracy),
    ):
        ci = bootstrap(data, stat, paired=True, vectorized=False, n_resamples=n_resamples,
                       method="percentile", random_state=0).confidence_interval  # fmt: skip
        out[key] = [float(ci.low), float(ci.high)]
    return out


def _score(name: str, intent_p: np.ndarray, risk_p: np.ndarray, y_i, y_r, **extra) -> Scored:  # noqa: ANN001, E501
    n = len(y_i)
    probs = {"intent": intent_p, "risk": risk_p, "tier_ok": np.zeros((n, len(TIERS)))}
    ev = evaluate_probs(name, probs, y_i, y_r, np.full((n, len(TIERS)), -1))
    ev.heads.pop("tier", None)
    extra = {"probs": (intent_p, risk_p), **extra}  # per-subset figures (reserved_report)
    return Scored(name, ev, intent_p.argmax(axis=1), risk_p.argmax(axis=1), extra)


def score_bundle(bundle_dir: Path, texts: list[str], y_i, y_r) -> Scored:  # noqa: ANN001
    from classifier.runtime import Classifier

    clf = Classifier.load(bundle_dir)
    preds = []
    for start in range(0, len(texts), 256):
        preds += clf.classify_batch(texts[start : start + 256])
    ip = np.array([[p.intent_probs[k] for k in INTENTS] for p in preds])
    rp = np.array([[p.risk_probs[k] for k in RISKS] for p in preds])
    abstain = np.array([p.abstain for p in preds])
    return _score(f"bundle {clf.model_version}", ip, rp, y_i, y_r, abstain=abstain,
                  manifest=clf.manifest)  # fmt: skip


def score_zero_shot(texts: list[str], y_i, y_r) -> Scored:  # noqa: ANN001
    from training.realtext.embedding import teacher_encoder
    from training.realtext.zero_shot import INTENT_PROTOTYPES, RISK_PROTOTYPES, NearestPrototype

    encode = teacher_encoder()
    X = encode(texts)
    zi, zr = NearestPrototype(encode, INTENT_PROTOTYPES), NearestPrototype(encode, RISK_PROTOTYPES)
    ip = _softmax(zi.similarities(X) / ZERO_SHOT_TEMPERATURE)
    rp = _softmax(zr.similarities(X) / ZERO_SHOT_TEMPERATURE)
    # columns in taxonomy order (the prototype dicts are written in that order; check it)
    assert tuple(zi.labels) == INTENTS and tuple(zr.labels) == RISKS
    return _score("zero-shot prototypes (MiniLM)", ip, rp, y_i, y_r)


def score_keywords(texts: list[str], y_i, y_r) -> Scored:  # noqa: ANN001
    from training.realtext.cues import keyword_baseline

    pairs = [keyword_baseline(t) for t in texts]
    return _score("keyword rules", _one_hot([p[0] for p in pairs], INTENTS),
                  _one_hot([p[1] for p in pairs], RISKS), y_i, y_r)  # fmt: skip


def per_source(scored: Scored, sources: list[str], y_i, y_r) -> dict[str, dict[str, float]]:  # noqa: ANN001
    rows: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sources):
        rows[s].append(i)
    out = {}
    for s, idx in sorted(rows.items()):
        ix = np.array(idx)
        out[s] = {
            "n": len(ix),
            "intent_accuracy": float((scored.intent_pred[ix] == y_i[ix]).mean()),
            "risk_accuracy": float((scored.risk_pred[ix] == y_r[ix]).mean()),
        }
    return out


def summary_row(s: Scored, y_r: np.ndarray) -> dict[str, float]:
    i, r = s.evaluation.heads["intent"], s.evaluation.heads["risk"]
    return {
        "intent_macro_f1": i.macro_f1,
        "intent_accuracy": i.accuracy,
        "intent_ece": i.ece,
        "risk_macro_f1": r.macro_f1,
        "risk_high_balanced_accuracy": high_balanced_accuracy(y_r, s.risk_pred),
        "risk_accuracy": r.accuracy,
        "risk_ece": r.ece,
    }


def build(bundle_dir: Path, out_md: Path, corpus: Corpus | None = None, *, baselines: bool = True,
          log_mlflow: bool = True) -> dict[str, Any]:  # fmt: skip
    from training.evaluation.report import write_plots

    corpus = corpus or load_corpus()
    dev = corpus.dev
    if not dev:
        raise SystemExit("no development set: data/realtext/devset.jsonl is empty or unmatched")
    texts = [d.item.text for d in dev]
    sources = [d.item.source for d in dev]
    y_i = np.array([INTENTS.index(d.intent) for d in dev])
    y_r = np.array([RISKS.index(d.risk) for d in dev])
    runs = [score_bundle(bundle_dir, texts, y_i, y_r)]
    if baselines:
        runs += [score_zero_shot(texts, y_i, y_r), score_keywords(texts, y_i, y_r)]
    model = runs[0]
    assets = out_md.with_suffix("")
    images = write_plots(model.evaluation, assets, "dev")
    figures = {
        "dev_rows": len(dev),
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": {s.name: summary_row(s, y_r) for s in runs},
        "per_source": {s.name: per_source(s, sources, y_i, y_r) for s in runs},
        "per_intent_f1": {s.name: _per_class_f1(s.evaluation.heads["intent"]) for s in runs},
        "abstention": _abstention(model, y_i),
        "intervals": intervals(y_i, y_r, model),
        "simulator": _simulator_figures(model.extra["manifest"].metrics),
        "labels": {
            "intent": _counts([d.intent for d in dev]),
            "risk": _counts([d.risk for d in dev]),
        },
        "sources": _counts(sources),
        "agreement": second_labeller_agreement(corpus),
        "weak": _weak_summary(),
        "training": model.extra["manifest"].training_data.get("realtext"),
    }  # fmt: skip
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(
        render(figures, model, [p.name for p in images], assets.name), encoding="utf-8"
    )
    (assets / "figures.json").write_text(json.dumps(figures, indent=1, default=float) + "\n")
    if log_mlflow:
        _log_mlflow(figures, out_md, assets, model)
    return figures


def _simulator_figures(metrics: dict[str, Any]) -> dict[str, Any]:
    prefixes = ("time/student/", "unseen/student/", "unseen_truth/student/")
    return {k: v for k, v in metrics.items() if k.startswith(prefixes)}


def second_labeller_agreement(corpus: Corpus, path: Path = SECOND_PATH) -> dict[str, Any]:
    """How often a second labeller, blind to the first, chose the same labels on a sample."""
    second = {(r["package"], r["path"], str(r["index"])): r for r in read_labels(path)}
    pairs = [(d, second[(d.item.package, d.item.path, d.item.index)]) for d in corpus.dev
             if (d.item.package, d.item.path, d.item.index) in second]  # fmt: skip
    if not pairs:
        return {}
    from sklearn.metrics import cohen_kappa_score

    out: dict[str, Any] = {"rows": len(pairs)}
    for head in ("intent", "risk"):
        a = [getattr(d, head) for d, _ in pairs]
        b = [row[head] for _, row in pairs]
        out[f"{head}_agreement"] = float(np.mean([x == y for x, y in zip(a, b, strict=True)]))
        out[f"{head}_kappa"] = float(cohen_kappa_score(a, b))
    return out


def _weak_summary() -> dict[str, Any]:
    path = LABELS_DIR / "weak.summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _counts(values: list[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _per_class_f1(rep: Any) -> dict[str, float]:
    out = {}
    for label in rep.labels:
        p, r = rep.precision[label], rep.recall[label]
        out[label] = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    return out


def _abstention(model: Scored, y_i: np.ndarray) -> dict[str, float]:
    abstain = model.extra.get("abstain")
    if abstain is None or len(abstain) == 0:
        return {}
    right = model.intent_pred == y_i
    kept = ~abstain
    return {
        "rate": float(abstain.mean()),
        "intent_accuracy_kept": float(right[kept].mean()) if kept.any() else float("nan"),
        "intent_accuracy_abstained": float(right[abstain].mean())
        if abstain.any()
        else float("nan"),
    }


def _f(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"


def render(fig: dict[str, Any], model: Scored, images: list[str], assets: str) -> str:
    names = list(fig["rows"])
    lines = [
        "# Real traffic: the default model on real request texts",
        "",
        f"Generated {fig['generated']} by `tierwise corpora report` on the development set: "
        f"{fig['dev_rows']} real request texts from registry packages, labelled by hand by "
        "[the labelling guide](../data/realtext/LABELLING.md) (DESIGN §3) and never trained on "
        "(exact and near-duplicates removed from training). Texts are rebuilt from the pinned "
        "packages; only labels are committed.",
        "",
        "## Headline",
        "",
        "| model | intent macro-F1 | intent accuracy | intent ECE | risk macro-F1 "
        "| risk `high` balanced accuracy | risk ECE |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    keys = ("intent_macro_f1", "intent_accuracy", "intent_ece", "risk_macro_f1",
            "risk_high_balanced_accuracy", "risk_ece")  # fmt: skip
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_f(fig["rows"][name][k]) for k in keys) + " |")
    ci = fig.get("intervals") or {}
    if ci:
        f1_lo, f1_hi = ci["intent_macro_f1"]
        ba_lo, ba_hi = ci["risk_high_balanced_accuracy"]
        rare = fig["labels"]["intent"]
        lines += [
            "",
            f"95 % bootstrap intervals over the development rows ({names[0]}): intent macro-F1 "
            f"{f1_lo:.3f}-{f1_hi:.3f}, risk `high` balanced accuracy {ba_lo:.3f}-{ba_hi:.3f}. "
            f"With {rare.get('review_policy', 0)} `review_policy` and {rare.get('classify', 0)} "
            "`classify` rows, one row moves macro-F1 by up to 0.015, so a difference between "
            "two bundles inside these intervals is not a result.",
        ]
    agree = fig.get("agreement") or {}
    if agree:
        lines += [
            "",
            f"Two labellers, blind to each other, on {agree['rows']} development rows: intent "
            f"agreement {agree['intent_agreement']:.1%} (Cohen's kappa "
            f"{agree['intent_kappa']:.2f}), risk {agree['risk_agreement']:.1%} (kappa "
            f"{agree['risk_kappa']:.2f}). That is the ceiling the heads are measured against.",
        ]
    lines += [
        "",
        "Zero-shot prototypes: cosine to the mean MiniLM embedding of four plain requests per "
        f"label, softmax at temperature {ZERO_SHOT_TEMPERATURE} for its probabilities. "
        "Keyword rules: the labelling cues of `training/realtext/cues.py` by priority, "
        "`chat`/`low` when none fires (one-hot, so its ECE is its error rate).",
        "",
        "## Per intent (F1)",
        "",
        "| intent | rows | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for label in INTENTS:
        cells = [_f(fig["per_intent_f1"][n][label]) for n in names]
        lines.append(
            f"| {label} | {fig['labels']['intent'].get(label, 0)} | " + " | ".join(cells) + " |"
        )
    risk_rows = ", ".join(f"{k} {v}" for k, v in fig["labels"]["risk"].items())
    lines += [
        "",
        f"Risk rows: {risk_rows}.",
        "",
        "## Per source (accuracy: intent / risk)",
        "",
        "| source | rows | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for source, n in fig["sources"].items():
        cells = []
        for name in names:
            s = fig["per_source"][name][source]
            cells.append(f"{s['intent_accuracy']:.2f} / {s['risk_accuracy']:.2f}")
        lines.append(f"| {source} | {n} | " + " | ".join(cells) + " |")
    ab = fig["abstention"]
    if ab:
        lines += [
            "",
            "## Abstention",
            "",
            f"`Classifier.classify()` abstained on {ab['rate']:.1%} of the development rows; "
            f"intent accuracy is {_f(ab['intent_accuracy_kept'])} where it answered and "
            f"{_f(ab['intent_accuracy_abstained'])} where it abstained.",
        ]
    sim = fig["simulator"]
    if sim:
        lines += [
            "",
            "## Side by side: the simulator's held-out figures (same bundle)",
            "",
            "| set | intent macro-F1 | intent ECE | risk macro-F1 | risk ECE |",
            "|---|---:|---:|---:|---:|",
        ]
        dev = fig["rows"][names[0]]
        cols = ("intent_macro_f1", "intent_ece", "risk_macro_f1", "risk_ece")
        lines.append("| real development set | " + " | ".join(_f(dev[c]) for c in cols) + " |")
        for split in ("time/student", "unseen/student", "unseen_truth/student"):
            if f"{split}/intent_macro_f1" in sim:
                scored = " | ".join(_f(sim.get(f"{split}/{c}")) for c in cols)
                lines.append(f"| simulator `{split.split('/')[0]}` | {scored} |")
    lines += _training_lines(fig)
    if images:
        lines += ["", "## Confusion matrices and reliability", ""]
        lines += [f"![{img}]({assets}/{img})" for img in images]
    lines += ["", "All numbers: [`" + assets + "/figures.json`](" + assets + "/figures.json).", ""]
    return "\n".join(lines)


def _training_lines(fig: dict[str, Any]) -> list[str]:
    """What the bundle was trained on, and how good the weak labels are where dev can tell."""
    lines: list[str] = []
    real = fig.get("training") or {}
    if real:
        rows = ", ".join(f"{k} {v:,}" for k, v in sorted(real.get("rows", {}).items()))
        packages = ", ".join(f"`{v}`" for v in real.get("packages", {}).values())
        lines += [
            "",
            "## What the model was trained on",
            "",
            f"Real and authored rows: {rows}. {real.get('near_duplicates_dropped', 0)} "
            "training rows were dropped as near-duplicates (cosine >= 0.95) of a "
            f"development text. Packages: {packages}.",
        ]
    weak = fig.get("weak") or {}
    if weak.get("agreement_with_dev"):
        a = weak["agreement_with_dev"]
        lines += ["", "Weak labels (label model fitted on the gold rows, abstaining below "
                  f"{weak['min_precision']:.0%} cross-validated precision): on the development set "
                  f"they label intent for {a['intent']['coverage']:.0%} of rows with accuracy "
                  f"{a['intent']['accuracy_where_labelled']:.3f}, and risk for "
                  f"{a['risk']['coverage']:.0%} with accuracy "
                  f"{a['risk']['accuracy_where_labelled']:.3f}."]  # fmt: skip
    return lines


def _log_mlflow(figures: dict[str, Any], out_md: Path, assets: Path, model: Scored) -> None:
    import mlflow

    from training import tracking

    tracking.connect(None)
    mlflow.set_experiment("tierwise")
    manifest = model.extra["manifest"]
    with mlflow.start_run(run_name=f"real-traffic-{manifest.version}"):
        mlflow.set_tags(
            {
                "kind": "real-traffic-report",
                "bundle_hash": manifest.bundle_hash,
                "bundle_run_id": manifest.mlflow_run_id or "",
            }
        )
        for name, row in figures["rows"].items():
            prefix = "model" if name == model.name else name.split(" ")[0].replace("-", "_")
            mlflow.log_metrics(
                {f"real/{prefix}/{k}": float(v) for k, v in row.items() if np.isfinite(v)}
            )
        mlflow.log_artifact(str(out_md), "real-traffic")
        mlflow.log_artifacts(str(assets), "real-traffic")
