"""A k-nearest-neighbour router on the bundle's embeddings: the baseline a learned router must beat.

Published router comparisons find kNN over sentence embeddings as strong as many trained
routers, so the learned heads are only worth their training if they do better. The kNN model
answers the same questions as the heads (P(ok) per tier, intent, risk) from the labels of the
k most similar training requests (cosine), and goes through the same decision layer.

Censoring is respected: a neighbour counts for a tier only where its outcome at that tier was
observed (or implied by monotonicity); unknown labels are never guessed. Probabilities are
smoothed towards the training slice's overall rate, then made monotone across tiers.

Example:
    knn = KNNRouter(n_neighbors=25).fit(X_train, tier_ok, intent, risk)
    knn.predict_proba(X_test)["tier_ok"]   # [N, 3], non-decreasing along tiers
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.prediction import Prediction
from classifier.taxonomy import INTENTS, RISKS, TAXONOMY_VERSION, TIERS


def _normalise(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


class KNNRouter:
    """Brute-force cosine kNN; `fit` stores the (normalised) training rows and their labels.

    `prior_strength`: pseudo-counts of the training slice's base rate mixed into every
    neighbourhood, so that a tier observed on only one or two neighbours is not 0 or 1.
    """

    def __init__(
        self, n_neighbors: int = 25, prior_strength: float = 2.0, chunk_size: int = 1024
    ) -> None:
        self.n_neighbors = n_neighbors
        self.prior_strength = prior_strength
        self.chunk_size = chunk_size

    def fit(
        self,
        X: np.ndarray,
        tier_ok: np.ndarray,
        intent: np.ndarray | None = None,
        risk: np.ndarray | None = None,
    ) -> KNNRouter:
        X = _normalise(X)
        n = len(X)
        if n == 0:
            raise ValueError("KNNRouter.fit needs at least one training row")
        tier_ok = np.asarray(tier_ok, dtype=np.int8)
        if tier_ok.shape != (n, len(TIERS)):
            raise ValueError(f"tier_ok must have shape ({n}, {len(TIERS)}), got {tier_ok.shape}")
        self.X_ = X
        self.tier_ok_ = tier_ok
        self.intent_ = np.full(n, -1, np.int8) if intent is None else np.asarray(intent, np.int8)
        self.risk_ = np.full(n, -1, np.int8) if risk is None else np.asarray(risk, np.int8)
        observed = tier_ok >= 0
        ok = (tier_ok == 1).sum(axis=0)
        self.tier_prior_ = np.where(
            observed.sum(axis=0) > 0, ok / np.maximum(observed.sum(axis=0), 1), 0.5
        )
        self.intent_prior_ = _class_rates(self.intent_, len(INTENTS))
        self.risk_prior_ = _class_rates(self.risk_, len(RISKS))
        self.n_features_in_ = X.shape[1]
        return self

    def kneighbors(self, X: np.ndarray) -> np.ndarray:
        """Indices [N, k] of the nearest training rows (most similar first)."""
        X = _normalise(X)
        k = min(self.n_neighbors, len(self.X_))
        out = np.empty((len(X), k), dtype=np.int64)
        for start in range(0, len(X), self.chunk_size):
            sims = X[start : start + self.chunk_size] @ self.X_.T
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
            out[start : start + len(sims)] = np.take_along_axis(part, order, axis=1)
        return out

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Same keys and shapes as `TierwiseHeads.predict_proba`."""
        idx = self.kneighbors(X)
        a = self.prior_strength
        labels = self.tier_ok_[idx]  # [N, k, 3]
        seen = (labels >= 0).sum(axis=1)
        ok = (labels == 1).sum(axis=1)
        tier = (ok + a * self.tier_prior_) / (seen + a)
        tier = np.maximum.accumulate(tier, axis=1)  # monotone: nano <= mini <= full
        return {
            "intent": _vote(self.intent_[idx], len(INTENTS), self.intent_prior_, a),
            "risk": _vote(self.risk_[idx], len(RISKS), self.risk_prior_, a),
            "tier_ok": tier,
        }


def _class_rates(y: np.ndarray, k: int) -> np.ndarray:
    known = y[y >= 0]
    if len(known) == 0:
        return np.full(k, 1.0 / k)
    return np.bincount(known, minlength=k) / len(known)


def _vote(labels: np.ndarray, k: int, prior: np.ndarray, strength: float) -> np.ndarray:
    counts = np.stack([(labels == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64)
    counts += strength * prior
    return counts / counts.sum(axis=1, keepdims=True)


def predictions_from_proba(
    probs: dict[str, np.ndarray], model_version: str, threshold: float = 0.5
) -> list[Prediction]:
    """Wrap probability rows as Predictions, so that `classifier.decision.decide` can route them.

    `tokens_used=0, truncated=True` makes the decision estimate tokens from the text length.
    """
    out = []
    for ip, rp, tp in zip(probs["intent"], probs["risk"], probs["tier_ok"], strict=True):
        tier = next((t for t, p in zip(TIERS, tp, strict=True) if p >= threshold), TIERS[-1])
        out.append(
            Prediction(
                intent=INTENTS[int(np.argmax(ip))],
                intent_probs=dict(zip(INTENTS, map(float, ip), strict=True)),
                risk=RISKS[int(np.argmax(rp))],
                risk_probs=dict(zip(RISKS, map(float, rp), strict=True)),
                tier=tier,  # type: ignore[arg-type]
                tier_ok_probs=dict(zip(TIERS, map(float, tp), strict=True)),
                model_version=model_version,
                bundle_hash="knn",
                taxonomy_version=TAXONOMY_VERSION,
                tokens_used=0,
                truncated=True,
            )
        )
    return out


@dataclass
class BundleEmbedder:
    """The bundle's own static embedding (matrix from model.onnx, its tokenizer and window)."""

    student: object
    version: str

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.student.encode(texts, progress=progress)  # type: ignore[attr-defined]


def bundle_embedder(bundle_dir: Path) -> BundleEmbedder:
    """The embedding the served graph computes, so that kNN and the heads see the same vectors."""
    import onnx
    from onnx import numpy_helper

    from classifier.bundle import read_manifest
    from classifier.tokenizer import TextEncoder, load_tokenizer
    from training.model.embed import Pooling, StaticStudent

    manifest = read_manifest(bundle_dir)
    model = onnx.load(str(bundle_dir / "model.onnx"))
    matrix = next(
        (
            numpy_helper.to_array(init)
            for init in model.graph.initializer
            if init.name == "emb_matrix"
        ),
        None,
    )
    if matrix is None:
        raise ValueError(
            f"{bundle_dir}/model.onnx has no `emb_matrix`; the kNN router needs a "
            "static-embedding bundle built by `tierwise train`"
        )
    encoder = TextEncoder(
        load_tokenizer(bundle_dir / "tokenizer.json"), manifest.window, word_cache=False
    )
    version = f"bundle-{manifest.bundle_hash}"
    pooling = Pooling.from_manifest(manifest.embedding)
    student = StaticStudent(matrix, encoder, {"key": version}, bundle_dir, pooling)
    return BundleEmbedder(student, student.version)
