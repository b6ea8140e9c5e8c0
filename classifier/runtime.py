"""Load a bundle and classify texts in process: tokenizer + one onnxruntime session.

The hot path is kept lean: no pydantic, no per-call allocation beyond the id array, label
tuples and the threshold precomputed at load. Imports neither torch, scikit-learn nor MLflow.

Example:
    clf = Classifier.load(Path("models/default"))
    clf.classify("Summarize this thread for the weekly update").tier
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import onnxruntime as ort

from classifier.bundle import (
    INPUT_NAMES,
    MODEL_FILE,
    OUTPUT_NAMES,
    TOKENIZER_FILE,
    Manifest,
    check_signature,
    read_manifest,
    verify_files,
)
from classifier.errors import BundleError, InputError
from classifier.prediction import Prediction
from classifier.taxonomy import Intent, Risk, Tier
from classifier.textwindow import TextWindow
from classifier.tokenizer import TextEncoder, load_tokenizer
from classifier.tuning import TierTuning

_PROBE = "Summarize the following meeting notes in three bullet points."


def _session(model_path: Path, intra_op_threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    # Spinning threads steal the cores that other workers and the server need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


class Classifier:
    """A loaded, verified bundle. Thread-safe: onnxruntime sessions allow concurrent `run`."""

    def __init__(
        self,
        session: ort.InferenceSession,
        encoder: TextEncoder,
        manifest: Manifest,
        bundle_dir: Path,
    ) -> None:
        self._session = session
        self._encoder = encoder
        self.manifest = manifest
        self.bundle_dir = bundle_dir
        self.bundle_hash = manifest.bundle_hash
        self.model_version = manifest.version
        self.name = manifest.name
        self.taxonomy = manifest.label_taxonomy  # labels of the heads, in graph output order
        self.taxonomy_version = self.taxonomy.version
        self._intents = cast(tuple[Intent, ...], self.taxonomy.intents)
        self._risks = cast(tuple[Risk, ...], self.taxonomy.risks)
        self._tiers = cast(tuple[Tier, ...], self.taxonomy.tiers)
        self._threshold = manifest.tier_threshold
        self._min_intent, self._min_margin, self._min_risk = manifest.abstain_thresholds
        self.tier_tuning = (
            TierTuning.from_dict(manifest.tier_tuning) if manifest.tier_tuning is not None else None
        )
        self._outputs = list(OUTPUT_NAMES)
        self._ids_name, self._mask_name = INPUT_NAMES

    @classmethod
    def load(
        cls, bundle_dir: Path | str, *, intra_op_threads: int = 1, word_cache: bool = True
    ) -> Classifier:
        """Verify and load a bundle; raises BundleError (saying what to do) on any mismatch."""
        bundle_dir = Path(bundle_dir)
        if not bundle_dir.is_dir():
            raise BundleError(
                f"no bundle directory at {bundle_dir}; build one with `tierwise train` or "
                "`tierwise export`, or point to an existing bundle"
            )
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be >= 1")
        manifest = read_manifest(bundle_dir)
        verify_files(bundle_dir, manifest)
        try:
            session = _session(bundle_dir / MODEL_FILE, intra_op_threads)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BundleError(
                f"onnxruntime cannot load {bundle_dir / MODEL_FILE} ({exc}); rebuild it with "
                "`tierwise export`"
            ) from exc
        check_signature(
            bundle_dir,
            manifest,
            [(i.name, i.shape) for i in session.get_inputs()],
            [(o.name, o.shape) for o in session.get_outputs()],
            session.get_modelmeta().custom_metadata_map,
        )
        try:
            tokenizer = load_tokenizer(bundle_dir / TOKENIZER_FILE)
        except Exception as exc:  # tokenizers raises plain Exception on bad JSON
            raise BundleError(
                f"cannot read {bundle_dir / TOKENIZER_FILE} ({exc}); rebuild with `tierwise export`"
            ) from exc
        vocab = manifest.embedding.get("vocab_size")
        if vocab is not None and tokenizer.get_vocab_size() != int(vocab):
            raise BundleError(
                f"tokenizer at {bundle_dir} has {tokenizer.get_vocab_size()} tokens, the graph "
                f"embeds {vocab}; rebuild with `tierwise export`"
            )
        encoder = TextEncoder(tokenizer, manifest.window, word_cache=word_cache)
        classifier = cls(session, encoder, manifest, bundle_dir)
        classifier._warm_up()
        return classifier

    def _warm_up(self) -> None:
        """One real run: catches a graph that loads but cannot execute, before serving it."""
        try:
            prediction = self.classify(_PROBE)
        except Exception as exc:
            raise BundleError(
                f"bundle at {self.bundle_dir} loads but fails to run ({exc}); rebuild with "
                "`tierwise export`"
            ) from exc
        values = [*prediction.intent_probs.values(), *prediction.tier_ok_probs.values()]
        if not all(math.isfinite(v) and -1e-6 <= v <= 1 + 1e-6 for v in values):
            raise BundleError(
                f"bundle at {self.bundle_dir} gives probabilities outside [0, 1]; rebuild with "
                "`tierwise export`"
            )

    @property
    def window(self) -> TextWindow:
        return self._encoder.window

    def encode(self, text: str) -> tuple[Sequence[int], bool]:
        """Token ids the graph sees for `text` (windowed, capped) and whether it was cut."""
        return self._encoder.encode(text)

    def classify(self, text: str, feature: str | None = None) -> Prediction:
        """Classify one text. `feature` is accepted for the decision layer and not used here."""
        if type(text) is not str:
            raise InputError(f"text must be a string, got {type(text).__name__}")
        if not text or text.isspace():
            raise InputError("text is empty; send the request text to classify")
        ids, truncated = self._encoder.encode(text)
        n = len(ids)
        if n:
            id_array = np.array(ids, dtype=np.int64).reshape(1, n)
            mask = np.ones((1, n), dtype=np.int64)
        else:
            id_array = np.zeros((1, 1), dtype=np.int64)
            mask = np.zeros((1, 1), dtype=np.int64)
        intent, risk, tier = self._session.run(
            self._outputs, {self._ids_name: id_array, self._mask_name: mask}
        )
        return self._prediction(
            intent[0].tolist(), risk[0].tolist(), tier[0].tolist(), n, truncated
        )

    def classify_batch(
        self, texts: Sequence[str], features: Sequence[str | None] | None = None
    ) -> list[Prediction]:
        """Classify many texts in one graph run (padded to the longest); order is kept."""
        if features is not None and len(features) != len(texts):
            raise InputError(f"got {len(texts)} texts but {len(features)} features")
        if not texts:
            return []
        encoded = []
        for index, text in enumerate(texts):
            if type(text) is not str or not text or text.isspace():
                raise InputError(f"text {index} is empty or not a string")
            encoded.append(self._encoder.encode(text))
        width = max(1, max(len(ids) for ids, _ in encoded))
        id_array = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, (ids, _) in enumerate(encoded):
            id_array[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        intent, risk, tier = self._session.run(
            self._outputs, {self._ids_name: id_array, self._mask_name: mask}
        )
        intent, risk, tier = intent.tolist(), risk.tolist(), tier.tolist()
        return [
            self._prediction(intent[row], risk[row], tier[row], len(ids), truncated)
            for row, (ids, truncated) in enumerate(encoded)
        ]

    def _prediction(
        self, ip: list[float], rp: list[float], tp: list[float], tokens: int, truncated: bool
    ) -> Prediction:
        # Widths were checked against the label tuples at load, so zip needs no strict check.
        tiers = self._tiers
        tier = tiers[-1]
        for name, p in zip(tiers, tp, strict=False):
            if p >= self._threshold:
                tier = name
                break
        ranked = sorted(ip)
        top, margin = ranked[-1], ranked[-1] - ranked[-2]
        top_risk = max(rp)
        reason = None
        if top < self._min_intent:
            reason = f"intent P {top:.2f} < {self._min_intent:.2f}"
        elif margin < self._min_margin:
            reason = f"intent margin {margin:.2f} < {self._min_margin:.2f}"
        elif top_risk < self._min_risk:
            reason = f"risk P {top_risk:.2f} < {self._min_risk:.2f}"
        return Prediction(
            intent=self._intents[ip.index(top)],
            intent_probs=dict(zip(self._intents, ip, strict=False)),
            risk=self._risks[rp.index(top_risk)],
            risk_probs=dict(zip(self._risks, rp, strict=False)),
            tier=tier,
            tier_ok_probs=dict(zip(tiers, tp, strict=False)),
            model_version=self.model_version,
            bundle_hash=self.bundle_hash,
            taxonomy_version=self.taxonomy_version,
            tokens_used=tokens,
            truncated=truncated,
            intent_margin=margin,
            abstain=reason is not None,
            abstain_reason=reason,
            tier_tuning=self.tier_tuning,
        )

    def __repr__(self) -> str:
        return f"Classifier({self.name}@{self.model_version}, hash={self.bundle_hash})"
