"""HTTP errors raised at the edge, and the handlers that turn every failure into JSON with a reason.

The classification service raises its own errors (`ServiceError`: no HTTP in them); the
handlers here give each its status. Bad input is always a 4xx that says what to change; an
unexpected bug is a 500 that says nothing internal but is logged in full.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from classifier.errors import InputError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with its HTTP status, a stable code for machines and a sentence for humans."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers


class ServiceError(Exception):
    """A request the classification service cannot answer, in its own terms."""


class NotReady(ServiceError):
    """No model is loaded yet (or none is configured); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"no model is loaded: {reason}")


class UnknownFeature(ServiceError):
    """A feature without a contract, refused because TIERWISE_UNKNOWN_FEATURE=reject."""

    def __init__(self, feature: str, known: list[str]) -> None:
        super().__init__(f"feature {feature!r} has no contract; use one of: {', '.join(known)}")


# Status, code and headers of each service error: the one place they meet HTTP.
_SERVICE_ERRORS: dict[type[ServiceError], tuple[int, str, dict[str, str] | None]] = {
    NotReady: (503, "not_ready", {"Retry-After": "5"}),
    UnknownFeature: (422, "unknown_feature", None),
}


def error_response(
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if errors:
        body["errors"] = errors
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def validation_error(exc: ValidationError, prefix: str = "") -> ApiError:
    """422 listing every field problem; the summary names the first one."""
    errors = [
        {
            "loc": prefix + ".".join(str(p) for p in err["loc"])
            if err["loc"]
            else prefix.rstrip("."),
            "msg": err["msg"].removeprefix("Value error, "),
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    first = errors[0]
    where = f"{first['loc']}: " if first["loc"] else ""
    return ApiError(422, "invalid_request", f"{where}{first['msg']}", errors=errors)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.detail, exc.errors, exc.headers)

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> Response:
        status, code, headers = _SERVICE_ERRORS.get(type(exc), (500, "internal_error", None))
        return error_response(status, code, str(exc), headers=headers)

    @app.exception_handler(InputError)
    async def _input_error(_: Request, exc: InputError) -> Response:
        # The classifier's own last-line check (e.g. a text that normalises to nothing).
        return error_response(422, "invalid_text", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return error_response(422, "invalid_request", errors[0]["msg"] if errors else "", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _: ClientDisconnect) -> Response:
        # The client left before its body arrived: nobody reads an answer, and it is not a
        # server error (the reliability suite's malformed cases had it counted as a 500).
        # Counted in /metrics as 499, nginx's "client closed request".
        log.info("client left during the body of %s %s", request.method, request.url.path)
        return error_response(499, "client_closed_request", "the client closed the connection")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", "unexpected server error; it was logged, please report it"
        )
