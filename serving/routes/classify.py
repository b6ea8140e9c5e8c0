"""POST /classify and POST /classify/batch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from serving.answer import render
from serving.inputs import parse_batch, parse_classify
from serving.schemas import BatchResponse, ClassifyResponse, ErrorResponse
from serving.state import json_response, state_of

router = APIRouter(tags=["classify"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "invalid JSON or invalid UTF-8"},
    413: {"model": ErrorResponse, "description": "body or batch over the configured limit"},
    422: {"model": ErrorResponse, "description": "wrong types, empty text, unknown fields"},
    503: {
        "model": ErrorResponse,
        "description": "no model loaded yet, or the server is busy (`overloaded`, `over_budget`)",
    },
}


def _body(schema: str) -> dict[str, Any]:
    # The body is parsed by serving.inputs (own status codes and messages), so FastAPI is told
    # its schema here only for the docs; app.py adds the referenced component schemas.
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


@router.post(
    "/classify",
    summary="Classify one request: intent, risk, smallest viable tier, route decision",
    responses={200: {"model": ClassifyResponse}, **_ERRORS},
    openapi_extra=_body("ClassifyRequest"),
)
async def classify(request: Request) -> Response:
    # Short texts inline (well under a millisecond, less than a hop to a thread; docs/serving.md),
    # long ones in the worker threads so that they never hold the event loop (serving/offload.py).
    state = state_of(request)
    settings = state.settings
    item = parse_classify(
        await request.body(),
        max_context_chars=settings.max_context_chars,
        max_messages=settings.max_messages,
    )
    if state.offloader.inline(len(item.text)):
        return json_response(render(state.service.classify(item)))
    return json_response(render(await state.offloader.run(state.service.classify, item)))


@router.post(
    "/classify/batch",
    summary="Classify up to TIERWISE_MAX_BATCH_SIZE requests in one call, answers in order",
    responses={200: {"model": BatchResponse}, **_ERRORS},
    openapi_extra=_body("BatchRequest"),
)
async def classify_batch(request: Request) -> Response:
    state = state_of(request)
    settings = state.settings
    items = parse_batch(
        await request.body(),
        max_batch_size=settings.max_batch_size,
        max_context_chars=settings.max_context_chars,
        max_messages=settings.max_messages,
    )
    if state.offloader.inline(sum(len(item.text) for item in items)):
        replies = state.service.classify_many(items)
    else:
        replies = await state.offloader.run(state.service.classify_many, items)
    return json_response({"items": [render(reply) for reply in replies]})
