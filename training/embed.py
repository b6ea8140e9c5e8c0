"""Embedders for training: the served static student and the MiniLM teacher it was distilled from.

`StaticStudent.encode` computes exactly what the exported graph computes: the bundle's
tokenizer without special tokens, the manifest's text window and token cap (shared code in
`classifier.tokenizer`) and the mean of the token rows.

Bit-exact, not merely close: gradient-boosted trees put split thresholds exactly on training
values when texts repeat, so a 1e-7 difference between numpy and onnxruntime flipped splits
and moved probabilities by up to 0.5 in a first version. The matrix is therefore rounded to a
grid of 2^-k (k chosen so that any sum of `max_tokens` rows fits float32's 24-bit mantissa):
every partial sum is then exact in any summation order, and the one division by the integer
token count is correctly rounded by IEEE on both sides. Rounding costs < 0.1% of cosine.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from classifier.textwindow import TextWindow
from classifier.tokenizer import TextEncoder, load_tokenizer
from training.distill import distill_student, teacher_path, teacher_version

logger = logging.getLogger(__name__)

__all__ = [
    "Embedder",
    "StaticStudent",
    "Teacher",
    "distill_student",
    "pool_ids",
    "quantize_exact",
]


class Embedder(Protocol):
    name: str

    @property
    def version(self) -> str: ...

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


def quantize_exact(vectors: np.ndarray, max_tokens: int) -> tuple[np.ndarray, int]:
    """Round to multiples of 2^-k so sums of `max_tokens` rows are exact in float32."""
    bound = float(np.abs(vectors).max()) * max_tokens
    k = 23 - int(np.ceil(np.log2(max(bound, 1e-30))))
    scale = np.float64(2.0**k)
    return (np.round(vectors.astype(np.float64) * scale) / scale).astype(np.float32), k


def pool_ids(vectors: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """Mean of rows in float32 (zeros for no ids): the graph's Gather + ReduceSum + Div."""
    if len(ids) == 0:
        return np.zeros(vectors.shape[1], dtype=np.float32)
    summed = vectors[np.asarray(ids, dtype=np.int64)].sum(axis=0, dtype=np.float32)
    return summed / np.float32(len(ids))


class StaticStudent:
    """The distilled static embedding, torch-free; `version` keys the embedding cache."""

    kind = "static-model2vec"

    def __init__(
        self, vectors: np.ndarray, encoder: TextEncoder, meta: dict, directory: Path | None = None
    ) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.encoder = encoder
        self.meta = meta
        self.directory = directory
        self.name = f"static-{meta.get('key', 'unknown')}"

    @classmethod
    def load(
        cls, student_dir: Path | None = None, window: TextWindow | None = None
    ) -> StaticStudent:
        """Load a distilled student (distilling into the cache first when none is given)."""
        from safetensors.numpy import load_file

        directory = Path(student_dir) if student_dir is not None else distill_student()
        meta = json.loads((directory / "student.json").read_text())
        vectors = load_file(str(directory / "model.safetensors"))["embeddings"]
        tokenizer = load_tokenizer(directory / "tokenizer.json")
        if tokenizer.get_vocab_size() != len(vectors):
            raise ValueError(
                f"student at {directory} has {len(vectors)} rows for a vocabulary of "
                f"{tokenizer.get_vocab_size()}; delete it and distil again"
            )
        window = window or TextWindow()
        vectors, grid_bits = quantize_exact(vectors, window.max_tokens)
        encoder = TextEncoder(tokenizer, window, word_cache=False)
        return cls(vectors, encoder, {**meta, "grid_bits": grid_bits}, directory)

    @property
    def window(self) -> TextWindow:
        return self.encoder.window

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def teacher(self) -> str:
        return str(self.meta.get("teacher", teacher_version()))

    @property
    def version(self) -> str:
        w = self.window
        return f"{self.name}:w{w.head_chars}-{w.tail_chars}-{w.max_tokens}"

    def tokenize(self, texts: Sequence[str]) -> list[tuple[Sequence[int], bool]]:
        return self.encoder.encode_batch(texts)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """float32 [N, dim], unit length (zero for a text without tokens)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        chunk = 4096
        starts = range(0, len(texts), chunk)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embed (static)", unit_scale=chunk)
        for start in starts:
            batch = self.encoder.encode_batch(texts[start : start + chunk])
            for offset, (ids, _) in enumerate(batch):
                out[start + offset] = pool_ids(self.vectors, ids)
        return out


class Teacher:
    """all-MiniLM-L6-v2 via sentence-transformers, from the local package (never the hub).

    Used to distil the student and as the accuracy reference in evaluation; it sees the same
    character window as the student so the comparison is about the embedding alone.
    """

    kind = "sentence-transformers"
    name = "all-MiniLM-L6-v2"

    def __init__(self, window: TextWindow | None = None, *, batch_size: int = 64) -> None:
        self.window = window or TextWindow()
        self.batch_size = batch_size
        self._model = None

    @property
    def version(self) -> str:
        w = self.window
        return f"teacher:{teacher_version()}:w{w.head_chars}-{w.tail_chars}"

    @property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(teacher_path()), device="cpu")
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        windowed = [self.window.cut(text)[0] for text in texts]
        vectors = self.model.encode(
            windowed,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)


def __getattr__(name: str) -> object:
    # EmbeddingCache lives in its own module (it imports Embedder from here); re-exported lazily.
    if name == "EmbeddingCache":
        from training.embed_cache import EmbeddingCache

        return EmbeddingCache
    raise AttributeError(f"module 'training.embed' has no attribute {name!r}")
