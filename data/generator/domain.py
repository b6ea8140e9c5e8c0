"""The shape of one domain's vocabulary; the content lives in domains_a.py and domains_b.py."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Domain:
    """Everything the text composer needs to write about one domain.

    `topics` carry stakes (0 internal/low, 1 customer-facing or business, 2 legal, medical,
    financial or safety impact) so that true risk follows from what the text is about.
    """

    name: str
    things: tuple[str, ...]  # documents typical of the domain ("NDA", "ticket")
    topics: tuple[tuple[str, int], ...]
    facts: tuple[str, ...]  # sentence templates for pasted content
    questions: tuple[str, ...]  # open questions (chat)
    tasks: tuple[str, ...]  # multi-step goals, verb phrases (plan)
    label_sets: tuple[tuple[str, ...], ...]
    policies: tuple[str, ...]
    records: str  # what rows of data are called ("invoices")
    fields: tuple[str, ...]  # their fields, for extraction and code
    slots: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pii_rate: float = 0.05
    customer_facing: float = 0.3
