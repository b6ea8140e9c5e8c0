"""Hot-reload faults under load: the served bundle directory is broken in place while requests
flow, then repaired, then replaced by a new good version.

The running model was loaded into memory, so the server must keep answering with it: a broken
bundle is refused (and retried with backoff), never half-served. Faults: `model.onnx` cut in half,
a manifest whose hash no longer matches the model, `tokenizer.json` removed. Each is held for
`hold_s` seconds (several reload checks), then the good files come back; at the end a new
version with another threshold is swapped in. Zero failed requests is the target.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def truncate_model(bundle: Path) -> None:
    data = (bundle / "model.onnx").read_bytes()
    _atomic_write(bundle / "model.onnx", data[: len(data) // 2])


def wrong_hash(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    files = manifest.get("files") or manifest.get("hashes") or {}
    for key in list(files):
        if "model" in key:
            files[key] = "0" * 64
    if not files:  # a manifest without a file table: change the graph's bytes instead
        data = (bundle / "model.onnx").read_bytes()
        _atomic_write(bundle / "model.onnx", data[:-16] + bytes(16))
        return
    _atomic_write(bundle / "manifest.json", json.dumps(manifest, indent=2).encode())


def missing_tokenizer(bundle: Path) -> None:
    (bundle / "tokenizer.json").unlink()


FAULTS: dict[str, Callable[[Path], None]] = {
    "truncated model": truncate_model,
    "wrong hash": wrong_hash,
    "missing tokenizer": missing_tokenizer,
}


def restore(bundle: Path, good: Path) -> None:
    for name in ("model.onnx", "tokenizer.json", "manifest.json"):
        _atomic_write(bundle / name, (good / name).read_bytes())


def new_version(bundle: Path, good: Path, version: str) -> None:
    """A different valid bundle: same files, another version and decision threshold."""
    manifest = json.loads((good / "manifest.json").read_text())
    manifest["version"] = version
    manifest["thresholds"] = {**manifest.get("thresholds", {}), "tier_ok": 0.61}
    for name in ("model.onnx", "tokenizer.json"):
        _atomic_write(bundle / name, (good / name).read_bytes())
    _atomic_write(bundle / "manifest.json", json.dumps(manifest, indent=2).encode())


def inject(bundle: Path, good: Path, *, hold_s: float, log: Callable[[str], None]) -> None:
    """Every fault in turn (held `hold_s`), the repair after each, then a new version."""
    for name, fault in FAULTS.items():
        log(f"fault: {name}")
        fault(bundle)
        time.sleep(hold_s)
        log(f"repaired: {name}")
        restore(bundle, good)
        time.sleep(hold_s / 2)
    log("new version")
    new_version(bundle, good, f"reliability-{int(time.time())}")
    time.sleep(hold_s)


def copy_bundle(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return dst
