"""Operator switches at run time: GET, PUT (replace) and PATCH (merge) /admin/switches.

Authenticated with `Authorization: Bearer <TIERWISE_ADMIN_TOKEN>`: no token configured means the
endpoints are disabled (404 with the reason), a missing header 401, a wrong token 403. Every
change and every refused attempt is written to the `tierwise.audit` logger with who, from where,
and the state before and after. A change applies to the next request (the decision cache is keyed
by the switch version) and shows in `/metrics` (`tierwise_switch_*`).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from classifier.errors import InputError
from serving.errors import ApiError, validation_error
from serving.inputs import read_json
from serving.schemas import ErrorResponse, SwitchesPatch, SwitchesPut
from serving.state import ServingState, json_response, state_of

router = APIRouter(prefix="/admin", tags=["admin"])
audit = logging.getLogger("tierwise.audit")

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no bearer token sent"},
    403: {"model": ErrorResponse, "description": "wrong token"},
    404: {"model": ErrorResponse, "description": "admin disabled: TIERWISE_ADMIN_TOKEN not set"},
    422: {"model": ErrorResponse, "description": "invalid switch values"},
}


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _authorise(request: Request) -> ServingState:
    state = state_of(request)
    token = state.settings.admin_token
    if token is None or not token.get_secret_value():
        raise ApiError(
            404,
            "admin_disabled",
            "admin endpoints are disabled; set TIERWISE_ADMIN_TOKEN to enable them",
        )
    header = request.headers.get("authorization", "")
    scheme, _, sent = header.partition(" ")
    if scheme.lower() != "bearer" or not sent.strip():
        audit.warning("admin %s %s refused: no bearer token (client %s)",
                      request.method, request.url.path, _client(request))  # fmt: skip
        raise ApiError(
            401,
            "unauthorized",
            "send `Authorization: Bearer <TIERWISE_ADMIN_TOKEN>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(sent.strip().encode(), token.get_secret_value().encode()):
        audit.warning("admin %s %s refused: wrong token (client %s)",
                      request.method, request.url.path, _client(request))  # fmt: skip
        raise ApiError(403, "forbidden", "the bearer token is not the configured admin token")
    if state.decider.switches is None:
        raise ApiError(503, "no_switches", "classifier.switches is not installed")
    return state


M = TypeVar("M", bound=BaseModel)


def _parse(body: bytes, model: type[M]) -> M:
    try:
        return model.model_validate(read_json(body))
    except ValidationError as exc:
        raise validation_error(exc) from exc


def _answer(state: ServingState) -> Response:
    return json_response(
        {
            "switches": state.decider.switches.snapshot(),
            "experiment": state.service.experiment.describe(),
        }  # fmt: skip
    )


@router.get("/switches", summary="The operator switches in force", responses=_ERRORS)
async def get_switches(request: Request) -> Response:
    return _answer(_authorise(request))


@router.put(
    "/switches",
    summary="Replace every switch (anything not listed is switched off)",
    responses=_ERRORS,
)
async def put_switches(request: Request) -> Response:
    state = _authorise(request)
    body = _parse(await request.body(), SwitchesPut)
    switches = state.decider.switches
    before = switches.state
    kill = {f: f in body.killed for f in {*before.killed, *body.killed}}
    caps: dict[str, Any] = {f: body.caps.get(f) for f in {*before.caps, *body.caps}}
    return _apply(request, state, body.by, force_mini=body.force_mini, kill=kill, caps=caps)


@router.patch("/switches", summary="Change only the switches given", responses=_ERRORS)
async def patch_switches(request: Request) -> Response:
    state = _authorise(request)
    body = _parse(await request.body(), SwitchesPatch)
    return _apply(request, state, body.by, force_mini=body.force_mini, kill=body.kill,
                  caps=dict(body.caps))  # fmt: skip


def _apply(request: Request, state: ServingState, by: str | None, **changes: Any) -> Response:
    switches = state.decider.switches
    who = by or "admin"
    before = switches.snapshot()
    try:
        # One atomic swap: the handler runs on the event loop, so no other admin call interleaves.
        switches.update(**changes, by=who)
    except InputError as exc:
        raise ApiError(422, "invalid_switches", str(exc)) from exc
    after = switches.snapshot()
    audit.warning(
        "switches changed by %s (client %s, %s): %s -> %s", who, _client(request),
        request.method, _brief(before), _brief(after),
    )  # fmt: skip
    return _answer(state)


def _brief(snapshot: dict[str, Any]) -> str:
    return (
        f"force_mini={snapshot['force_mini']} killed={snapshot['killed']} "
        f"caps={snapshot['caps']} v{snapshot['version']}"
    )
