"""From raw body bytes to the text the classifier sees, with a precise 4xx for each way it fails.

The body is decoded and parsed here (orjson), not by FastAPI, so that invalid UTF-8, invalid JSON
and wrong types each get their own status and message, and so that the hot path skips a second
JSON parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from serving.errors import ApiError, validation_error
from serving.schemas import BatchRequest, ClassifyRequest


@dataclass(frozen=True, slots=True)
class ClassifyInput:
    """A validated request reduced to what the service needs."""

    text: str
    feature: str | None
    request_id: str | None
    context_chars: int
    prompt_id: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None


def read_json(body: bytes) -> Any:
    """Decode UTF-8 strictly, then parse JSON; 400 with the byte offset when either fails."""
    if not body:
        raise ApiError(400, "empty_body", "request body is empty; send a JSON object")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400,
            "invalid_utf8",
            f"request body is not valid UTF-8 (byte {exc.start}: {exc.reason}); "
            "encode the JSON as UTF-8",
        ) from exc
    try:
        return orjson.loads(decoded)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from exc


def compose_text(request: ClassifyRequest, max_context_chars: int) -> tuple[str, int]:
    """The last user turn, preceded by at most `max_context_chars` of the turns before it.

    The context goes first and is cut from its start, so the classifier's head-and-tail window
    always keeps the end of the conversation and the turn being classified.
    """
    if request.text is not None:
        return request.text, 0
    messages = request.messages or []
    last_user = max(i for i, m in enumerate(messages) if m.role == "user" and m.text().strip())
    turn = messages[last_user].text().strip()
    if max_context_chars <= 0 or last_user == 0:
        return turn, 0
    earlier = "\n".join(
        m.text().strip() for m in messages[:last_user] if m.role != "system" and m.text().strip()
    )
    context = earlier[-max_context_chars:]
    if not context:
        return turn, 0
    return f"{context}\n{turn}", len(context)


def _as_input(
    obj: Any,
    *,
    max_context_chars: int,
    max_messages: int,
    default_feature: str | None = None,
    prefix: str = "",
) -> ClassifyInput:
    if not isinstance(obj, dict):
        where = prefix.rstrip(".") or "body"
        raise ApiError(
            422,
            "invalid_request",
            f"{where} must be a JSON object with `text` or `messages`, got {type(obj).__name__}",
        )
    try:
        request = ClassifyRequest.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(exc, prefix) from exc
    if request.messages is not None and len(request.messages) > max_messages:
        raise ApiError(
            422,
            "too_many_messages",
            f"{prefix}messages has {len(request.messages)} turns, over the limit of {max_messages} "
            "(TIERWISE_MAX_MESSAGES); send only the recent turns",
        )
    text, context_chars = compose_text(request, max_context_chars)
    return ClassifyInput(
        text=text,
        feature=request.feature if request.feature is not None else default_feature,
        request_id=request.request_id,
        context_chars=context_chars,
        prompt_id=request.prompt_id,
        conversation_id=request.conversation_id,
        user_id=request.user_id,
    )


def parse_classify(body: bytes, *, max_context_chars: int, max_messages: int) -> ClassifyInput:
    return _as_input(
        read_json(body), max_context_chars=max_context_chars, max_messages=max_messages
    )


def parse_batch(
    body: bytes, *, max_batch_size: int, max_context_chars: int, max_messages: int
) -> list[ClassifyInput]:
    """Every item validated, in order; the first bad item's index is in the error."""
    obj = read_json(body)
    if not isinstance(obj, dict):
        raise ApiError(
            422,
            "invalid_request",
            f"body must be a JSON object with `items`, got {type(obj).__name__}",
        )
    items = obj.get("items")
    if isinstance(items, list) and len(items) > max_batch_size:
        raise ApiError(
            413,
            "batch_too_large",
            f"batch has {len(items)} items, over the limit of {max_batch_size} "
            "(TIERWISE_MAX_BATCH_SIZE); split it into smaller batches",
        )
    try:
        batch = BatchRequest.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    if not batch.items:
        raise ApiError(422, "empty_batch", "items is empty; send at least one item")
    return [
        _as_input(
            item,
            max_context_chars=max_context_chars,
            max_messages=max_messages,
            default_feature=batch.feature,
            prefix=f"items.{index}.",
        )
        for index, item in enumerate(batch.items)
    ]
