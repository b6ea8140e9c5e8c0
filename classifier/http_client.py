"""`RoutingClient` over the service's `POST /classify` and `/classify/batch`, with httpx.

One `httpx.Client` (and one `httpx.AsyncClient` per event loop) is kept and reused, so calls ride
kept-alive connections. Every call has a deadline: the async calls bound the whole call; the sync
calls bound each phase (connect, send, each read) by it, which on a kept-alive connection is the
whole call too. A timeout, a connection error, a 5xx (or 408/429) or a response that is not the
service's JSON goes to the `FailurePolicy`; any other 4xx is the caller's input and raises
`InputError` with the service's own message.

Needs the `client` extra: `pip install 'tierwise[client]'` (httpx).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from classifier.client import FailurePolicy, Routed, RouteRequest
from classifier.errors import InputError

try:
    import httpx
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        "classifier.http_client needs httpx: pip install 'tierwise[client]' "
        "(or use classifier.local_client.LocalClient, which needs nothing more)"
    ) from exc

_OUTAGE_STATUS = frozenset({408, 429})
_JSON = {"content-type": "application/json"}
_WARM_UP_S = 1.0
_HEALTH = "/v2/health/live"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one costs ~50 ms, not per client."""
    return httpx.create_ssl_context()


class _Outage(Exception):
    """The service did not give a usable answer; the message is the failure reason."""


def _item(
    text: str | None,
    messages: Sequence[Mapping[str, Any]] | None,
    feature: str | None,
    request_id: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if text is not None:
        body["text"] = text
    if messages is not None:
        body["messages"] = list(messages)
    if feature is not None:
        body["feature"] = feature
    if request_id is not None:
        body["request_id"] = request_id
    return body


def routed_from_response(body: Mapping[str, Any]) -> Routed:
    """A `Routed` from one `/classify` response object (the service's `ClassifyResponse`)."""
    route = body.get("route")
    tier = route["tier"] if route else body["tier"]
    return Routed(
        tier=tier,
        reason=route["reason"]
        if route
        else f"prediction tier {tier} (the service returned no route decision)",
        reason_code=route.get("reason_code", "") if route else "prediction",
        policy=route.get("policy", "learned") if route else "learned",
        model=route.get("model") if route else None,
        request_id=body.get("request_id"),
        feature=body.get("feature"),
        intent=body.get("intent"),
        risk=body.get("risk"),
        tier_ok_probs=body.get("tier_ok_probs") or {},
        abstain=bool(body.get("abstain")),
        guards=tuple(route.get("guards") or ()) if route else (),
        contract=route.get("contract") if route else None,
        model_version=(body.get("provenance") or {}).get("model_version"),
        # In A/B mode the served arm was drawn at random; its probability is not in the answer.
        propensity=1.0 if body.get("arm") is None else None,
    )


def _error_text(response: httpx.Response) -> str:
    try:
        data = orjson.loads(response.content)
        return f"{data.get('error', '')}: {data.get('detail', '')}".strip(": ")
    except (orjson.JSONDecodeError, AttributeError):
        return response.text[:200]


def _parse(response: httpx.Response, batch: bool) -> list[Routed]:
    status = response.status_code
    if status >= 500 or status in _OUTAGE_STATUS:
        raise _Outage(f"HTTP {status} {_error_text(response)}".strip())
    if status >= 400:
        raise InputError(f"tierwise refused the request: HTTP {status} {_error_text(response)}")
    try:
        data = orjson.loads(response.content)
        objects = data["items"] if batch else [data]
        return [routed_from_response(obj) for obj in objects]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise _Outage(f"invalid response from the service: {type(exc).__name__}: {exc}") from exc


class HttpClient:
    """Routes over HTTP; thread-safe for the sync calls, one async client per event loop."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        failure: FailurePolicy,
        deadline_ms: float = 50.0,
        headers: Mapping[str, str] | None = None,
        models: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        """`models` maps a tier to its model name for fail-open answers (the service knows the
        rest); `transport`/`async_transport` replace the network (tests, proxies)."""
        if deadline_ms <= 0:
            raise ValueError("deadline_ms must be > 0")
        self.base_url = base_url.rstrip("/")
        self.failure = failure
        self.deadline_ms = deadline_ms
        self.models = dict(models or {})
        self._headers = {**_JSON, **(headers or {})}
        self._transport = transport
        self._async_transport = async_transport
        self._limits = limits or httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self._sync: httpx.Client | None = None
        self._async: httpx.AsyncClient | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._warmed = False
        self._sync_client()  # the one-time set-up cost is paid here, not by the first request

    def _timeout(self, deadline_ms: float | None) -> tuple[float, httpx.Timeout]:
        seconds = (deadline_ms if deadline_ms is not None else self.deadline_ms) / 1000.0
        return seconds, httpx.Timeout(seconds)

    def _sync_client(self) -> httpx.Client:
        if self._sync is None:
            self._sync = httpx.Client(
                base_url=self.base_url,
                headers=self._headers,
                transport=self._transport,
                limits=self._limits,
                verify=_ssl_context(),
            )
            self._warmed = False
        return self._sync

    def _client(self) -> httpx.Client:
        client = self._sync_client()
        if not self._warmed:
            # The first request opens the connection; its cost is not the classifier's.
            self._warmed = True
            # Errors are left to the real call, which reports them under the failure policy.
            with contextlib.suppress(httpx.HTTPError):
                client.get(_HEALTH, timeout=_WARM_UP_S)
        return client

    async def _aclient(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            # An AsyncClient's connections belong to the loop that opened them. The first
            # request in a loop also starts the async machinery (~50 ms here): warm up once.
            client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                transport=self._async_transport,
                limits=self._limits,
                verify=_ssl_context(),
            )
            self._async, self._async_loop = client, loop
            with contextlib.suppress(httpx.HTTPError):
                await client.get(_HEALTH, timeout=_WARM_UP_S)
        return self._async

    def _on_failure(self, failure: str, requests: Sequence[RouteRequest]) -> list[Routed]:
        tier = self.failure.tier
        model = self.models.get(tier) if tier is not None else None
        return [
            self.failure.apply(failure, request_id=r.request_id, feature=r.feature, model=model)
            for r in requests
        ]

    def _post(self, path: str, body: Any, deadline_ms: float | None) -> httpx.Response:
        seconds, timeout = self._timeout(deadline_ms)
        client = self._client()
        try:
            return client.post(path, content=orjson.dumps(body), timeout=timeout)
        except httpx.TimeoutException as exc:
            raise _Outage(f"timeout after {seconds * 1000:g} ms") from exc
        except httpx.TransportError as exc:
            raise _Outage(f"connection error: {type(exc).__name__}: {exc}") from exc

    async def _apost(self, path: str, body: Any, deadline_ms: float | None) -> httpx.Response:
        seconds, timeout = self._timeout(deadline_ms)
        client = await self._aclient()
        try:
            async with asyncio.timeout(seconds):
                return await client.post(path, content=orjson.dumps(body), timeout=timeout)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _Outage(f"timeout after {seconds * 1000:g} ms") from exc
        except httpx.TransportError as exc:
            raise _Outage(f"connection error: {type(exc).__name__}: {exc}") from exc

    def classify(
        self,
        text: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        feature: str | None = None,
        request_id: str | None = None,
        deadline_ms: float | None = None,
    ) -> Routed:
        body = _item(text, messages, feature, request_id)
        try:
            return _parse(self._post("/classify", body, deadline_ms), batch=False)[0]
        except _Outage as exc:
            return self._on_failure(str(exc), [RouteRequest(None, None, feature, request_id)])[0]

    async def aclassify(
        self,
        text: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        feature: str | None = None,
        request_id: str | None = None,
        deadline_ms: float | None = None,
    ) -> Routed:
        body = _item(text, messages, feature, request_id)
        try:
            return _parse(await self._apost("/classify", body, deadline_ms), batch=False)[0]
        except _Outage as exc:
            return self._on_failure(str(exc), [RouteRequest(None, None, feature, request_id)])[0]

    @staticmethod
    def _batch_body(items: Sequence[RouteRequest], feature: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "items": [_item(i.text, i.messages, i.feature, i.request_id) for i in items]
        }
        if feature is not None:
            body["feature"] = feature
        return body

    def _defaulted(self, items: Sequence[RouteRequest], feature: str | None) -> list[RouteRequest]:
        return [
            RouteRequest(None, None, i.feature if i.feature is not None else feature, i.request_id)
            for i in items
        ]

    def classify_batch(
        self,
        items: Sequence[RouteRequest],
        *,
        feature: str | None = None,
        deadline_ms: float | None = None,
    ) -> list[Routed]:
        if not items:
            return []
        try:
            response = self._post("/classify/batch", self._batch_body(items, feature), deadline_ms)
            return _parse(response, batch=True)
        except _Outage as exc:
            return self._on_failure(str(exc), self._defaulted(items, feature))

    async def aclassify_batch(
        self,
        items: Sequence[RouteRequest],
        *,
        feature: str | None = None,
        deadline_ms: float | None = None,
    ) -> list[Routed]:
        if not items:
            return []
        body = self._batch_body(items, feature)
        try:
            return _parse(await self._apost("/classify/batch", body, deadline_ms), batch=True)
        except _Outage as exc:
            return self._on_failure(str(exc), self._defaulted(items, feature))

    def close(self) -> None:
        """Close the sync connections; the async ones close with `aclose()` in their loop."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        if self._async is not None and self._async_loop is asyncio.get_running_loop():
            await self._async.aclose()
        self._async = None
        self._async_loop = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
