"""The simulator's "what if" helpers: true per-tier success chances of a text."""

from __future__ import annotations

import numpy as np
import pytest

from data.generator.counterfactual import true_ok_probs


def test_perfect_reader_follows_the_simulators_difficulty() -> None:
    from data.generator.difficulty import NOISE_SD, THRESHOLDS, latent
    from data.generator.textprops import text_props

    texts = [
        "tldr",
        "Plan the migration step by step: compare three options, justify the "
        "choice, must finish within 2 weeks and at most 3 people, as a detailed table.",
    ]
    p = true_ok_probs(texts, ["summarize", "plan"], ["low", "high"])
    assert (np.diff(p, axis=1) >= 0).all() and p[0, 0] > p[1, 0]
    d = latent(text_props(texts[1]), "plan", "high")
    from math import erf, sqrt

    expected = 0.5 * (1 + erf((THRESHOLDS["mini"] - d) / (NOISE_SD * sqrt(2))))
    assert p[1, 1] == pytest.approx(expected)
