"""Bearer tokens -> identities, for the admin and feedback endpoints.

The identity a call acts as comes from the token it presents, never from its body: the audit log
and the feedback source name whoever holds the token. Every configured token is compared in
constant time, and all of them are compared, so timing tells nothing about which one came close.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping

from pydantic import SecretStr
from starlette.requests import Request

from serving.errors import ApiError

audit = logging.getLogger("tierwise.audit")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "?"


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    sent = sent.strip()
    return sent if scheme.lower() == "bearer" and sent else None


def identify(sent: str, tokens: Mapping[str, SecretStr]) -> str | None:
    """The name whose token is `sent`, or None."""
    found = None
    raw = sent.encode()
    for name, secret in tokens.items():
        if hmac.compare_digest(raw, secret.get_secret_value().encode()):
            found = name
    return found


def authenticate(request: Request, tokens: Mapping[str, SecretStr], *, what: str, env: str) -> str:
    """The caller's identity; 401 without a bearer token, 403 with an unknown one (both logged)."""
    sent = bearer(request)
    where = f"{request.method} {request.url.path} (client {client_of(request)})"
    if sent is None:
        audit.warning("%s refused: no bearer token", where)
        raise ApiError(
            401,
            "unauthorized",
            f"send `Authorization: Bearer <token>` with a {what} token ({env})",
            headers={"WWW-Authenticate": "Bearer"},
        )
    name = identify(sent, tokens)
    if name is None:
        audit.warning("%s refused: unknown token", where)
        raise ApiError(403, "forbidden", f"the bearer token is not a {what} token ({env})")
    return name
