"""The Arrow schema of a schema-v1 log record, for Parquet output.

`ts` stays an RFC 3339 string (as in JSONL) so both formats round-trip to the same pydantic
record; `meta` is a struct of the keys the simulator writes (client, risk_mark).
"""

from __future__ import annotations

from typing import Any


def log_schema(pa: Any) -> Any:
    attempt = pa.struct(
        [
            ("tier", pa.string()),
            ("model", pa.string()),
            ("schema_ok", pa.bool_()),
            ("compliance_ok", pa.bool_()),
            ("latency_ms", pa.float64()),
            ("input_tokens", pa.int64()),
            ("output_tokens", pa.int64()),
            ("cost_usd", pa.float64()),
            ("error", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("schema_version", pa.string()),
            ("request_id", pa.string()),
            ("ts", pa.string()),
            ("feature", pa.string()),
            ("text", pa.large_string()),
            ("prompt_id", pa.string()),
            (
                "route",
                pa.struct(
                    [
                        ("policy", pa.string()),
                        ("variant", pa.string()),
                        ("tier", pa.string()),
                        ("reason", pa.string()),
                        ("model_version", pa.string()),
                        ("propensity", pa.float64()),
                    ]
                ),
            ),
            ("attempts", pa.list_(attempt)),
            (
                "escalations",
                pa.list_(
                    pa.struct([("from", pa.string()), ("to", pa.string()), ("cause", pa.string())])
                ),
            ),
            ("safety_flags", pa.list_(pa.string())),
            (
                "labels",
                pa.struct(
                    [("intent", pa.string()), ("risk", pa.string()), ("source", pa.string())]
                ),
            ),
            (
                "corrections",
                pa.list_(
                    pa.struct(
                        [("request_id", pa.string()), ("ts", pa.string()), ("kind", pa.string())]
                    )
                ),
            ),
            ("meta", pa.struct([("client", pa.string()), ("risk_mark", pa.string())])),
        ]
    )
