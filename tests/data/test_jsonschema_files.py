"""The committed JSON Schema files are exactly what the pydantic models generate."""

from __future__ import annotations

import json

import pytest

from data.jsonschema import DATA_DIR, SCHEMA_FILES, render_schema, write_schemas


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_committed_schema_is_up_to_date(name: str) -> None:
    committed = (DATA_DIR / name).read_text(encoding="utf-8")
    assert committed == render_schema(SCHEMA_FILES[name]), (
        f"data/{name} is stale; run `python -m data.jsonschema` and commit the result"
    )


def test_schema_names_the_wire_fields(tmp_path) -> None:
    paths = write_schemas(tmp_path)
    log_schema = json.loads(paths[0].read_text(encoding="utf-8"))
    assert {"request_id", "ts", "feature", "text", "route"} <= set(log_schema["required"])
    escalation = log_schema["$defs"]["Escalation"]["properties"]
    assert "from" in escalation and "from_tier" not in escalation
