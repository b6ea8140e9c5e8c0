"""Text -> token ids exactly as the bundle's graph expects, with a fast path for plain text.

The Rust tokenizer costs ~35 µs per call plus ~3 µs per token here. BERT-style WordPiece
splits text into words first and tokenizes each word on its own, so ids can be cached per
word: for printable-ASCII text a word -> ids dict gives the same ids several times faster.
The cache is bounded in bytes (`classifier.wordcache`), so unique words cannot grow a worker.
It is used only when the tokenizer's pipeline is the one this shortcut reproduces (checked at
construction), and anything outside printable ASCII, or containing an added token such as
"[UNK]", goes to the Rust tokenizer. Tests compare both paths id for id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

from classifier.textwindow import TextWindow
from classifier.wordcache import WordCache

_NOT_PLAIN = re.compile(r"[^\x20-\x7e\t\n\r]")
# BERT's pre-tokenizer: split on whitespace, and every ASCII punctuation char is its own word.
_WORDS = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def load_tokenizer(path: Path) -> Tokenizer:
    """Load tokenizer.json with padding and truncation off (the window does the bounding)."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def word_cache_supported(tokenizer: Tokenizer) -> bool:
    """True when the pipeline is lowercase BertNormalizer + BertPreTokenizer + WordPiece."""
    spec = json.loads(tokenizer.to_str())
    normalizer = spec.get("normalizer") or {}
    return (
        normalizer.get("type") == "BertNormalizer"
        and normalizer.get("lowercase") is True
        and normalizer.get("clean_text") is True
        and (spec.get("pre_tokenizer") or {}).get("type") == "BertPreTokenizer"
        and (spec.get("model") or {}).get("type") == "WordPiece"
        and spec.get("post_processor") is None
    )


class TextEncoder:
    """Windowed text -> capped ids; the same object serves the runtime and the trainer."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        window: TextWindow,
        *,
        word_cache: bool = True,
        cache_bytes: int = 16 << 20,
    ) -> None:
        self.tokenizer = tokenizer
        self.window = window
        self.word_cache = word_cache and word_cache_supported(tokenizer)
        self._cache = WordCache(cache_bytes)
        self._added = tuple(t.content for t in tokenizer.get_added_tokens_decoder().values())

    @classmethod
    def from_file(cls, path: Path, window: TextWindow, *, word_cache: bool = True) -> TextEncoder:
        return cls(load_tokenizer(path), window, word_cache=word_cache)

    def encode(self, text: str) -> tuple[Sequence[int], bool]:
        """Return (ids, truncated): the window is cut in characters, then ids are capped."""
        windowed, cut = self.window.cut(text)
        ids = self._fast_ids(windowed) if self.word_cache else None
        if ids is None:
            ids = self.tokenizer.encode(windowed, add_special_tokens=False).ids
        capped, over = self.window.cap(ids)
        return capped, cut or over

    def encode_batch(self, texts: Sequence[str]) -> list[tuple[Sequence[int], bool]]:
        """Batch form for training: the Rust tokenizer in parallel, same window and cap."""
        cuts = [self.window.cut(text) for text in texts]
        encodings = self.tokenizer.encode_batch([w for w, _ in cuts], add_special_tokens=False)
        out = []
        for (_, cut), encoding in zip(cuts, encodings, strict=True):
            capped, over = self.window.cap(encoding.ids)
            out.append((capped, cut or over))
        return out

    def rust_ids(self, text: str) -> list[int]:
        """Reference ids of an (already windowed) text from the Rust tokenizer alone."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _fast_ids(self, text: str) -> list[int] | None:
        if _NOT_PLAIN.search(text) is not None:
            return None
        for token in self._added:
            if token in text:
                return None
        cache = self._cache
        # The young generation's dict directly: a hit costs one dict lookup, no method call.
        # After a turnover it is stale, which only sends more words through `cache.get`.
        young = cache.young
        ids: list[int] = []
        for word in _WORDS.findall(text.lower()):
            word_ids = young.get(word)
            if word_ids is None:
                word_ids = cache.get(word)
                if word_ids is None:
                    word_ids = self.tokenizer.encode(word, add_special_tokens=False).ids
                    cache.put(word, word_ids)
            ids.extend(word_ids)
        return ids
