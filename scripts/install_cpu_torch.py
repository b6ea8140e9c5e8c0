"""Install the CPU build of the torch version pinned in pyproject.toml into this environment.

Run by scripts/setup-venv with the virtualenv's python. A plain `torch==X` can resolve to the
CUDA build (about 2.7 GB of nvidia-* libraries, a 5.9 GB virtualenv) even where a CPU wheel
is on offer, so the CPU build is asked for by name. Tried in order:

1. `torch==X+cpu` from pip's configured sources (index, extra indexes, find-links);
2. `torch==X+cpu` from PyTorch's CPU wheel index, if it answers within a few seconds;
3. plain `torch==X` (macOS and Windows wheels are CPU builds without the `+cpu` label).

Prints which one was taken and records it in <venv>/.tierwise-torch. When a CPU build is in
place, GPU libraries a former CUDA build left behind are uninstalled.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
RECORD = Path(sys.prefix) / ".tierwise-torch"
GPU_PREFIXES = ("nvidia-", "cuda-", "cupy")
GPU_NAMES = {"triton", "pytorch-triton"}


def pinned_version(pyproject: Path) -> str:
    """The X of `torch==X` in the train extra: one place says which torch the project uses."""
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    for requirement in extras["train"]:
        match = re.fullmatch(r"torch\s*==\s*([\w.]+)", requirement.split(";")[0].strip())
        if match:
            return match.group(1)
    sys.exit(f"no torch==X pin in the train extra of {pyproject}; pin one")


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def gpu_libraries() -> list[str]:
    names = {dist.metadata["Name"] for dist in metadata.distributions()}
    return sorted(
        n for n in names if n and (n.lower().startswith(GPU_PREFIXES) or n.lower() in GPU_NAMES)
    )


def pip_install(*args: str, show_errors: bool) -> bool:
    command = [sys.executable, "-m", "pip", "install", "--quiet", *args]
    done = subprocess.run(command, capture_output=not show_errors, text=True)
    return done.returncode == 0


def reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


def install(version: str) -> str:
    """Install torch and return a sentence saying which build was taken and from where."""
    cpu = f"torch=={version}+cpu"
    if installed("torch") == f"{version}+cpu":
        return f"{cpu} (already installed)"
    if pip_install(cpu, show_errors=False):
        return f"{cpu} from pip's configured sources"
    print(f"== torch: pip's configured sources gave no {cpu}; trying others", file=sys.stderr)
    if reachable(f"{PYTORCH_CPU_INDEX}/torch/") and pip_install(
        "--extra-index-url", PYTORCH_CPU_INDEX, cpu, show_errors=False
    ):
        return f"{cpu} from PyTorch's CPU wheel index ({PYTORCH_CPU_INDEX})"
    if not pip_install(f"torch=={version}", show_errors=True):
        sys.exit(f"could not install torch=={version}; see pip's message above")
    return (
        f"torch=={version} (plain: no +cpu build was offered; on Linux x86_64 this can be the "
        "CUDA build with several GB of GPU libraries)"
    )


def main() -> int:
    version = pinned_version(Path(sys.argv[1]))
    taken = install(version)
    print(f"== torch: {taken}", file=sys.stderr)
    RECORD.write_text(taken + "\n")
    leftovers = gpu_libraries()
    if leftovers and (installed("torch") or "").endswith("+cpu"):
        print(
            f"== removing GPU libraries left by a CUDA build: {' '.join(leftovers)}",
            file=sys.stderr,
        )
        command = [sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", *leftovers]
        subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
