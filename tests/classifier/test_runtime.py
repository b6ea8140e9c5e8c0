"""Classifier.load + classify against a real bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.errors import BundleError, InputError
from classifier.prediction import Prediction
from classifier.runtime import Classifier
from classifier.taxonomy import INTENTS, RISKS, TIERS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clf(tiny_bundle: Path) -> Classifier:
    return Classifier.load(tiny_bundle)


def test_prediction_is_complete_and_consistent(clf: Classifier) -> None:
    p = clf.classify("Translate this customer email into French.", feature="support")
    assert isinstance(p, Prediction)
    assert list(p.intent_probs) == list(INTENTS)
    assert list(p.risk_probs) == list(RISKS)
    assert list(p.tier_ok_probs) == list(TIERS)
    assert p.intent == max(p.intent_probs, key=p.intent_probs.__getitem__)
    assert p.risk == max(p.risk_probs, key=p.risk_probs.__getitem__)
    assert sum(p.intent_probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(p.risk_probs.values()) == pytest.approx(1.0, abs=1e-5)
    tier_probs = list(p.tier_ok_probs.values())
    assert tier_probs == sorted(tier_probs)
    threshold = clf.manifest.tier_threshold
    viable = [t for t in TIERS if p.tier_ok_probs[t] >= threshold]
    assert p.tier == (viable[0] if viable else "full")
    assert p.model_version == clf.model_version == "1"
    assert p.bundle_hash == clf.bundle_hash and len(p.bundle_hash) == 16
    assert p.tokens_used == len(clf.encode("Translate this customer email into French.")[0])
    assert p.truncated is False


def test_learned_something_on_the_synthetic_set(clf: Classifier) -> None:
    assert (
        clf.classify("Write a Python function that parses the API changelog.").intent
        == "generate_code"
    )
    assert (
        clf.classify("Summarize the vendor contract in three bullet points.").intent == "summarize"
    )


def test_long_text_is_windowed_and_reported(clf: Classifier) -> None:
    window = clf.window
    text = "Summarize the notes. " + "filler words here " * 5000 + " Answer in French."
    p = clf.classify(text)
    assert p.truncated is True
    assert p.tokens_used <= window.max_tokens


def test_batch_equals_single(clf: Classifier) -> None:
    texts = ["Is this ticket urgent?", "Plan the migration step by step " * 30, "hi"]
    batch = clf.classify_batch(texts)
    for text, b in zip(texts, batch, strict=True):
        s = clf.classify(text)
        assert (s.intent, s.risk, s.tier, s.tokens_used) == (
            b.intent,
            b.risk,
            b.tier,
            b.tokens_used,
        )
        for key, value in s.tier_ok_probs.items():
            assert b.tier_ok_probs[key] == pytest.approx(value, abs=1e-6)
    assert clf.classify_batch([]) == []


@pytest.mark.parametrize("bad", ["", "   \n", None, 42, b"bytes"])
def test_bad_text_is_refused_clearly(clf: Classifier, bad: object) -> None:
    with pytest.raises(InputError):
        clf.classify(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        clf.classify_batch(["fine", bad])  # type: ignore[list-item]


def test_text_without_tokens_still_classifies(clf: Classifier) -> None:
    p = clf.classify("\x00\x01")
    assert p.tokens_used == 0


def test_threads_are_configurable(tiny_bundle: Path) -> None:
    two = Classifier.load(tiny_bundle, intra_op_threads=2)
    assert two.classify("Tag this ticket").intent_probs == pytest.approx(
        Classifier.load(tiny_bundle).classify("Tag this ticket").intent_probs, abs=1e-6
    )
    with pytest.raises(ValueError):
        Classifier.load(tiny_bundle, intra_op_threads=0)


def test_missing_directory_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="tierwise train"):
        Classifier.load(tmp_path / "nope")


def test_lazy_package_export(tiny_bundle: Path) -> None:
    import classifier

    assert classifier.Classifier is Classifier
    with pytest.raises(AttributeError):
        classifier.NoSuchThing  # noqa: B018
