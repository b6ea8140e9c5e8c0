"""On-disk embedding cache keyed by (sha256(text), embedder version).

Retraining on overlapping logs re-embeds only new texts. SQLite keeps it one file, safe for
concurrent readers and a writer, and needs no extra dependency. The embedder version includes
the student key and the text window, so a changed window never reuses stale vectors.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.model.embed import Embedder

_CHUNK = 500


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """Vectors stored as float32 blobs; `encode(embedder, texts)` embeds only the misses."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors ("
            " version TEXT NOT NULL, key BLOB NOT NULL, vec BLOB NOT NULL,"
            " PRIMARY KEY (version, key)) WITHOUT ROWID"
        )
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, version: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, vec FROM vectors WHERE version = ? AND key IN ({marks})",
                [version, *chunk],
            )
            for key, blob in rows:
                found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, version: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = (
            (version, key, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for key, vec in zip(keys, vectors, strict=True)
        )
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def encode(
        self, embedder: Embedder, texts: Sequence[str], *, progress: bool = False
    ) -> np.ndarray:
        """Embed `texts` in order, computing (and storing) only those not cached yet."""
        keys = [text_key(text) for text in texts]
        version = embedder.version
        found = self.get_many(version, list(dict.fromkeys(keys)))
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            fresh = embedder.encode([by_key[k] for k in missing], progress=progress)
            self.put_many(version, missing, fresh)
            found.update(zip(missing, fresh, strict=True))
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
