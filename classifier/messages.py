"""The text the classifier sees for an OpenAI-style chat: the last user turn plus a little context.

The same rule as the service's `POST /classify` with `messages` (serving/inputs.py, checked by a
test), so that a router switching between the in-process and the HTTP client classifies the same
text. Works on plain dicts, because gateways hand messages around as JSON-shaped dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from classifier.errors import InputError

DEFAULT_CONTEXT_CHARS = 300  # the service's TIERWISE_MAX_CONTEXT_CHARS default


def message_text(content: Any) -> str:
    """Text of one message's `content`: a string, or the `text` of its text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str) and text:
                    parts.append(text)
        return "\n".join(parts)
    return ""


def compose_text(
    messages: Sequence[Mapping[str, Any]], max_context_chars: int = DEFAULT_CONTEXT_CHARS
) -> tuple[str, int]:
    """(text, context characters) for chat `messages`; InputError when no user turn has text.

    The context (earlier non-system turns) goes first and is cut from its start, so the
    classifier's head-and-tail window keeps the end of the conversation and the turn classified.
    """
    turns = [(str(m.get("role", "")), message_text(m.get("content"))) for m in messages]
    users = [i for i, (role, text) in enumerate(turns) if role == "user" and text.strip()]
    if not users:
        raise InputError("messages hold no user turn with text; nothing to classify")
    last_user = users[-1]
    turn = turns[last_user][1].strip()
    if max_context_chars <= 0 or last_user == 0:
        return turn, 0
    earlier = "\n".join(
        text.strip() for role, text in turns[:last_user] if role != "system" and text.strip()
    )
    context = earlier[-max_context_chars:]
    if not context:
        return turn, 0
    return f"{context}\n{turn}", len(context)
