"""`Classifier.classify` reports its own abstention, from thresholds recorded in the bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.runtime import Classifier

pytestmark = pytest.mark.slow

TEXTS = [
    "Translate this customer email into French.",
    "Summarize the vendor contract in three bullet points.",
    "hmm",
    "Write a Python function that parses the API changelog.",
]


def _bundle_with(tiny_model, tmp_path: Path, thresholds: dict[str, float]) -> Classifier:  # noqa: ANN001
    from training.model.export import export_bundle

    bundle = export_bundle(
        tiny_model.student, tiny_model.heads, tmp_path / "b", name="tiny", version="2",
        extra_manifest={"thresholds": {"tier_ok": 0.5, **thresholds}},
    )  # fmt: skip
    return Classifier.load(bundle)


def test_a_bundle_without_abstention_thresholds_never_abstains(tiny_bundle: Path) -> None:
    clf = Classifier.load(tiny_bundle)
    for text in TEXTS:
        p = clf.classify(text)
        assert p.abstain is False and p.abstain_reason is None
        ranked = sorted(p.intent_probs.values())
        assert p.intent_margin == pytest.approx(ranked[-1] - ranked[-2])


def test_abstains_exactly_where_a_threshold_is_missed(tiny_model, tmp_path: Path) -> None:  # noqa: ANN001
    # A margin bar between the texts' own margins: some abstain, some do not, and each
    # reason names the bar that was missed.
    probe = Classifier.load(tiny_model.bundle_dir)
    margins = sorted(probe.classify(t).intent_margin for t in TEXTS)
    bar = (margins[0] + margins[-1]) / 2
    clf = _bundle_with(tiny_model, tmp_path, {"abstain_intent_margin": bar})
    seen = set()
    for text in TEXTS:
        p = clf.classify(text)
        assert p.abstain == (p.intent_margin < bar)
        if p.abstain:
            assert p.abstain_reason.startswith("intent margin")
        seen.add(p.abstain)
    assert seen == {True, False}


def test_risk_and_probability_bars_and_batch_agree(tiny_model, tmp_path: Path) -> None:  # noqa: ANN001
    clf = _bundle_with(
        tiny_model, tmp_path, {"abstain_intent_prob": 1.01, "abstain_risk_prob": 0.0}
    )
    single = [clf.classify(t) for t in TEXTS]
    assert all(p.abstain and p.abstain_reason.startswith("intent P") for p in single)
    batch = clf.classify_batch(TEXTS)
    assert [p.abstain_reason for p in batch] == [p.abstain_reason for p in single]
    clf = _bundle_with(tiny_model, tmp_path / "r", {"abstain_risk_prob": 1.01})
    p = clf.classify(TEXTS[0])
    assert p.abstain and p.abstain_reason.startswith("risk P")
    assert p.to_dict()["abstain_reason"] == p.abstain_reason
