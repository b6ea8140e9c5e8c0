"""Frame families: how people phrase one intent. A family is the unit evaluation holds out.

Each family lists templates in the phrase grammar (grammar.py). A template starting with "!" is a
complete utterance; any other is a verb phrase that the register layer wraps ("please ...",
"can you ...?", "hey u ... pls"). `content` says whether pasted content comes with the frame:
"yes", "no" or "maybe". Intent-specific families live in frames_a.py, frames_b.py and hard.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    intent: str
    name: str
    templates: tuple[str, ...]
    content: str = "yes"  # yes | no | maybe
    genres: tuple[str, ...] = ()  # override the intent's content genres
    hard: bool = False

    @property
    def template_id(self) -> str:
        return f"{self.intent}.{self.name}"


def fam(intent: str, name: str, *templates: str, **kw) -> Family:
    return Family(intent, name, tuple(templates), **kw)
