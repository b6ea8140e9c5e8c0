"""The default simulated logs, generated once per (n, seed, generator version) and reused.

`tierwise train --build-default` and `tierwise evaluate` without `--logs` both read them, so
they live with the generator rather than in either command.
"""

from __future__ import annotations

import logging
from pathlib import Path

from data.generator.writer import GENERATOR_VERSION, generate

logger = logging.getLogger(__name__)


def default_logs(work_dir: Path, n: int, seed: int) -> tuple[Path, Path, Path]:
    """(logs, corrections, truth) in `work_dir`, generated unless the same n, seed and generator
    version already wrote them there."""
    out = Path(work_dir) / f"generated-n{n}-seed{seed}"
    logs, corrections, truth = out / "logs.jsonl", out / "corrections.jsonl", out / "truth.jsonl"
    marker = out / ".complete"
    stamp = f"ok generator={GENERATOR_VERSION}\n"
    if not marker.is_file() or marker.read_text() != stamp:
        logger.info("generating %d default log records (seed %d) into %s", n, seed, out)
        generate(n, seed=seed, out_dir=out)
        marker.write_text(stamp)
    return logs, corrections, truth
