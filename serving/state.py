"""Everything a request handler needs, built once per app in `create_app` and kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from serving.cache import DecisionCache
from serving.metrics import Metrics
from serving.model_store import ModelStore
from serving.offload import Offloader
from serving.reload import Reloader
from serving.service import ClassifyService
from serving.settings import ServingSettings
from serving.switchboard import SwitchBoard


@dataclass
class ServingState:
    settings: ServingSettings
    store: ModelStore
    cache: DecisionCache
    metrics: Metrics
    service: ClassifyService
    offloader: Offloader
    reloader: Reloader | None = None
    board: SwitchBoard | None = None  # switches saved to a file; None: TIERWISE_SWITCHES_PATH unset


def state_of(request: Request) -> ServingState:
    """Plain attribute access, not `Depends`: the hot path skips the dependency solver."""
    state: ServingState = request.app.state.tierwise
    return state


def json_response(content: Any, status_code: int = 200) -> Response:
    """orjson bytes straight into a Response: no FastAPI encoder, no response_model validation."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")
