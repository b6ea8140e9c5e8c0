"""The example record in docs/logs-and-labels.md is valid schema v1 and labels as the page says."""

from __future__ import annotations

import re
from pathlib import Path

from classifier.logschema import LogRecord
from classifier.taxonomy import INTENTS, RISKS
from training.ingest.labels import UNKNOWN, derive_labels

DOC = Path(__file__).resolve().parents[3] / "docs" / "logs-and-labels.md"


def example_record() -> LogRecord:
    section = DOC.read_text(encoding="utf-8").split("### One full example record", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block, "the example record's json block is missing from the doc"
    return LogRecord.model_validate_json(block.group(1), strict=True)


def test_documented_example_validates_and_labels_as_documented():
    record = example_record()
    labels = derive_labels(record)
    assert labels.intent == INTENTS.index("chat") and labels.risk == RISKS.index("medium")
    assert labels.tier_ok == (0, 0, UNKNOWN)
    without_correction = derive_labels(record.model_copy(update={"corrections": []}))
    assert without_correction.tier_ok == (0, 1, 1)
