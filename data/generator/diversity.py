"""Diversity statistics of generated texts: what tests assert and docs/generator.md reports."""

from __future__ import annotations

import random
import re
from collections import Counter

from classifier.taxonomy import INTENTS
from data.generator.texts import DOMAINS, TextSampler

_WORD = re.compile(r"\w+")


def instruction_of(text: str, limit: int = 300) -> str:
    """The part a person typed, roughly: the first and last `limit` characters."""
    return text if len(text) <= 2 * limit else text[:limit] + " " + text[-limit:]


def diversity(per_intent: int = 500, seed: int = 0, sampler: TextSampler | None = None) -> dict:
    """Per intent: distinct-text ratio, distinct word 3-grams, templates, domains, languages."""
    sampler = sampler or TextSampler()
    rng = random.Random(seed)
    domains = tuple(DOMAINS)
    stats: dict = {}
    for intent in INTENTS:
        samples = [sampler.sample(rng, intent, rng.choice(domains)) for _ in range(per_intent)]
        texts = [s.text for s in samples]
        trigrams: set[tuple[str, ...]] = set()
        for t in texts:
            words = _WORD.findall(instruction_of(t).lower())
            trigrams.update(zip(words, words[1:], words[2:], strict=False))
        stats[intent] = {
            "n": per_intent,
            "distinct_text_ratio": round(len(set(texts)) / per_intent, 3),
            "distinct_trigrams": len(trigrams),
            "templates": len({s.template for s in samples}),
            "hard_share": round(sum(s.hard for s in samples) / per_intent, 3),
            "non_english_share": round(sum(s.language != "en" for s in samples) / per_intent, 3),
            "registers": dict(Counter(s.register for s in samples)),
            "median_words": sorted(s.words for s in samples)[per_intent // 2],
            "max_words": max(s.words for s in samples),
        }
    return stats
