"""Loading refuses a bundle that does not match its manifest, and says what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from classifier.bundle import MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE, sha256_file
from classifier.errors import BundleError
from classifier.runtime import Classifier

pytestmark = pytest.mark.slow


@pytest.fixture
def bundle(tiny_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    return copy


def _edit_manifest(bundle: Path, **changes: object) -> None:
    path = bundle / MANIFEST_FILE
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_intact_copy_loads(bundle: Path) -> None:
    assert Classifier.load(bundle).classify("Tag this ticket").intent


def test_changed_model_file_is_refused(bundle: Path) -> None:
    with open(bundle / MODEL_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="sha256.*tierwise export"):
        Classifier.load(bundle)


def test_missing_tokenizer_is_refused(bundle: Path) -> None:
    (bundle / TOKENIZER_FILE).unlink()
    with pytest.raises(BundleError, match="missing tokenizer.json"):
        Classifier.load(bundle)


def test_other_format_version_is_refused(bundle: Path) -> None:
    _edit_manifest(bundle, format_version=99)
    with pytest.raises(BundleError, match="format 99.*formats 1 to 2.*tierwise export"):
        Classifier.load(bundle)


def test_other_taxonomy_is_refused(bundle: Path) -> None:
    _edit_manifest(bundle, taxonomy_version="0")
    with pytest.raises(BundleError, match="taxonomy_version 0 but its taxonomy block is version 1"):
        Classifier.load(bundle)
    _edit_manifest(bundle, taxonomy=None)  # a bundle from before the block: only taxonomy 1
    with pytest.raises(BundleError, match="speaks taxonomy 0 but carries no `taxonomy` block"):
        Classifier.load(bundle)


def test_a_bundle_without_the_taxonomy_block_speaks_the_default(bundle: Path) -> None:
    from classifier.taxonomy import DEFAULT_TAXONOMY

    assert json.loads((bundle / MANIFEST_FILE).read_text())["taxonomy"]["tiers"] == [
        "nano", "mini", "full"
    ]  # fmt: skip
    _edit_manifest(bundle, taxonomy=None)
    assert Classifier.load(bundle).taxonomy == DEFAULT_TAXONOMY


def test_a_taxonomy_block_not_matching_the_labels_is_refused(bundle: Path) -> None:
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    _edit_manifest(bundle, taxonomy={**data["taxonomy"], "tiers": ["nano", "mini", "max"]})
    with pytest.raises(BundleError, match="lists tier labels.*expected \\['nano', 'mini', 'max'"):
        Classifier.load(bundle)
    _edit_manifest(bundle, taxonomy={**data["taxonomy"], "tiers": ["nano", "nano", "full"]})
    with pytest.raises(BundleError, match="bad taxonomy.*label 'nano' appears twice"):
        Classifier.load(bundle)


def test_label_list_not_matching_the_taxonomy_is_refused(bundle: Path) -> None:
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    labels = dict(data["labels"], risk=["low", "high"])
    _edit_manifest(bundle, labels=labels)
    with pytest.raises(BundleError, match="risk labels"):
        Classifier.load(bundle)


def test_manifest_garbage_is_refused(bundle: Path) -> None:
    (bundle / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="not a valid manifest"):
        Classifier.load(bundle)


def test_graph_with_wrong_output_width_is_refused(bundle: Path) -> None:
    """A graph whose intent output has 6 columns cannot serve a 7-intent manifest."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, outputs, inits = [], [], []
    for name, width in (("intent_probs", 6), ("risk_probs", 3), ("tier_ok_probs", 3)):
        inits.append(
            numpy_helper.from_array(np.full((1, width), 1 / width, np.float32), f"{name}_c")
        )
        nodes.append(helper.make_node("Identity", [f"{name}_c"], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, width]))
    graph = helper.make_graph(
        nodes,
        "wrong",
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, ["b", "l"])
            for n in ("input_ids", "attention_mask")
        ],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(bundle / MODEL_FILE))
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    data["files"][MODEL_FILE] = sha256_file(bundle / MODEL_FILE)
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="intent_probs shape.*7 intent labels"):
        Classifier.load(bundle)


def test_manifest_describing_other_features_is_refused(bundle: Path) -> None:
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    embedding = dict(data["embedding"])
    embedding["features"] = embedding["features"][:1]  # claims a plain mean
    embedding["feature_dim"] = embedding["dim"]
    _edit_manifest(bundle, embedding=embedding)
    with pytest.raises(BundleError, match="pools features.*manifest describes.*tierwise export"):
        Classifier.load(bundle)


def test_graph_without_a_feature_layout_is_refused(bundle: Path) -> None:
    """A graph stripped of its layout metadata cannot vouch for the manifest's features."""
    import onnx

    model = onnx.load(str(bundle / MODEL_FILE))
    del model.metadata_props[:]
    onnx.save(model, str(bundle / MODEL_FILE))
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    data["files"][MODEL_FILE] = sha256_file(bundle / MODEL_FILE)
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="pools features None"):
        Classifier.load(bundle)


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a tierwise bundle"):
        Classifier.load(tmp_path)


def _tuning() -> dict:
    return {"prices": [0.0, 0.01, 1.0], "mode": "exact", "rows": 400,
            "features": {"*": {"cost_usd": [0.001, 0.002, 0.0035],
                               "failure_rate": [0.2, 0.05, 0.016], "rows": 400}}}  # fmt: skip


def test_format_1_bundles_still_load_without_tuning(bundle: Path) -> None:
    _edit_manifest(bundle, format_version=1)
    clf = Classifier.load(bundle)
    assert clf.tier_tuning is None and clf.classify("Tag this ticket").tier_tuning is None


def test_tuning_reaches_every_prediction_and_the_bundle_hash(bundle: Path) -> None:
    before = Classifier.load(bundle).bundle_hash
    _edit_manifest(bundle, tier_tuning=_tuning())
    clf = Classifier.load(bundle)
    assert clf.tier_tuning is not None and clf.tier_tuning.failure_price("x", 0.02) == 0.01
    assert clf.classify("Tag this ticket").tier_tuning is clf.tier_tuning
    assert all(p.tier_tuning is clf.tier_tuning for p in clf.classify_batch(["a b", "c d"]))
    assert clf.bundle_hash != before  # tuning decides tiers, so it is part of the identity


def test_malformed_tuning_is_refused(bundle: Path) -> None:
    bad = _tuning()
    bad["features"]["*"]["failure_rate"] = [0.2]
    _edit_manifest(bundle, tier_tuning=bad)
    with pytest.raises(BundleError, match="one value per price.*tierwise export"):
        Classifier.load(bundle)
