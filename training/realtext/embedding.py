"""Embed real texts with the student or the teacher through the shared on-disk cache."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from training.model.distill import default_cache_dir


def embed(texts: Sequence[str], embedder, *, progress: bool = False) -> np.ndarray:  # noqa: ANN001
    from training.model.embed_cache import EmbeddingCache

    with EmbeddingCache(default_cache_dir() / "embeddings.sqlite") as cache:
        return cache.encode(embedder, list(texts), progress=progress)


def teacher_encoder(window=None):  # noqa: ANN001, ANN201
    """A function texts -> unit teacher embeddings (cached), for zero-shot and weak labels."""
    from training.model.embed import Teacher

    teacher = Teacher(window)
    return lambda texts: embed(texts, teacher)
