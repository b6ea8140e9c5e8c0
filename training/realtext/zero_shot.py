"""Zero-shot nearest-prototype labels: the baseline a team gets without any training.

Each label is described by a few plain requests written from the DESIGN §3 definitions (not
from any corpus); a text takes the label whose mean description embedding is nearest (cosine).
It is the report's baseline and one vote of the weak labeller.
"""

from __future__ import annotations

import numpy as np

INTENT_PROTOTYPES: dict[str, tuple[str, ...]] = {
    "summarize": (
        "Summarize this article in three sentences.",
        "Give me the key points of the meeting notes below.",
        "TL;DR of this thread, please.",
        "Condense this document into a short abstract.",
    ),
    "transform": (
        "Rewrite this paragraph in a more formal tone.",
        "Translate the following text into Spanish.",
        "Fix the grammar and spelling in this email.",
        "Convert this list into a JSON array with name and date fields.",
    ),
    "classify": (
        "Is the sentiment of this review positive or negative?",
        "Classify this support ticket as billing, technical or account.",
        "Tag each of these headlines with its topic.",
        "Is this message spam? Answer yes or no.",
    ),
    "plan": (
        "Make a step-by-step plan to launch the project in six weeks.",
        "Solve this word problem: a train leaves at 3 pm at 60 mph; when does it arrive?",
        "Compare the options and recommend one, weighing the trade-offs.",
        "Break this goal into milestones and a weekly schedule.",
    ),
    "generate_code": (
        "Write a Python function that parses a CSV file.",
        "Fix the bug in this JavaScript code.",
        "Write a SQL query that returns the top customers by revenue.",
        'def is_prime(n):\n    """Return True if n is prime."""',
    ),
    "review_policy": (
        "Check whether this clause complies with GDPR.",
        "Does this ad violate our advertising policy?",
        "Review this contract for terms that breach our guidelines.",
        "Is this post allowed under the community rules?",
    ),
    "chat": (
        "What is the capital of Australia?",
        "Write a short poem about autumn.",
        "Hi, how are you today?",
        "Give me ideas for a birthday party.",
    ),
}

RISK_PROTOTYPES: dict[str, tuple[str, ...]] = {
    "low": (
        "Tell me a fun fact about octopuses.",
        "Help me name my cat.",
        "Explain how photosynthesis works.",
        "Write a haiku about coffee for my notes.",
    ),
    "medium": (
        "Write a marketing email to our customers about the new pricing.",
        "Draft a reply to a customer complaint about a late delivery.",
        "Create a product description for our online store.",
        "Prepare the quarterly business update for stakeholders.",
    ),
    "high": (
        "What dose of this medication should I take for my heart condition?",
        "How do I make a weapon to hurt someone?",
        "Here is my credit card number and address, update my account.",
        "Can I be sued for breaking this contract? What should I do legally?",
    ),
}


class NearestPrototype:
    """Cosine to the mean embedding of each label's descriptions; `encode` returns unit rows."""

    def __init__(self, encode, prototypes: dict[str, tuple[str, ...]]) -> None:  # noqa: ANN001
        self.labels = list(prototypes)
        centres = []
        for label in self.labels:
            vectors = _unit(np.asarray(encode(list(prototypes[label])), dtype=np.float64))
            centres.append(vectors.mean(axis=0))
        self.centres = _unit(np.stack(centres))

    def similarities(self, X: np.ndarray) -> np.ndarray:
        return _unit(np.asarray(X, dtype=np.float64)) @ self.centres.T

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.labels[i] for i in self.similarities(X).argmax(axis=1)]


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
