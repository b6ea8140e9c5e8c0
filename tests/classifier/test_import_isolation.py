"""Importing and using `classifier` loads no training stack (DESIGN section 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FORBIDDEN = (
    "torch",
    "sklearn",
    "mlflow",
    "sentence_transformers",
    "transformers",
    "skl2onnx",
    "onnx",
    "model2vec",
    "training",
    "serving",
    "integrations",  # gateway integrations are optional extras, never on the hot path
    "litellm",
    "httpx",
)

_SCRIPT = """
import json, sys
import classifier
after_import = sorted(m for m in ("onnxruntime", "tokenizers") if m in sys.modules)
clf = classifier.Classifier.load(sys.argv[1])
p = clf.classify("Summarize the meeting notes for the team")
batch = clf.classify_batch(["Fix this SQL query", "Is this review positive?"])
top = {m.split(".")[0] for m in sys.modules}
print(json.dumps({"after_import": after_import, "modules": sorted(top), "intent": p.intent}))
"""


@pytest.mark.slow
def test_classify_loads_no_training_stack(tiny_bundle: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tiny_bundle)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    loaded = set(report["modules"])
    assert "onnxruntime" in loaded  # the check itself can see modules
    assert report["after_import"] == []  # `import classifier` stays light
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)
