"""Operator switches at run time: GET, PUT (replace) and PATCH (merge) /admin/switches, and the
data-residency rules: PUT /admin/residency (shown in GET /admin/switches as
`residency_override`).

Authenticated with `Authorization: Bearer <token>`, one token per identity (TIERWISE_ADMIN_TOKEN
is `admin`, TIERWISE_ADMIN_TOKENS names more): no token configured means the endpoints are
disabled (404 with the reason), a missing header 401, an unknown token 403. A change is
validated (feature names against the contracts), appended to the audit log under the token's
identity, saved to TIERWISE_SWITCHES_PATH and only then applied (serving/switchboard.py). It
applies to the next request (the decision cache is keyed by the switch version), in the other
worker processes within TIERWISE_SYNC_INTERVAL_S, and shows in `/metrics` (`tierwise_switch_*`,
`tierwise_experiment_info`).
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from serving.auth import authenticate, client_of
from serving.errors import ApiError, validation_error
from serving.inputs import read_json
from serving.schemas import (
    ErrorResponse,
    ExperimentSettings,
    ResidencyPut,
    SwitchesPatch,
    SwitchesPut,
)
from serving.state import json_response, state_of
from serving.switchboard import Change, SwitchBoard

router = APIRouter(prefix="/admin", tags=["admin"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no bearer token sent"},
    403: {"model": ErrorResponse, "description": "not an admin token"},
    404: {"model": ErrorResponse, "description": "admin disabled: no admin token configured"},
    422: {"model": ErrorResponse, "description": "invalid values or unknown feature names"},
    503: {"model": ErrorResponse, "description": "the change could not be audited or saved"},
}


def _authorise(request: Request) -> tuple[SwitchBoard, str]:
    state = state_of(request)
    tokens = state.settings.admin_identities()
    if not tokens:
        raise ApiError(
            404,
            "admin_disabled",
            "admin endpoints are disabled; set TIERWISE_ADMIN_TOKEN (or TIERWISE_ADMIN_TOKENS) "
            "and TIERWISE_SWITCHES_PATH to enable them",
        )
    actor = authenticate(request, tokens, what="admin", env="TIERWISE_ADMIN_TOKEN(S)")
    if state.board is None:  # settings refuse admin tokens without TIERWISE_SWITCHES_PATH
        raise ApiError(503, "no_switches", "set TIERWISE_SWITCHES_PATH to enable the switches")
    return state.board, actor


M = TypeVar("M", bound=BaseModel)


def _parse(body: bytes, model: type[M]) -> M:
    try:
        return model.model_validate(read_json(body))
    except ValidationError as exc:
        raise validation_error(exc) from exc


@router.get(
    "/switches", summary="The operator switches and policy mode in force", responses=_ERRORS
)
async def get_switches(request: Request) -> Response:
    board, _ = _authorise(request)
    # `worker_pid`: with several workers, which one answered (each follows the shared file).
    return json_response({**board.snapshot(), "worker_pid": os.getpid()})


@router.put(
    "/switches",
    summary="Replace every switch (anything not listed is switched off)",
    responses=_ERRORS,
)
async def put_switches(request: Request) -> Response:
    board, actor = _authorise(request)
    body = _parse(await request.body(), SwitchesPut)
    before = board.service.switches.state
    kill = {f: f in body.killed for f in {*before.killed, *body.killed}}
    caps: dict[str, Any] = {f: body.caps.get(f) for f in {*before.caps, *body.caps}}
    experiment = body.experiment.model_dump() if body.experiment is not None else None
    change = Change(force_mini=body.force_mini, kill=kill, caps=caps, experiment=experiment,
                    reset_experiment=True, note=body.note)  # fmt: skip
    names = [*body.killed, *body.caps, *_share_names(body.experiment)]
    return _apply(request, board, actor, change, new_names=names)


@router.patch("/switches", summary="Change only the switches given", responses=_ERRORS)
async def patch_switches(request: Request) -> Response:
    board, actor = _authorise(request)
    body = _parse(await request.body(), SwitchesPatch)
    experiment = body.experiment.model_dump() if body.experiment is not None else None
    change = Change(force_mini=body.force_mini, kill=body.kill, caps=dict(body.caps),
                    experiment=experiment, note=body.note)  # fmt: skip
    names = [*body.kill, *body.caps, *_share_names(body.experiment)]
    return _apply(request, board, actor, change, new_names=names)


def _share_names(experiment: ExperimentSettings | None) -> list[str]:
    """Features given a rollout share, checked against the contracts like switch names."""
    if experiment is None or not experiment.feature_shares:
        return []
    return list(experiment.feature_shares)


@router.put(
    "/residency",
    summary="Replace the data-residency rules at run time (null: back to the contracts file)",
    responses=_ERRORS,
)
async def put_residency(request: Request) -> Response:
    """Validated against the routing table (an unknown region, a feature left with no endpoint:
    422 naming the key, and the rules in force stay), audited and saved with the switches."""
    board, actor = _authorise(request)
    body = _parse(await request.body(), ResidencyPut)
    residency = body.residency.model_dump(exclude_defaults=True) if body.residency else None
    change = Change(set_residency=True, residency=residency, note=body.note)
    return _apply(request, board, actor, change, new_names=[])


def _apply(
    request: Request, board: SwitchBoard, actor: str, change: Change, new_names: list[str]
) -> Response:
    # One call at a time (the board's lock); the handler runs on the event loop, so the swap
    # lands between two requests, never inside one.
    return json_response(
        board.apply(
            change,
            actor=actor,
            client=client_of(request),
            method=request.method,
            names=new_names,
        )
    )
