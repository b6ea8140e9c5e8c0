"""POST /feedback: attempt outcomes and correction events for requests the service routed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from serving.errors import ApiError, validation_error
from serving.inputs import read_json
from serving.schemas import ErrorResponse, FeedbackRequest
from serving.state import json_response, state_of

router = APIRouter(tags=["feedback"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "invalid JSON or invalid UTF-8"},
    404: {"model": ErrorResponse, "description": "feedback disabled: TIERWISE_LOG_DIR not set"},
    409: {"model": ErrorResponse, "description": "an outcome for this request_id was reported"},
    413: {"model": ErrorResponse, "description": "more entries than TIERWISE_MAX_BATCH_SIZE"},
    422: {"model": ErrorResponse, "description": "not schema v1 (field errors listed)"},
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
    recorder = state.service.feedback
    if recorder is None:
        raise ApiError(
            404,
            "feedback_disabled",
            "feedback is not recorded because no log directory is set; set TIERWISE_LOG_DIR",
        )
    data = await request.body()
    raw = read_json(data)
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
    try:
        # Strict, as ingestion is: `"schema_ok": 1` is refused here, not quarantined later.
        body = FeedbackRequest.model_validate_json(data, strict=True)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    return json_response(recorder.record(body), status_code=202)
