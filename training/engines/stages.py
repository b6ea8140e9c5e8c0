"""The engine seam: ingest, embed and replay scoring in process (default) or on Ray.

`training.pipeline.train(engine="ray")` calls these; with the default engine they call the
in-process functions, so the default path never imports Ray.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EngineOptions:
    """Where ingest and embed run, and the fit's sample size (None: every train row)."""

    engine: str = "local"
    workers: int | None = None
    fit_sample: int | None = None


def ingest(engine: str, logs: Sequence[Path], corrections: Sequence[Path], quarantine: Path,
           workers: int | None = None, taxonomy: Any = None) -> tuple[Any, Any]:  # fmt: skip
    """(TrainingSet, IngestReport) from the chosen engine; both give the same result."""
    from classifier.taxonomy import DEFAULT_TAXONOMY

    taxonomy = taxonomy or DEFAULT_TAXONOMY
    if engine == "ray":
        from training.engines.ray_ingest import ray_load_training_set

        return ray_load_training_set(list(logs), list(corrections), quarantine, num_cpus=workers,
                                     taxonomy=taxonomy)  # fmt: skip
    from training.ingest.load import load_training_set

    return load_training_set(list(logs), list(corrections), quarantine, taxonomy)


def replay_scorer(engine: str, workers: int | None = None) -> Any:
    """The replay's row scorer (training.replay.rowscore.Scorer): in process or on Ray Data;
    both give the same rows."""
    if engine == "ray":
        from training.engines.ray_replay import RayScorer

        return RayScorer(workers)
    if engine != "local":
        raise ValueError(f"unknown engine {engine!r}; use local or ray")
    from training.replay.rowscore import score_in_process

    return score_in_process


def encode_on_ray(embedder: Any, texts: Sequence[str], workers: int | None = None) -> Any:
    from training.engines.ray_embed import ray_encode

    return ray_encode(embedder, list(texts), workers=workers)
