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


@router.get("/health/ready", summary="Readiness: a model is loaded (503 otherwise), with detail")
async def ready(request: Request) -> Response:
    """503 only without a model; what is degraded (a bundle that will not load, a log that
    cannot be written) is listed in `degraded` with a 200, because restarting the pod would not
    fix either and would lose the model that still serves."""
    state = state_of(request)
    store = state.store
    reload = state.reloader.status() if state.reloader is not None else None
    logs = {stream: w.status() for stream, w in state.service.log_writers().items()}
    degraded = [f"log {stream}: {s['error']}" for stream, s in logs.items() if not s["ok"]]
    if reload is not None and reload["not_loaded"] is not None:
        pending = reload["not_loaded"]
        degraded.append(f"model {pending['target']} cannot be loaded: {pending['error']}")
    if reload is not None and reload["source_error"]:
        degraded.append(f"model source unreachable: {reload['source_error']}")
    if state.board is not None and state.board.sync_error is not None:
        degraded.append(state.board.sync_error)
    if state.service.floors.share_error is not None:  # an unusable log folder, as above
        degraded.append(state.service.floors.share_error)
    detail = {"degraded": degraded, "reload": reload, "logs": logs}
    model = store.current
    if model is None:
        reason = store.last_error or "no bundle configured"
        return json_response({"ready": False, "reason": reason, **detail}, status_code=503)
    served = {"name": model.name, "version": model.version, "bundle_hash": model.bundle_hash}
    return json_response({"ready": True, "model": served, **detail})


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
