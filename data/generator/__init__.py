"""The production-router simulator behind `tierwise generate`.

Texts are composed from phrasing frames x domain content x register x length x noise
(`texts.py`), routed by the rule-based logging policy with exploration and the escalation
playbook (`router.py`), and written as schema-v1 logs, a correction stream and the hidden truth
(`writer.py`).

    >>> from data.generator import generate
    >>> summary = generate(1000, seed=1, out_dir=Path("logs"))          # doctest: +SKIP
"""

from __future__ import annotations

from data.generator.texts import TextSample, TextSampler
from data.generator.writer import GENERATOR_VERSION, GenerateSummary, generate, iter_records

__all__ = [
    "GENERATOR_VERSION",
    "GenerateSummary",
    "TextSample",
    "TextSampler",
    "generate",
    "iter_records",
]
