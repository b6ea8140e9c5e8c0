"""Pure ASGI middleware: body-size limit before any parsing, and per-route request metrics.

Pure ASGI (not BaseHTTPMiddleware) because it adds a few microseconds instead of a task hop per
request, and because the size limit must act before the body is read into memory.
"""

from __future__ import annotations

import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.metrics import Metrics

_KNOWN_ROUTES = frozenset(
    {
        "/classify",
        "/classify/batch",
        "/feedback",
        "/metrics",
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/docs",
        "/openapi.json",
    }
)


def route_label(path: str) -> str:
    """Bounded label values: known paths, the v2 model template, or `other`."""
    if path in _KNOWN_ROUTES:
        return path
    if path.startswith("/v2/models/"):
        return "/v2/models/{name}/ready" if path.endswith("/ready") else "/v2/models/{name}"
    if path.startswith("/admin/"):
        return "/admin"
    return "other"


async def _send_error(send: Send, status: int, code: str, detail: str) -> None:
    body = orjson.dumps({"error": code, "detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 when Content-Length says too much; chunked bodies are counted as they stream in."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max = max_body_bytes

    def _too_large(self, size: str) -> str:
        return (
            f"request body is {size} bytes, over the limit of {self.max} "
            "(TIERWISE_MAX_BODY_BYTES); send less text or split the batch"
        )

    async def _drain(self, receive: Receive, message: Message) -> None:
        """Read (and drop) a bounded rest of the body, so the client is not reset mid-send and
        actually sees the 413; a sender of more than 4x the limit is cut off."""
        budget = 4 * self.max
        while message.get("more_body", False) and budget > 0:
            message = await receive()
            if message["type"] != "http.request":
                return
            budget -= len(message.get("body", b""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
                break
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_error(send, 400, "bad_content_length", "Content-Length is not a number")
                return
            if declared > self.max:
                await _send_error(send, 413, "body_too_large", self._too_large(str(declared)))
                return
            await self.app(scope, receive, send)
            return
        # No length (chunked): buffer up to the limit, then replay to the app.
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max:
                await self._drain(receive, message)
                await _send_error(
                    send, 413, "body_too_large", self._too_large(f"more than {total - 1}")
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class MetricsMiddleware:
    """Counts and times every HTTP request by route and final status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_label(scope["path"])
            code = str(status)
            self.metrics.requests.labels(route, code).inc()
            self.metrics.latency.labels(route, code).observe(time.perf_counter() - start)
