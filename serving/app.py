"""The FastAPI app factory: importing does nothing, `create_app` builds, `lifespan` loads.

Example:
    uvicorn --factory serving.app:app_from_env     # settings from TIERWISE_* variables
    create_app(ServingSettings(bundle_path=Path("models/default")))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from classifier import guard_text
from serving import gctune, multiproc
from serving.cache import DecisionCache
from serving.errors import install_handlers
from serving.label_schema import constrain_labels
from serving.metrics import Metrics
from serving.middleware import BodyLimitMiddleware, MetricsMiddleware
from serving.model_store import ModelStore
from serving.offload import Offloader
from serving.reload import Reloader
from serving.routes import ROUTERS
from serving.schemas import BatchRequest, ClassifyRequest, FeedbackRequest
from serving.service import ClassifyService
from serving.settings import ServingSettings
from serving.sources import source_from
from serving.state import ServingState
from serving.switchboard import SwitchBoard

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """First load before the first request, then the reload watcher; stop it on shutdown."""
    state: ServingState = app.state.tierwise
    settings = state.settings
    source = source_from(settings)
    if source is None:
        log.warning("no TIERWISE_BUNDLE_PATH or TIERWISE_MODEL_URI: serving unready (503)")
    else:
        state.reloader = Reloader(
            state.store,
            source,
            state.metrics,
            intra_op_threads=settings.intra_op_threads,
            warmup=settings.warmup_requests,
            interval_s=settings.reload_interval_s,
            retry_base_s=settings.reload_retry_base_s,
            retry_max_s=settings.reload_retry_max_s,
            taxonomy=state.service.contracts.taxonomy,
            contracts_source=state.service.contracts.source,
        )
        await anyio.to_thread.run_sync(state.reloader.check)
        if state.store.current is None and settings.require_model:
            raise RuntimeError(
                f"could not load a model from {source.description}: {state.store.last_error}"
            )
        state.reloader.start()
    gctune.after_warmup(freeze=settings.gc_freeze)  # what lives as long as the process
    follower = asyncio.create_task(follow(state), name="tierwise-follow")
    try:
        yield
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        if state.reloader is not None:
            state.reloader.stop()
        state.metrics.publish()  # this worker's last counts stay in the totals
        folder = multiproc.directory()
        if folder is not None:
            multiproc.mark_dead(folder, os.getpid())
        state.offloader.close()
        await anyio.to_thread.run_sync(state.service.close)  # flush the decision/feedback logs


async def follow(state: ServingState) -> None:
    """What other workers changed, this one follows: the switches file, checked a few times a
    second (one `stat`), applied on the event loop so that it lands between two requests; the
    escalated conversations (serving/conversations.py); and with several workers, this
    worker's counters published for `/metrics`."""
    interval = state.settings.sync_interval_s
    while True:
        await asyncio.sleep(interval)
        try:
            if state.board is not None:
                state.board.sync()
            state.service.floors.sync()  # escalated conversations joined by other workers
            state.metrics.publish()
        except Exception:  # never let the follower die: the next tick tries again
            log.exception("could not follow the shared switches or publish metrics")


def build_state(settings: ServingSettings) -> ServingState:
    metrics = Metrics()
    cache = DecisionCache(settings.cache_size, settings.cache_max_bytes)
    metrics.bind_cache(cache)
    store = ModelStore()
    store.on_swap(lambda _old, _new: cache.clear())
    service = ClassifyService(settings, store, cache, metrics)
    offloader = Offloader(
        workers=settings.classify_threads,
        max_pending=settings.max_pending,
        budget_s=settings.request_budget_s,
        inline_max_chars=0 if settings.classify_offload else settings.inline_max_chars,
    )
    metrics.bind_offloader(offloader)
    guard_text.warm()  # the guards' fold table, before the first non-ASCII request
    board = None
    if settings.switches_path is not None:
        board = SwitchBoard(settings, service)
        board.restore()  # before the first request: a restart keeps what operators switched
    return ServingState(settings, store, cache, metrics, service, offloader, board=board)


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """A ready-to-serve app; the model loads when the server starts it (lifespan), not here."""
    settings = settings if settings is not None else ServingSettings()
    app = FastAPI(
        title="tierwise",
        summary="Classify a request (intent, risk, smallest viable tier) and decide its route.",
        lifespan=lifespan,
    )
    app.state.tierwise = build_state(settings)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # Outermost first: metrics see every response, including a 413 from the body limit.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.tierwise.metrics)
    _document_bodies(app)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory serving.app:app_from_env`: settings from the environment."""
    return create_app(ServingSettings())


def _document_bodies(app: FastAPI) -> None:
    """Add the request schemas that the routes reference (their bodies are parsed by hand)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version="1", summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (ClassifyRequest, BatchRequest, FeedbackRequest):
                json_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(json_schema.pop("$defs", {}))
                components[model.__name__] = json_schema
            constrain_labels(components, app.state.tierwise.service.contracts.taxonomy)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
