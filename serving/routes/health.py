"""Open Inference Protocol v2 health and metadata, at exactly the paths KServe-style probes use."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request
from starlette.responses import Response

from serving.errors import ApiError
from serving.model_store import LoadedModel
from serving.state import json_response, state_of

router = APIRouter(prefix="/v2", tags=["open inference protocol v2"])


def _server_version() -> str:
    try:
        return version("tierwise")
    except PackageNotFoundError:
        return "0+unknown"


@router.get("", summary="Server metadata")
async def server_metadata() -> Response:
    return json_response({"name": "tierwise", "version": _server_version(), "extensions": []})


@router.get("/health/live", summary="Liveness: the process answers")
async def live() -> Response:
    return json_response({"live": True})


@router.get("/health/ready", summary="Readiness: a model is loaded (503 otherwise)")
async def ready(request: Request) -> Response:
    store = state_of(request).store
    if store.current is None:
        reason = store.last_error or "no bundle configured"
        return json_response({"ready": False, "reason": reason}, status_code=503)
    return json_response({"ready": True})


def _model(request: Request, name: str) -> LoadedModel:
    model = state_of(request).store.current
    if model is None:
        raise ApiError(503, "not_ready", "no model is loaded yet", headers={"Retry-After": "5"})
    if name != model.name:
        raise ApiError(
            404, "unknown_model", f"this server serves model {model.name!r}, not {name!r}"
        )
    return model


@router.get("/models/{name}", summary="Model metadata: versions, platform, inputs and outputs")
async def model_metadata(request: Request, name: str) -> Response:
    model = _model(request, name)
    outputs = [
        {"name": f"{head}_probs", "datatype": "FP32", "shape": [-1, len(labels)], "labels": labels}
        for head, labels in (
            ("intent", model.labels["intent"]),
            ("risk", model.labels["risk"]),
            ("tier_ok", model.labels["tier"]),
        )
    ]
    return json_response(
        {
            "name": model.name,
            "versions": [model.version],
            "platform": "onnx",
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
            "outputs": outputs,
            "parameters": {
                "bundle_hash": model.bundle_hash,
                "taxonomy_version": model.taxonomy_version,
                "source": model.source,
                "loaded_at": model.loaded_at,
            },
        }
    )


@router.get("/models/{name}/ready", summary="Model readiness")
async def model_ready(request: Request, name: str) -> Response:
    model = _model(request, name)
    return json_response({"name": model.name, "ready": True})
