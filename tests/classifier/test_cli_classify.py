"""`tierwise classify`: JSONL in, each line's prediction and its route out, decided by the same
policy as the service; a bad line is reported with its number and nothing else is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.cli import main
from classifier.contracts import load_contracts, load_routing_table
from classifier.policies import LearnedPolicy
from classifier.runtime import Classifier


def test_classify_prints_prediction_and_route(
    tiny_bundle: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    lines = [
        {"id": 1, "text": "Summarize the incident postmortem.", "feature": "doc_summary"},
        {"id": 2, "text": "Email jane.doe@example.com the loan terms.", "feature": "support_chat"},
        {"id": 3, "text": "   "},
        {"id": 4, "text": "Tell me a joke about cats."},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    assert main(["classify", "--bundle", str(tiny_bundle), "--input", str(src)]) == 1
    out = [json.loads(x) for x in capsysbinary.readouterr().out.splitlines()]
    assert [o.get("id") for o in out] == [1, 2, None, 4, None]
    assert out[2] == {"line": 3, "error": "text must be a non-empty string"}
    assert out[4]["line"] == 5 and "error" in out[4]

    policy = LearnedPolicy(load_contracts(), load_routing_table())
    classifier = Classifier.load(tiny_bundle)
    for line, got in zip(lines, out[: len(lines)], strict=True):
        if "error" in got:
            continue
        p = classifier.classify(line["text"])
        expected = policy.decide(line["text"], line.get("feature"), p).to_dict()
        assert got["route"] == expected
        assert got["intent"] == p.intent and got["tier_ok_probs"] == pytest.approx(p.tier_ok_probs)
    assert out[1]["route"]["guards"] == ["pii.email"] and out[1]["route"]["tier"] != "nano"
