"""Bound the work per request: cut long texts to head + tail in characters before tokenizing.

The Rust tokenizer walks the whole input even when truncating afterwards (64 KB costs ~42 ms
here), so the cut happens on characters first; the token cap then bounds the graph's input.
Head and tail are kept because an instruction usually sits at the start ("Summarize this:")
or at the end ("... now translate it to French") of a long pasted document.
Training applies this same window (training.model.embed), so heads learn from what is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

T = TypeVar("T")

# How far a cut may move to land on whitespace instead of splitting a word in two.
_SNAP = 24
_JOIN = "\n"


@dataclass(frozen=True, slots=True)
class TextWindow:
    """Sizes of the served window; stored in every bundle's manifest."""

    head_chars: int = 1000
    tail_chars: int = 500
    max_tokens: int = 256

    def __post_init__(self) -> None:
        if self.head_chars < 1 or self.tail_chars < 0 or self.max_tokens < 2:
            raise ValueError(
                "text window needs head_chars >= 1, tail_chars >= 0 and max_tokens >= 2; "
                f"got {self}"
            )

    def cut(self, text: str) -> tuple[str, bool]:
        """Return (windowed text, whether anything was cut)."""
        if len(text) <= self.head_chars + self.tail_chars:
            return text, False
        head_end = self.head_chars
        space = text.rfind(" ", head_end - _SNAP, head_end)
        if space > 0:
            head_end = space
        if self.tail_chars == 0:
            return text[:head_end], True
        tail_start = len(text) - self.tail_chars
        space = text.find(" ", tail_start, tail_start + _SNAP)
        if space >= 0:
            tail_start = space + 1
        return text[:head_end] + _JOIN + text[tail_start:], True

    def cap(self, ids: Sequence[T]) -> tuple[Sequence[T], bool]:
        """Keep at most max_tokens ids: the first two thirds and the last third of the budget."""
        if len(ids) <= self.max_tokens:
            return ids, False
        head = (self.max_tokens * 2) // 3
        tail = self.max_tokens - head
        return list(ids[:head]) + list(ids[len(ids) - tail :]), True

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextWindow:
        return cls(
            head_chars=int(data["head_chars"]),
            tail_chars=int(data["tail_chars"]),
            max_tokens=int(data["max_tokens"]),
        )
