"""The bundle's drift reference: the served model's statistics on a sample of its training data.

Computed by the exported bundle itself (the same `Classifier.classify` and the same
`classifier.drift.DriftStats` the service keeps), so that live and reference figures differ only
by the traffic, never by the code. Written into the manifest as `reference_stats` by
training.model.export; readers must accept bundles without it. Labels are the bundle's taxonomy
(`Classifier.taxonomy`), the same ones the service counts.

Example:
    stats = reference_stats(Classifier.load(bundle), texts, failures={"nano": (800, 120)})
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from classifier.drift import DriftStats
from classifier.runtime import Classifier

DEFAULT_SAMPLE = 4000  # ~1-2 s of classify on this machine; PSI bins need a few thousand rows


def first_attempt_failures(
    first_tier: np.ndarray, tier_ok: np.ndarray, tiers: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """Per tier (`tiers`: the taxonomy's, the columns of `tier_ok`): (first attempts observed,
    of which failed), from the censored tier labels."""
    out: dict[str, tuple[int, int]] = {}
    rows = np.arange(len(first_tier))
    seen = tier_ok[rows, first_tier.astype(int)]
    for rank, tier in enumerate(tiers):
        at = (first_tier == rank) & (seen >= 0)
        out[tier] = (int(at.sum()), int((seen[at] == 0).sum()))
    return out


def reference_stats(
    classifier: Classifier,
    texts: Sequence[str],
    *,
    features: Sequence[str | None] | None = None,
    failures: Mapping[str, tuple[int, int]] | None = None,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
) -> dict[str, Any]:
    """`DriftStats.summary()` over a seeded sample of `texts`, with training failure rates."""
    index = list(range(len(texts)))
    if len(index) > sample:
        index = sorted(random.Random(seed).sample(index, sample))
    labels = classifier.taxonomy
    stats = DriftStats(
        labels.intents, labels.risks, labels.tiers, window=max(2, len(index)) * 2, segments=2
    )
    chosen = [texts[i] for i in index]
    wanted = [features[i] for i in index] if features is not None else None
    for start in range(0, len(chosen), 256):  # a batch is padded to its longest text
        part = wanted[start : start + 256] if wanted is not None else None
        for prediction in classifier.classify_batch(chosen[start : start + 256], part):
            stats.observe(prediction, prediction.abstain)
    summary = stats.summary()
    if failures is not None:
        summary["rates"]["failure"] = {
            tier: (failed / tried if tried else None) for tier, (tried, failed) in failures.items()
        }
        summary["outcomes"] = {tier: tried for tier, (tried, _) in failures.items()}
    summary["sample"] = {"rows": len(index), "of": len(texts), "seed": seed}
    return summary
