"""GET /metrics in the Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from serving.state import state_of

router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    registry = state_of(request).metrics
    return Response(registry.render(), media_type=registry.content_type)
