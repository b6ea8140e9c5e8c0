"""Write the JSON Schema files of log schema v1 from the pydantic models.

People writing an exporter from their own router validate against these files, so they are
generated, never hand-edited: `python -m data.jsonschema` rewrites them, and a test fails when
the committed copies drift from classifier/logschema.py.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pydantic import BaseModel

from classifier.kpischema import KPI_SCHEMA_VERSION, KpiEvent
from classifier.logschema import SCHEMA_VERSION, CorrectionEvent, LogRecord

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent
SCHEMA_FILES: dict[str, type[BaseModel]] = {
    f"schema-v{SCHEMA_VERSION}.json": LogRecord,
    f"correction-v{SCHEMA_VERSION}.json": CorrectionEvent,
    f"kpi-event-v{KPI_SCHEMA_VERSION}.json": KpiEvent,
}


def render_schema(model: type[BaseModel]) -> str:
    """The schema text exactly as committed (stable key order, trailing newline)."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"tierwise/{model.__name__}/v{SCHEMA_VERSION}",
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write_schemas(out_dir: Path = DATA_DIR) -> list[Path]:
    """Write every schema file into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMA_FILES.items():
        path = out_dir / name
        path.write_text(render_schema(model), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="directory (default: data/)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in write_schemas(args.out):
        log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
