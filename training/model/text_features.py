"""Cheap text features beside the embedding: counts of tokens that signal a hard request, and
of the words that define each intent.

Why: a request's difficulty shows in countable things (how many numbers, steps, constraints,
code markers, question marks, list items, how long it is), and a mean of token vectors blurs
counts: ten constraints and one constraint in a long text move the mean alike. So each vocabulary
token carries a row of 0/1 flags (`flag_table`, built once from the tokenizer's vocabulary by
the predicates of `FLAGS`, the one definition).

The intent cues (`CUES`) answer a second blur: "Detect the sentiment in the following: <a long
angry e-mail>" pools into a vector that reads like the e-mail, because every pasted token weighs
as much as the instruction. A count of the words DESIGN §3 defines each intent by, in the first
`CUE_HEAD_TOKENS` tokens (where instructions sit) and in the whole window, stays sharp however
long the pasted content is. A cue word is matched by its first two WordPiece pieces ("summarize"
is `sum ##mar`), so the graph needs only two lookups and a shift (`CueTables`).

A request's features are

    [flag counts (one per flag) | cue counts in the head, per intent | cue counts in the whole
     window, per intent | number of tokens]

computed by numpy in training (`count_features`) and in the ONNX graph by Gathers, a shift, 0/1
products and sums (training.model.onnx_graph): the runtime still feeds only ids and mask.

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

# intent -> the words DESIGN §3 defines it by (verbs of the task, nouns of its output). Written
# from the definitions once and measured as written (docs/model.md, "Intent cues"); `chat` has
# none: it is what is left. A word is one lower-case word as the tokenizer splits it.
CUES: dict[str, frozenset[str]] = {
    "summarize": _set(
        "summarize summarise summarizing summary summaries summarization tldr tl condense recap "
        "gist shorten abstract overview highlights takeaways"
    ),
    "transform": _set(
        "rewrite rewriting rephrase paraphrase translate translation translating reword reformat "
        "convert format proofread grammar grammatical spelling polish tone formal informal "
        "simplify extract edit edits fix correct improve"
    ),
    "classify": _set(
        "classify classification categorize categorise categorization category categories "
        "sentiment label labels tag tags topic triage detect identify positive negative neutral "
        "spam toxic whether"
    ),
    "plan": _set(
        "plan planning steps step strategy schedule itinerary roadmap analyze analyse analysis "
        "compare tradeoffs trade pros cons solve calculate prove puzzle optimize"
    ),
    "generate_code": _set(
        "code function script python javascript java sql regex bash shell program implement "
        "debug refactor class api bug compile typescript html css query"
    ),
    "review_policy": _set(
        "policy policies compliance compliant comply gdpr hipaa regulation regulations "
        "regulatory violate violates violation guidelines terms contract clause audit legal law"
    ),
}
# The head window of the cue counts. Equal to embed.Pooling's default edge_tokens by choice, not
# by import (embed imports this module), and independent of it: a bundle may pool without edges.
CUE_HEAD_TOKENS = 16

NAMES = (
    *FLAGS,
    *(f"cue_head_{intent}" for intent in CUES),
    *(f"cue_{intent}" for intent in CUES),
    "tokens",
)  # the feature columns, in order
N_FEATURES = len(NAMES)


def _spec() -> dict[str, Any]:
    words = {
        "question_marks": ["?"], "code_markers": sorted(_CODE), "arithmetic": sorted(_ARITHMETIC),
        "constraints": sorted(_CONSTRAINT), "steps": sorted(_STEP), "list_markers": sorted(_LIST),
        "long_output": sorted(_LONG), "short_output": sorted(_SHORT),
        "specialist": sorted(_SPECIALIST),
    }  # fmt: skip
    cues = {intent: sorted(words) for intent, words in CUES.items()}
    return {
        "names": list(NAMES), "numbers": "ascii digits, word-initial", "words": words,
        "cues": cues, "cue_head_tokens": CUE_HEAD_TOKENS, "cue_match": "first two pieces",
    }  # fmt: skip


DIGEST = hashlib.sha256(json.dumps(_spec(), sort_keys=True).encode()).hexdigest()[:8]


def flag_table(vocab: dict[str, int], size: int) -> np.ndarray:
    """float32 [size, len(FLAGS)] of 0/1: row i says which flags token id i raises."""
    table = np.zeros((size, len(FLAGS)), dtype=np.float32)
    for token, index in vocab.items():
        for column, flag in enumerate(FLAGS.values()):
            if flag(token):
                table[index, column] = 1.0
    return table


@dataclass(frozen=True)
class CueTables:
    """The cue words as small lookup tables, so the graph matches them with two Gathers.

    `slot` [vocab] int64 names each token that is some cue word's first or second piece (0:
    none). `first` [slots, words] and `second` [slots, words] are 0/1: slot s is word w's first
    piece / second piece; a one-piece word's `second` column is all ones (any next token).
    `lists` [words, intents] is 0/1 membership. A word matches at position p when
    first[slot[p], w] * second[slot[p + 1], w] = 1 (the slot after the last token is 0).
    """

    slot: np.ndarray
    first: np.ndarray
    second: np.ndarray
    lists: np.ndarray

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, size: int) -> CueTables:
        words: list[tuple[int, list[int]]] = []
        for column, intent in enumerate(CUES):
            seen: set[tuple[int, ...]] = set()  # summarize, summarizing: both `sum ##mar`, once
            for word in sorted(CUES[intent]):
                pieces = tokenizer.encode(word, add_special_tokens=False).ids[:2]
                if pieces and tuple(pieces) not in seen:
                    seen.add(tuple(pieces))
                    words.append((column, pieces))
        pieces_used = sorted({piece for _, pieces in words for piece in pieces})
        slot = np.zeros(size, dtype=np.int64)
        slot[pieces_used] = np.arange(1, len(pieces_used) + 1)
        first = np.zeros((len(pieces_used) + 1, len(words)), dtype=np.float32)
        second = np.zeros_like(first)
        lists = np.zeros((len(words), len(CUES)), dtype=np.float32)
        for w, (column, pieces) in enumerate(words):
            first[slot[pieces[0]], w] = 1.0
            if len(pieces) == 1:
                second[:, w] = 1.0
            else:
                second[slot[pieces[1]], w] = 1.0
            lists[w, column] = 1.0
        return cls(slot, first, second, lists)

    def counts(self, ids: np.ndarray) -> np.ndarray:
        """float32 [2 * intents]: cue counts in the head window, then in the whole window."""
        slots = self.slot[ids]
        following = np.append(slots[1:], 0)
        per_token = (self.first[slots] * self.second[following]) @ self.lists  # [n, intents]
        head = per_token[:CUE_HEAD_TOKENS].sum(axis=0, dtype=np.float32)
        return np.concatenate([head, per_token.sum(axis=0, dtype=np.float32)])


def count_features(table: np.ndarray, ids: Sequence[int], cues: CueTables) -> np.ndarray:
    """float32 [N_FEATURES] for one text's token ids: the graph's features, bit for bit."""
    out = np.zeros(N_FEATURES, dtype=np.float32)
    if len(ids):
        array = np.asarray(ids, dtype=np.int64)
        out[: len(FLAGS)] = table[array].sum(axis=0, dtype=np.float32)
        out[len(FLAGS) : -1] = cues.counts(array)
    out[-1] = np.float32(len(ids))
    return out


@dataclass(frozen=True)
class TextFeatures:
    """The flag table and cue tables of one tokenizer's vocabulary: the graph's initializers."""

    table: np.ndarray
    cues: CueTables

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> TextFeatures:
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        size = tokenizer.get_vocab_size(with_added_tokens=True)
        return cls(flag_table(vocab, size), CueTables.from_tokenizer(tokenizer, size))

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
        return count_features(self.table, ids, self.cues)


def check_heads(heads: Sequence[str]) -> tuple[str, ...]:
    """The heads that read text features, validated (a typo would silently switch them off)."""
    unknown = sorted(set(heads) - set(HEADS))
    if unknown:
        raise ValueError(f"heads.text_features: unknown head(s) {unknown}; choose from {HEADS}")
    return tuple(h for h in HEADS if h in heads)
