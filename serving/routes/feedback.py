"""POST /feedback: attempt outcomes and correction events for requests the service routed.

Checked in this order, each refusal writing nothing: feedback enabled (404), a caller's bearer
token (401, 403), the body (400, 413), the caller's rate (429), the schema (422), the caller's
role for labels (403), a repeat with other content (409), the logs able to keep it (503).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from serving.auth import authenticate
from serving.errors import ApiError, validation_error
from serving.inputs import read_json
from serving.schemas import ErrorResponse, FeedbackRequest
from serving.state import json_response, state_of

router = APIRouter(tags=["feedback"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "invalid JSON or invalid UTF-8"},
    401: {"model": ErrorResponse, "description": "no bearer token sent"},
    403: {"model": ErrorResponse, "description": "unknown token, or labels from a `client`"},
    404: {"model": ErrorResponse, "description": "disabled: no TIERWISE_LOG_DIR or no callers"},
    409: {"model": ErrorResponse, "description": "this caller reported another outcome for it"},
    413: {"model": ErrorResponse, "description": "more entries than TIERWISE_MAX_BATCH_SIZE"},
    422: {"model": ErrorResponse, "description": "not schema v1 (field errors listed)"},
    429: {"model": ErrorResponse, "description": "over TIERWISE_FEEDBACK_RATE_LIMIT"},
    503: {"model": ErrorResponse, "description": "a log cannot be written: nothing recorded"},
}


@router.post(
    "/feedback",
    status_code=202,
    summary="Report attempt outcomes and corrections; they feed the next `tierwise train`",
    responses={202: {"description": "queued for the outcome and correction logs"}, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/FeedbackRequest"}}
            },
        }
    },
)
async def feedback(request: Request) -> Response:
    state = state_of(request)
    try:
        return await _feedback(request)
    except ApiError as exc:
        state.metrics.feedback_refused.labels(exc.code).inc()
        raise


async def _feedback(request: Request) -> Response:
    state = state_of(request)
    recorder = state.service.feedback
    if recorder is None:
        raise ApiError(
            404,
            "feedback_disabled",
            "feedback is not recorded because no log directory is set; set TIERWISE_LOG_DIR",
        )
    if not recorder.callers:
        raise ApiError(
            404,
            "feedback_disabled",
            "feedback is disabled because no caller may send it; set TIERWISE_FEEDBACK_CALLERS, "
            'e.g. {"router": {"token": "...", "role": "client"}}',
        )
    tokens = {name: caller.token for name, caller in recorder.callers.items()}
    caller = authenticate(request, tokens, what="feedback", env="TIERWISE_FEEDBACK_CALLERS")
    data = await request.body()
    raw = read_json(data)
    entries = 0
    if isinstance(raw, dict):
        entries = sum(len(v) for v in (raw.get("outcomes"), raw.get("corrections"))
                      if isinstance(v, list))  # fmt: skip
        limit = state.settings.max_batch_size
        if entries > limit:
            raise ApiError(
                413,
                "batch_too_large",
                f"{entries} feedback entries, over the limit of {limit} "
                "(TIERWISE_MAX_BATCH_SIZE); split them over several calls",
            )
    recorder.check_rate(caller, entries)
    try:
        # Strict, as ingestion is: `"schema_ok": 1` is refused here, not quarantined later.
        body = FeedbackRequest.model_validate_json(
            data, strict=True, context={"taxonomy": recorder.taxonomy}
        )  # tiers and labels are the served taxonomy's
    except ValidationError as exc:
        raise validation_error(exc) from exc
    return json_response(recorder.record(body, caller), status_code=202)
