"""The tuned-student cache: two builds tuning the same rows at once tune once and share it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from training.realtext import finetune


def test_concurrent_tuning_of_the_same_rows_trains_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "student.json").write_text(json.dumps({"key": "base-1"}))
    calls: list[int] = []

    def slow_train(
        base_dir: Path,
        texts: list[str],
        labels: list[list[str]],
        params: dict[str, Any],
        out: Path,
        progress: bool,
    ) -> dict[str, Any]:
        calls.append(len(texts))
        time.sleep(0.3)  # long enough for the second build to arrive while the first trains
        (out / "model.safetensors").write_bytes(b"vectors")
        return {"classes": sorted({x for label in labels for x in label})}

    monkeypatch.setattr(finetune, "_train", slow_train)
    results: list[Path] = []

    def build() -> None:
        results.append(finetune.finetune_student(
            base, ["sum this up", "fix my sql"], ["summarize", "generate_code"], ["low", "low"],
            cache_root=tmp_path / "cache", progress=False))  # fmt: skip

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [2]  # the second build waited for the first and reused its vectors
    assert len(results) == 2 and results[0] == results[1]
    meta = json.loads((results[0] / "student.json").read_text())
    assert meta["tuned_from"] == "base-1"
    assert meta["tuning"]["classes"] == ["generate_code", "risk:low", "summarize"]
