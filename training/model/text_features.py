"""Cheap text features beside the embedding: counts of tokens that signal a hard request.

Why: a request's difficulty shows in countable things (how many numbers, steps, constraints,
code markers, question marks, list items, how long it is), and a mean of token vectors blurs
counts: ten constraints and one constraint in a long text move the mean alike. So each vocabulary
token carries a row of 0/1 flags (`flag_table`, built once from the tokenizer's vocabulary by
the predicates of `FLAGS`, the one definition), and a request's features are

    [sum over its tokens of the flag rows (one count per flag) | number of tokens]

computed by numpy in training (`count_features`) and in the ONNX graph by Gather(table, ids) *
mask, ReduceSum (training.model.onnx_graph): the runtime still feeds only ids and mask.

Counts, not log1p(counts): every head is a tree ensemble, which a monotone transform does not
change, and integer counts are exact in float32, so graph and numpy agree bit for bit in any
summation order (the embedding's argument, training.model.embed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

HEADS = ("intent", "risk", "tier")  # the heads that may read the features (heads.text_features)


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_CODE = _set(
    "def class import return lambda elif const var let function println printf print self null "
    "none async await struct public void int str dict ` { } ; == => -> != <= >= [ ] _ #"
)
_ARITHMETIC = _set(
    "calculate compute computed total sum average mean median percent percentage ratio "
    "many much multiply divide divided plus minus times % + * / = x"
)
_CONSTRAINT = _set(
    "must exactly least most only without never always should required require requires "
    "requirement requirements mandatory strictly avoid limit maximum minimum max min not no "
    "don exceed under within"
)
_STEP = _set(
    "then first second third next finally step steps stage phase plan compare why explain "
    "after before afterwards also additionally analyze analyse evaluate justify"
)
_LIST = _set("- * • ·")
_LONG = _set(
    "essay detailed detail comprehensive thorough thoroughly pages page paragraphs article "
    "report depth elaborate extensive chapter chapters outline full complete"
)
_SHORT = _set("brief briefly short concise sentence line dr tldr quick quickly yes")
_SPECIALIST = _set(
    "contract clause liability statute regulation compliance gdpr hipaa diagnosis dosage "
    "symptoms clinical patient tax audit revenue ebitda amortization derivative"
)


def _words(words: frozenset[str]) -> Callable[[str], bool]:
    return lambda token: token in words


def _is_number(token: str) -> bool:
    """A word-initial run of digits ('2024' is '202' '##4': one number, counted once)."""
    return token.isascii() and token.isdigit()


# name -> predicate on one vocabulary token string (WordPiece: '##' marks a word's continuation,
# which never matches a word list). Order is the column order; appending a flag changes the
# digest below, so cached embeddings and bundles built with another list are never mixed up.
FLAGS: dict[str, Callable[[str], bool]] = {
    "numbers": _is_number,
    "question_marks": _words(frozenset("?")),
    "code_markers": _words(_CODE),
    "arithmetic": _words(_ARITHMETIC),
    "constraints": _words(_CONSTRAINT),
    "steps": _words(_STEP),
    "list_markers": _words(_LIST),
    "long_output": _words(_LONG),
    "short_output": _words(_SHORT),
    "specialist": _words(_SPECIALIST),
}
NAMES = (*FLAGS, "tokens")  # the feature columns, in order
N_FEATURES = len(NAMES)


def _spec() -> dict[str, Any]:
    words = {
        "question_marks": ["?"], "code_markers": sorted(_CODE), "arithmetic": sorted(_ARITHMETIC),
        "constraints": sorted(_CONSTRAINT), "steps": sorted(_STEP), "list_markers": sorted(_LIST),
        "long_output": sorted(_LONG), "short_output": sorted(_SHORT),
        "specialist": sorted(_SPECIALIST),
    }  # fmt: skip
    return {"names": list(NAMES), "numbers": "ascii digits, word-initial", "words": words}


DIGEST = hashlib.sha256(json.dumps(_spec(), sort_keys=True).encode()).hexdigest()[:8]


def flag_table(vocab: dict[str, int], size: int) -> np.ndarray:
    """float32 [size, len(FLAGS)] of 0/1: row i says which flags token id i raises."""
    table = np.zeros((size, len(FLAGS)), dtype=np.float32)
    for token, index in vocab.items():
        for column, flag in enumerate(FLAGS.values()):
            if flag(token):
                table[index, column] = 1.0
    return table


def count_features(table: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """float32 [N_FEATURES] for one text's token ids: the graph's features, bit for bit."""
    out = np.zeros(N_FEATURES, dtype=np.float32)
    if len(ids):
        out[:-1] = table[np.asarray(ids, dtype=np.int64)].sum(axis=0, dtype=np.float32)
    out[-1] = np.float32(len(ids))
    return out


@dataclass(frozen=True)
class TextFeatures:
    """The flag table of one tokenizer's vocabulary; what the graph carries as an initializer."""

    table: np.ndarray

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> TextFeatures:
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        return cls(flag_table(vocab, tokenizer.get_vocab_size(with_added_tokens=True)))

    @property
    def tag(self) -> str:
        """Suffix of the embedder version: cache rows with and without features never mix."""
        return f":tf{DIGEST}"

    def layout(self, start: int) -> dict[str, object]:
        """The layout entry (training.model.embed.Pooling.layout) of the feature columns."""
        return {
            "name": "text_features",
            "columns": [start, start + N_FEATURES],
            "features": list(NAMES),
            "digest": DIGEST,
        }

    def encode_ids(self, ids: Sequence[int]) -> np.ndarray:
        return count_features(self.table, ids)


def check_heads(heads: Sequence[str]) -> tuple[str, ...]:
    """The heads that read text features, validated (a typo would silently switch them off)."""
    unknown = sorted(set(heads) - set(HEADS))
    if unknown:
        raise ValueError(f"heads.text_features: unknown head(s) {unknown}; choose from {HEADS}")
    return tuple(h for h in HEADS if h in heads)
