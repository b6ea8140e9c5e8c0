"""Embedding on Ray Data: texts in blocks, one embedder per worker, vectors back in input order.

Any embedder with `encode(texts) -> float32 [N, D]` works: the static student (torch-free) or
the teacher. Each worker holds one copy (an actor), so the student's matrix is loaded once per
worker, not once per batch. The vectors equal the in-process `embedder.encode` (same code).

    X = ray_encode(student, data.text, workers=2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from training.engines.ray_runtime import start_ray

BLOCK_ROWS = 8192


class _Encode:
    """map_batches body run by each actor: rows (i, text) in, rows (i, vector) out."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": vectors}


def ray_encode(
    embedder: Any,
    texts: Sequence[str],
    *,
    workers: int | None = None,
    batch_size: int = 1024,
    block_rows: int = BLOCK_ROWS,
) -> np.ndarray:
    """`embedder.encode(texts)` computed by `workers` Ray actors (a local cluster if none runs)."""
    import pyarrow as pa

    ray = start_ray(workers)
    n = len(texts)
    if n == 0:
        return embedder.encode([])
    pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    block_rows = min(block_rows, -(-n // pool))  # a few thousand texts still reach every actor
    blocks = [
        pa.table(
            {"i": np.arange(s, min(s + block_rows, n)), "text": list(texts[s : s + block_rows])}
        )
        for s in range(0, n, block_rows)
    ]
    dataset = ray.data.from_arrow(blocks).map_batches(
        _Encode,
        fn_constructor_args=(embedder,),
        concurrency=pool,
        batch_size=batch_size,
        batch_format="numpy",
        num_cpus=1,
    )
    out: np.ndarray | None = None
    for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
        vectors = np.asarray(batch["vector"], dtype=np.float32)
        if out is None:
            out = np.empty((n, vectors.shape[1]), dtype=np.float32)
        out[batch["i"]] = vectors
    assert out is not None
    return out


class RayEmbedder:
    """`embedder` with its `encode` on Ray actors; every other attribute (the version the
    embedding cache keys on, the window) is the wrapped embedder's, so cached vectors are
    shared with the in-process path."""

    def __init__(
        self, embedder: Any, workers: int | None = None, block_rows: int = BLOCK_ROWS
    ) -> None:
        self.embedder = embedder
        self.workers = workers
        self.block_rows = block_rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self.embedder, name)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        rows = self.block_rows
        return ray_encode(self.embedder, list(texts), workers=self.workers, block_rows=rows)
