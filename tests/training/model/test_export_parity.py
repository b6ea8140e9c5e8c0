"""The exported graph computes what the Python student + sklearn heads compute."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from classifier.bundle import MANIFEST_FILE, MODEL_FILE, sha256_file
from classifier.runtime import Classifier
from training.model.export import export_bundle
from training.model.heads import TierwiseHeads

pytestmark = pytest.mark.slow


def _parity_texts(base: list[str], n: int = 1000) -> list[str]:
    """Training texts (repeats sit exactly on split thresholds), variants, noise, long ones."""
    rng = random.Random(11)
    words = " ".join(base).split()
    texts = list(base[:300])
    while len(texts) < n:
        kind = rng.random()
        if kind < 0.5:
            texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 40))))
        elif kind < 0.7:
            texts.append(rng.choice(base) + " " + rng.choice(["Danke!", "naïve café", "日本語で"]))
        elif kind < 0.9:
            texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(300, 900))))
        else:
            texts.append("".join(rng.choice("abc XYZ,.;!?\n\t0123") for _ in range(60)))
    return texts


def test_onnx_matches_student_and_sklearn_on_1000_texts(tiny_model) -> None:  # noqa: ANN001
    texts = _parity_texts(tiny_model.data["text"])
    expected = tiny_model.heads.predict_proba(tiny_model.student.encode(texts))
    clf = Classifier.load(tiny_model.bundle_dir)
    batch = clf.classify_batch(texts)
    single = [clf.classify(t) for t in texts[::7]]
    for head, field in (
        ("intent", "intent_probs"),
        ("risk", "risk_probs"),
        ("tier_ok", "tier_ok_probs"),
    ):
        got = np.array([list(getattr(p, field).values()) for p in batch])
        assert np.abs(got - expected[head]).max() <= 1e-5, head
        got = np.array([list(getattr(p, field).values()) for p in single])
        assert np.abs(got - expected[head][::7]).max() <= 1e-5, head
    assert any(p.truncated for p in batch)
    assert len({p.intent for p in batch}) > 3


def test_manifest_describes_the_bundle(tiny_bundle: Path) -> None:
    manifest = json.loads((tiny_bundle / MANIFEST_FILE).read_text())
    embedding = manifest["embedding"]
    assert embedding["pooling"]["edge_tokens"] > 0
    assert embedding["feature_dim"] == embedding["features"][-1]["columns"][1] > embedding["dim"]
    assert manifest["files"][MODEL_FILE] == sha256_file(tiny_bundle / MODEL_FILE)
    assert manifest["labels"]["intent"][0] == "summarize"
    assert manifest["embedding"]["teacher"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert manifest["metrics"] == {"note": "synthetic fixture"}
    assert manifest["text_window"]["max_tokens"] >= 2
    assert manifest["heads"]["n_trees"] > 0
    tok = json.loads((tiny_bundle / "tokenizer.json").read_text())
    assert tok["padding"] is None and tok["truncation"] is None


def test_failed_export_leaves_the_old_bundle(tiny_model, tmp_path: Path) -> None:  # noqa: ANN001
    target = tmp_path / "live"
    shutil.copytree(tiny_model.bundle_dir, target)
    before = sha256_file(target / MODEL_FILE)
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    wrong = TierwiseHeads(max_iter=2).fit(
        X, np.arange(60) % 7, np.arange(60) % 3, np.tile([0, 1, 1], (60, 1))
    )
    with pytest.raises(ValueError, match="5-d"):
        export_bundle(tiny_model.student, wrong, target, name="x", version="2")
    assert sha256_file(target / MODEL_FILE) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_extra_manifest_cannot_override_derived_fields(tiny_model, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="labels"):
        export_bundle(
            tiny_model.student, tiny_model.heads, tmp_path / "b", extra_manifest={"labels": {}}
        )


def test_head_and_tail_follow_each_rows_length_in_a_padded_batch(tiny_model) -> None:  # noqa: ANN001
    """Left or right padding, short and long rows: the graph's edge windows count real tokens."""
    import onnxruntime as ort

    texts = [
        "Tag this ticket",
        "Summarize " + "the long pasted document goes on and on " * 12 + "in one line.",
        "Translate the vendor contract into French, keep the numbers.",
        "x " * 2000,
    ]
    expected = tiny_model.heads.predict_proba(tiny_model.student.encode(texts))["intent"]
    encoded = [tiny_model.student.encoder.encode(t)[0] for t in texts]
    width = max(len(ids) for ids in encoded) + 5
    session = ort.InferenceSession(
        str(tiny_model.bundle_dir / MODEL_FILE), providers=["CPUExecutionProvider"]
    )
    for left in (False, True):
        ids = np.zeros((len(texts), width), np.int64)
        mask = np.zeros((len(texts), width), np.int64)
        for row, seq in enumerate(encoded):
            cols = slice(width - len(seq), width) if left else slice(0, len(seq))
            ids[row, cols] = seq
            mask[row, cols] = 1
        (got,) = session.run(["intent_probs"], {"input_ids": ids, "attention_mask": mask})
        assert np.abs(got - expected).max() <= 1e-5, f"left padding={left}"


def test_plain_mean_pooling_still_exports_with_parity(tiny_model, tmp_path: Path) -> None:  # noqa: ANN001
    """edge_tokens=0 is the layout of earlier bundles: its graph and manifest still agree."""
    from training.model.embed import Pooling, StaticStudent

    student = StaticStudent.load(tiny_model.student.directory, pooling=Pooling(edge_tokens=0))
    data = tiny_model.data
    X = student.encode(data["text"])
    heads = TierwiseHeads(max_iter=10, min_samples_leaf=5).fit(
        X, data["intent"], data["risk"], data["tier_ok"], data["propensity"]
    )
    bundle = export_bundle(student, heads, tmp_path / "plain", name="plain", version="1")
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    assert manifest["embedding"]["feature_dim"] == student.dim == X.shape[1]
    texts = _parity_texts(data["text"], n=200)
    expected = heads.predict_proba(student.encode(texts))["tier_ok"]
    got = np.array(
        [list(p.tier_ok_probs.values()) for p in Classifier.load(bundle).classify_batch(texts)]
    )
    assert np.abs(got - expected).max() <= 1e-5


def test_ordinal_tier_head_exports_as_one_model_run_per_tier(tiny_model, tmp_path: Path) -> None:  # noqa: ANN001
    """The stacked (request, tier) model in the graph: P(ok) as in sklearn, monotone, calibrated."""
    from training.model.calibration import calibrate_heads

    data = tiny_model.data
    X = tiny_model.student.encode(data["text"])
    heads = TierwiseHeads(max_iter=20, min_samples_leaf=5, tier_head="ordinal").fit(
        X[:300], data["intent"][:300], data["risk"][:300], data["tier_ok"][:300],
        data["propensity"][:300], first_tier=data["first_tier"][:300],
    )  # fmt: skip
    calibrate_heads(heads, X[300:], data["intent"][300:], data["risk"][300:],
                    data["tier_ok"][300:], threshold=0.0, n_bins=10)  # fmt: skip
    bundle = export_bundle(tiny_model.student, heads, tmp_path / "ord", name="ord", version="1")
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    assert manifest["heads"]["params"]["tier_head"] == "ordinal"
    assert "by construction" in manifest["heads"]["tier_monotone"]
    texts = _parity_texts(data["text"], n=300)
    expected = heads.predict_proba(tiny_model.student.encode(texts))
    clf = Classifier.load(bundle)
    batch = np.array([list(p.tier_ok_probs.values()) for p in clf.classify_batch(texts)])
    single = np.array([list(clf.classify(t).tier_ok_probs.values()) for t in texts[:40]])
    assert np.abs(batch - expected["tier_ok"]).max() <= 1e-5
    assert np.abs(single - expected["tier_ok"][:40]).max() <= 1e-5
    assert (np.diff(batch, axis=1) >= 0).all()
    assert batch[:, 0].std() > 0.01  # the tiers are not a constant
