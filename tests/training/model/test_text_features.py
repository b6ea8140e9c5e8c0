"""Token-count text features: one definition, the same numbers in numpy and in the ONNX graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from classifier.bundle import MANIFEST_FILE, MODEL_FILE, BundleError, read_manifest
from classifier.runtime import Classifier
from training.model import text_features as tf
from training.model.export import export_bundle
from training.model.heads import TierwiseHeads
from training.model.onnx_graph import WITH_TEXT

pytestmark = pytest.mark.slow

TEXTS = [
    "Step 1: compute 36 / 4 = 9, then list 3 items? Must it be exactly 50 words?",
    "def f(x):\n    return {x: 1};\n```\nimport os\n```",
    "- first\n- second\n* third: you must not exceed 2 pages; be brief.",
    "Write a detailed essay on GDPR compliance, at least 2000 words, no more than 5 pages.",
    "hi",
    "",
    "naïve café 日本語で " + "word " * 400,  # past the token cap: counted inside the window only
]


@pytest.fixture(scope="module")
def featured(tiny_model, tmp_path_factory):  # noqa: ANN001, ANN201
    """The tiny student with text features, heads whose tier head reads them, their bundle."""
    student = tiny_model.student.with_text_features(True)
    data = tiny_model.data
    X = student.encode(data["text"])
    heads = TierwiseHeads(
        max_iter=20, min_samples_leaf=5, tier_head="ordinal", text_features=["tier"]
    ).fit(
        X, data["intent"], data["risk"], data["tier_ok"], data["propensity"],
        first_tier=data["first_tier"],
    )  # fmt: skip
    bundle = export_bundle(student, heads, tmp_path_factory.mktemp("tf") / "b", version="1")
    return student, heads, bundle


def test_the_flag_table_counts_what_the_definition_says(tiny_model) -> None:  # noqa: ANN001
    student = tiny_model.student.with_text_features(True)
    row = student.encode(["Must I? Must you? Then compute 12 + 30."])[0, student.pooled_dim :]
    got = dict(zip(tf.NAMES, row.tolist(), strict=True))
    assert got["constraints"] == 2 and got["question_marks"] == 2 and got["steps"] == 1
    assert got["numbers"] == 2 and got["arithmetic"] == 2  # 'compute' and '+'
    assert got["tokens"] == 12 and got["code_markers"] == 0
    assert student.encode([""])[0, student.pooled_dim :].tolist() == [0.0] * tf.N_FEATURES


def test_cue_words_match_whole_words_and_count_the_head_window_apart(tiny_model) -> None:  # noqa: ANN001
    """'summarize' is the pieces sum ##mar: matched as a word, while 'sum' alone, 'summer' and
    a cat are not; a cue past the first CUE_HEAD_TOKENS tokens counts in the whole window only."""
    student = tiny_model.student.with_text_features(True)
    filler = " the" * (tf.CUE_HEAD_TOKENS + 4)
    text = "Summarize the sum of a summer cat, then categorize it." + filler + " Translate it."
    row = student.encode([text])[0, student.pooled_dim :]
    got = dict(zip(tf.NAMES, row.tolist(), strict=True))
    assert got["cue_head_summarize"] == got["cue_summarize"] == 1
    assert got["cue_head_classify"] == got["cue_classify"] == 1  # categorize, not cat
    assert got["cue_head_transform"] == 0 and got["cue_transform"] == 1  # past the head
    assert got["cue_plan"] == got["cue_generate_code"] == got["cue_review_policy"] == 0
    alone = student.encode(["sum summer cat"])[0, student.pooled_dim :]
    assert alone[len(tf.FLAGS) : -1].tolist() == [0.0] * (2 * len(tf.CUES))


def test_graph_features_equal_the_numpy_training_features_bit_for_bit(featured) -> None:  # noqa: ANN001
    """The shipped graph's [embedding | counts | tokens], read from an extra output, equals
    StaticStudent.encode, in a padded batch and one text at a time."""
    import onnxruntime as ort

    student, _, bundle = featured
    model = onnx.load(str(bundle / MODEL_FILE))
    model.graph.output.append(
        helper.make_tensor_value_info(WITH_TEXT, TensorProto.FLOAT, ["batch", None])
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ids = [list(student.encoder.encode(t)[0]) for t in TEXTS]
    width = max(len(i) for i in ids)
    batch_ids = np.zeros((len(ids), width), np.int64)
    mask = np.zeros_like(batch_ids)
    for row, seq in enumerate(ids):
        batch_ids[row, width - len(seq) :] = seq  # left padding: the mask, not the position
        mask[row, width - len(seq) :] = 1
    expected = student.encode(TEXTS)
    (got,) = session.run([WITH_TEXT], {"input_ids": batch_ids, "attention_mask": mask})
    assert got.shape == expected.shape == (len(TEXTS), student.pooled_dim + tf.N_FEATURES)
    assert np.array_equal(got, expected)
    for row, seq in enumerate(ids[:4]):
        one = np.array([seq], np.int64)
        (single,) = session.run([WITH_TEXT], {"input_ids": one, "attention_mask": one * 0 + 1})
        assert np.array_equal(single[0], expected[row])
    assert expected[:, -1].tolist() == [len(i) for i in ids]
    assert expected[:4, student.pooled_dim : -1].sum() > 20  # the texts do raise flags


def test_a_bundle_with_text_features_loads_and_classifies_as_sklearn(featured, tiny_model) -> None:  # noqa: ANN001
    student, heads, bundle = featured
    assert heads.intent_.model.n_features_in_ == student.pooled_dim  # intent: embedding only
    assert heads.tier_ordinal_.model.n_features_in_ == student.feature_dim + 1  # + the tier
    words = [t for t in TEXTS if t]  # the runtime refuses an empty text
    texts = tiny_model.data["text"][:200] + words
    expected = heads.predict_proba(student.encode(texts))
    clf = Classifier.load(bundle)
    batch = clf.classify_batch(texts)
    for head, field in (("intent", "intent_probs"), ("risk", "risk_probs"),
                        ("tier_ok", "tier_ok_probs")):  # fmt: skip
        got = np.array([list(getattr(p, field).values()) for p in batch])
        assert np.abs(got - expected[head]).max() <= 1e-5, head
    single = np.array([list(clf.classify(t).tier_ok_probs.values()) for t in words])
    assert np.abs(single - expected["tier_ok"][-len(words) :]).max() <= 1e-5
    manifest = read_manifest(bundle)
    entry = manifest.embedding["features"][-1]
    assert entry["name"] == "text_features" and entry["features"] == list(tf.NAMES)
    assert manifest.embedding["feature_dim"] == student.pooled_dim + tf.N_FEATURES
    assert manifest.heads["params"]["text_features"] == ["tier"]


def test_a_manifest_that_hides_the_text_features_is_refused(featured, tmp_path: Path) -> None:  # noqa: ANN001
    import shutil

    _, _, bundle = featured
    copy = Path(shutil.copytree(bundle, tmp_path / "edited"))
    data = json.loads((copy / MANIFEST_FILE).read_text())
    data["embedding"]["features"] = data["embedding"]["features"][:-1]
    (copy / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="pools features"):
        Classifier.load(copy)


def test_without_text_features_the_graph_has_no_table_and_old_bundles_load(tiny_model) -> None:  # noqa: ANN001
    """The switch off (the tiny fixture: default heads, plain student): no table, same layout
    as before the features existed, and the bundle loads."""
    model = onnx.load(str(tiny_model.bundle_dir / MODEL_FILE))
    assert "tf_table" not in {init.name for init in model.graph.initializer}
    manifest = read_manifest(tiny_model.bundle_dir)
    assert [f["name"] for f in manifest.embedding["features"]] == [
        "mean", "head_mean", "tail_mean",
    ]  # fmt: skip
    assert Classifier.load(tiny_model.bundle_dir).classify("hello").tier_ok_probs


def test_featured_graph_carries_the_table(featured) -> None:  # noqa: ANN001
    student, _, bundle = featured
    model = onnx.load(str(bundle / MODEL_FILE))
    table = next(i for i in model.graph.initializer if i.name == "tf_table")
    assert list(table.dims) == [len(student.vectors), len(tf.FLAGS)]


def test_config_switch_turns_the_features_on_and_off(student_dir: Path) -> None:
    from training.config import ConfigError, load_config
    from training.model.embed import StaticStudent

    default = load_config()
    assert default.heads.text_features == ["intent", "tier"]  # docs/model.md, "Intent cues"
    off = load_config(overrides=["heads.text_features=[]"])
    assert TierwiseHeads(**off.hgb_params()).n_text_features == 0
    on = load_config(overrides=["heads.text_features=[tier]"])
    assert TierwiseHeads(**on.hgb_params()).n_text_features == tf.N_FEATURES
    plain = StaticStudent.load(student_dir, text_features=bool(off.heads.text_features))
    featured = StaticStudent.load(student_dir, text_features=bool(on.heads.text_features))
    assert featured.feature_dim == plain.feature_dim + tf.N_FEATURES
    assert plain.version != featured.version  # cache rows of the two never mix
    with pytest.raises(ConfigError, match="text_features"):
        load_config(overrides=["heads.text_features=[tiers]"])


def test_heads_refuse_x_without_the_feature_columns() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    tier_ok = np.ones((50, 3), np.int64)
    with pytest.raises(ValueError, match="text-feature columns"):
        TierwiseHeads(text_features=["tier"]).fit(
            X, np.zeros(50, np.int64), np.zeros(50, np.int64), tier_ok
        )
