"""The copyable LiteLLM configuration in docs/integrations.md runs as written.

The SDK block is run in a fresh process with three substitutions only: the tiny bundle for
`models/default`, a temporary directory for `logs/gateway`, and a mocked answer (no network) in
each model's `litellm_params`. Its training log must then pass ingestion.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from training.ingest.load import load_training_set

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrations.md"


def _sdk_block() -> str:
    section = DOC.read_text().split("### SDK configuration", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/integrations.md lost its SDK configuration block"
    return match.group(1)


def test_the_documented_sdk_configuration_runs(tiny_bundle: Path, tmp_path: Path) -> None:
    code = _sdk_block()
    assert code.count('{"model": "openai/') == 3 and '"models/default"' in code
    code = code.replace('"models/default"', repr(str(tiny_bundle)))
    code = code.replace('"logs/gateway"', repr(str(tmp_path / "gateway")))
    code = code.replace('{"model": "openai/', '{"mock_response": "mocked", "model": "openai/')
    script = tmp_path / "autorouter.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "OPENAI_API_KEY": "sk-not-used"}  # fmt: skip
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    model, answer = out.stdout.strip().splitlines()[-1].split(" ", 1)
    assert answer == "mocked" and model.startswith("gpt-4.1")
    logs = tmp_path / "gateway" / "logs.jsonl"
    record = json.loads(logs.read_text())
    assert record["request_id"] == "req-42" and record["feature"] == "doc_summary"
    assert record["meta"]["checks"] == "reported by the application"
    assert record["route"]["policy"] == "learned"
    _, report = load_training_set([logs])
    assert report.valid == 1 and report.quarantined == 0
