"""The gateway log keeps the request's prompt version (`prompt_id`), the key KPIs and experiments
join on: from the application's metadata, else from LiteLLM's own prompt management, and never
a shape the service itself would refuse."""

from __future__ import annotations

from typing import Any

import pytest

from classifier.logschema import LogRecord
from integrations.litellm.records import Call, OpenRequest, build_record, prompt_of


def _request(prompt_id: str | None) -> OpenRequest:
    call = Call(start=1_764_000_000.0, tier="nano", model="openai/acme-nano", group="acme-nano",
                latency_ms=120.0, input_tokens=30, output_tokens=12, cost_usd=0.0001,
                error=None, error_kind=None, call_id="c1")  # fmt: skip
    return OpenRequest(
        request_id="r1",
        feature="support_chat",
        messages=[{"role": "user", "content": "Where is my parcel?"}],
        route={
            "policy": "learned",
            "variant": None,
            "tier": "nano",
            "reason": "ok",
            "model_version": "v1",
            "propensity": 1.0,
        },  # fmt: skip
        note=None,
        trace_id="t1",
        calls=[call],
        prompt_id=prompt_id,
    )


@pytest.mark.parametrize(
    ("metadata", "kwargs", "expected"),
    [
        ({"prompt_id": "support_reply@v3"}, {"prompt_id": "other", "prompt_version": 9},
         "support_reply@v3"),  # the application's own key wins
        ({"requester_metadata": {"prompt_id": "support_reply@v3"}}, {}, "support_reply@v3"),
        ({}, {"prompt_id": "support_reply", "prompt_version": 4}, "support_reply@4"),
        ({}, {"prompt_id": "support_reply@v5", "prompt_version": 4}, "support_reply@v5"),
        ({}, {"prompt_id": "support_reply"}, "support_reply"),  # refused later, with a note
        ({}, {}, None),
    ],
)  # fmt: skip
def test_prompt_of_reads_the_application_then_litellm(
    metadata: dict[str, Any], kwargs: dict[str, Any], expected: str | None
) -> None:
    assert prompt_of(metadata, kwargs, "prompt_id") == expected


def test_the_record_carries_a_valid_prompt_id_and_refuses_another_shape() -> None:
    record = build_record(_request("support_reply@v3"), 8_000)
    assert record is not None and record["prompt_id"] == "support_reply@v3"
    assert LogRecord.model_validate(record).prompt_id == "support_reply@v3"
    refused = build_record(_request("support reply v3"), 8_000)
    assert refused is not None and refused["prompt_id"] is None
    assert refused["meta"]["prompt_id_refused"] == "'support reply v3' is not `name@version`"
    LogRecord.model_validate(refused)
