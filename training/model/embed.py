"""Embedders for training: the served static student and the MiniLM teacher it was distilled from.

`StaticStudent.encode` computes exactly what the exported graph computes: the bundle's
tokenizer without special tokens, the manifest's text window and token cap (shared code in
`classifier.tokenizer`), then the features of `Pooling`: the mean of all token rows, and (by
default) the means of the first and of the last K tokens. A request is often a short
instruction before or after a long pasted document; in one mean over 256 tokens the
instruction's ten words are drowned by the document, the edge means keep them visible.

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from classifier.textwindow import TextWindow
from classifier.tokenizer import TextEncoder, load_tokenizer
from training.model.distill import distill_student, teacher_path, teacher_version
from training.model.text_features import N_FEATURES as N_TEXT_FEATURES
from training.model.text_features import TextFeatures

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_POOLING",
    "Embedder",
    "Pooling",
    "StaticStudent",
    "Teacher",
    "distill_student",
    "pool_features",
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


@dataclass(frozen=True, slots=True)
class Pooling:
    """Which means make up the feature vector; recorded in the manifest and the graph.

    Layout: [mean of all ids (dim) | mean of the first `edge_tokens` ids (`edge_dims`) |
    mean of the last `edge_tokens` ids (`edge_dims`)]. For texts shorter than `edge_tokens`
    the windows overlap (all three are the same mean), which is fine for trees. `edge_dims`
    keeps only the leading columns of the edge means (PCA components in order of variance):
    cheaper to fit, but measured clearly worse, so all columns by default (docs/model.md).
    K = 16 measured best on unseen templates (8-16 close, 32 much worse: the window then
    reaches into the pasted content). `edge_tokens=0` is the plain mean of earlier bundles.
    """

    edge_tokens: int = 16
    edge_dims: int | None = None  # None: all columns

    def __post_init__(self) -> None:
        if self.edge_tokens < 0 or (self.edge_dims is not None and self.edge_dims < 1):
            raise ValueError(f"pooling needs edge_tokens >= 0 and edge_dims >= 1; got {self}")

    def edge_width(self, dim: int) -> int:
        if self.edge_tokens == 0:
            return 0
        return dim if self.edge_dims is None else min(self.edge_dims, dim)

    def feature_dim(self, dim: int) -> int:
        return dim + 2 * self.edge_width(dim)

    def layout(self, dim: int) -> list[dict[str, object]]:
        """Column ranges of the feature vector: what the manifest and the graph both record."""
        out: list[dict[str, object]] = [{"name": "mean", "tokens": "all", "columns": [0, dim]}]
        width = self.edge_width(dim)
        if width:
            for name, start in (("head_mean", dim), ("tail_mean", dim + width)):
                out.append(
                    {
                        "name": name,
                        "tokens": self.edge_tokens,
                        "rows": [0, width],
                        "columns": [start, start + width],
                    }
                )
        return out

    @property
    def tag(self) -> str:
        """Suffix of the embedder version ('' for the plain mean, so old cache rows stay valid)."""
        if self.edge_tokens == 0:
            return ""
        return f":e{self.edge_tokens}-{self.edge_dims or 'all'}"

    def to_dict(self) -> dict[str, int | None]:
        return asdict(self)

    @classmethod
    def from_manifest(cls, embedding: dict[str, object]) -> Pooling:
        """The pooling a bundle's manifest records; bundles from before it pooled a plain mean."""
        spec = embedding.get("pooling")
        if not isinstance(spec, dict):
            return cls(edge_tokens=0)
        dims = spec.get("edge_dims")
        return cls(
            edge_tokens=int(spec["edge_tokens"]), edge_dims=None if dims is None else int(dims)
        )


DEFAULT_POOLING = Pooling()


def pool_features(vectors: np.ndarray, ids: Sequence[int], pooling: Pooling) -> np.ndarray:
    """One feature row: the graph's masked means, bit for bit (see the module docstring)."""
    dim = vectors.shape[1]
    width = pooling.edge_width(dim)
    if not width:
        return pool_ids(vectors, ids)
    out = np.zeros(dim + 2 * width, dtype=np.float32)
    n = len(ids)
    if n == 0:
        return out
    rows = vectors[np.asarray(ids, dtype=np.int64)]
    k = min(pooling.edge_tokens, n)
    count = np.float32(k)
    out[:dim] = rows.sum(axis=0, dtype=np.float32) / np.float32(n)
    out[dim : dim + width] = rows[:k, :width].sum(axis=0, dtype=np.float32) / count
    out[dim + width :] = rows[n - k :, :width].sum(axis=0, dtype=np.float32) / count
    return out


class StaticStudent:
    """The distilled static embedding, torch-free; `version` keys the embedding cache."""

    kind = "static-model2vec"

    def __init__(
        self,
        vectors: np.ndarray,
        encoder: TextEncoder,
        meta: dict,
        directory: Path | None = None,
        pooling: Pooling = DEFAULT_POOLING,
        text_features: TextFeatures | None = None,
    ) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.encoder = encoder
        self.meta = meta
        self.directory = directory
        self.pooling = pooling
        self.text_features = text_features  # None: the pooled embedding alone
        self.name = f"static-{meta.get('key', 'unknown')}"

    @classmethod
    def load(
        cls,
        student_dir: Path | None = None,
        window: TextWindow | None = None,
        pooling: Pooling = DEFAULT_POOLING,
        text_features: bool = False,
    ) -> StaticStudent:
        """Load a distilled student (distilling into the cache first when none is given);
        `text_features` appends the counts of training.model.text_features to every row."""
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
        meta = {**meta, "grid_bits": grid_bits}
        student = cls(vectors, encoder, meta, directory, pooling)
        return student.with_text_features(text_features)

    def with_text_features(self, enabled: bool) -> StaticStudent:
        """This student with (or without) the text-feature columns after the pooled ones."""
        if enabled == (self.text_features is not None):
            return self
        features = None
        if enabled:
            features = TextFeatures.from_tokenizer(self.encoder.tokenizer)
            if len(features.table) != len(self.vectors):
                raise ValueError(
                    f"the tokenizer has {len(features.table)} tokens for {len(self.vectors)} "
                    "embedding rows; distil the student again"
                )
        return StaticStudent(
            self.vectors, self.encoder, self.meta, self.directory, self.pooling, features
        )

    @property
    def window(self) -> TextWindow:
        return self.encoder.window

    @property
    def dim(self) -> int:
        """Width of a token row (the matrix), not of the features: see `feature_dim`."""
        return int(self.vectors.shape[1])

    @property
    def pooled_dim(self) -> int:
        """Width of the pooled embedding (what kNN reads); the text features follow it."""
        return self.pooling.feature_dim(self.dim)

    @property
    def n_text_features(self) -> int:
        return 0 if self.text_features is None else N_TEXT_FEATURES

    @property
    def feature_dim(self) -> int:
        return self.pooled_dim + self.n_text_features

    def layout(self) -> list[dict[str, object]]:
        """Column ranges of `encode`'s rows: the pooling's, then the text features' (if any)."""
        out = self.pooling.layout(self.dim)
        if self.text_features is not None:
            out.append(self.text_features.layout(self.pooled_dim))
        return out

    @property
    def teacher(self) -> str:
        return str(self.meta.get("teacher", teacher_version()))

    @property
    def version(self) -> str:
        w = self.window
        tag = self.pooling.tag + (self.text_features.tag if self.text_features else "")
        return f"{self.name}:w{w.head_chars}-{w.tail_chars}-{w.max_tokens}{tag}"

    def tokenize(self, texts: Sequence[str]) -> list[tuple[Sequence[int], bool]]:
        return self.encoder.encode_batch(texts)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """float32 [N, feature_dim] laid out as `layout()` (zeros for a text without ids)."""
        out = np.empty((len(texts), self.feature_dim), dtype=np.float32)
        chunk = 4096
        starts = range(0, len(texts), chunk)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embed (static)", unit_scale=chunk)
        for start in starts:
            batch = self.encoder.encode_batch(texts[start : start + chunk])
            pooled, features = self.pooled_dim, self.text_features
            for offset, (ids, _) in enumerate(batch):
                out[start + offset, :pooled] = pool_features(self.vectors, ids, self.pooling)
                if features is not None:
                    out[start + offset, pooled:] = features.encode_ids(ids)
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

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the loaded model: a Ray worker loads its own from the package."""
        return {**self.__dict__, "_model": None}

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
