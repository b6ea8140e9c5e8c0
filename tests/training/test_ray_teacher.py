"""The teacher's embedding on Ray (sentence-transformers in each actor): vectors equal to the
in-process teacher to 1e-6, and `tierwise train --engine ray` with the teacher comparison on
logs the same comparison figures as the in-process run. A local two-CPU Ray cluster."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import orjson
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_teacher_on_ray_equals_in_process(ray_cluster: None, generated_logs: Path) -> None:
    from training.engines.ray_embed import RayEmbedder
    from training.model.embed import Teacher

    texts = [orjson.loads(line)["text"] for line in
             (generated_logs / "logs.jsonl").read_bytes().splitlines()[:240]]  # fmt: skip
    teacher = Teacher(batch_size=16)
    expected = teacher.encode(texts)  # loads the model here...
    assert pickle.loads(pickle.dumps(teacher))._model is None  # ...which is not shipped
    on_ray = RayEmbedder(teacher, workers=2, block_rows=80)  # 3 blocks over 2 actors
    assert on_ray.version == teacher.version  # the embedding cache keys on it
    got = on_ray.encode(texts)
    assert got.shape == expected.shape == (240, 384) and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-6
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)  # real, normalised vectors


def test_train_on_ray_compares_the_teacher_as_in_process(
    ray_cluster: None, generated_logs: Path, sqlite_tracking: str, student_dir: Path,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from mlflow import MlflowClient

    from classifier.cli import main
    from classifier.runtime import Classifier
    from training.engines import ray_embed

    calls: list[int] = []
    real_encode = ray_embed.ray_encode

    def counting(embedder, texts, **kwargs):  # type: ignore[no-untyped-def]
        if type(embedder).__name__ == "Teacher":
            calls.append(len(texts))
        return real_encode(embedder, texts, **kwargs)

    monkeypatch.setattr(ray_embed, "ray_encode", counting)
    small = {"realtext.enabled": False, "heads.max_iter": 15, "teacher.train_sample": 150,
             "teacher.eval_sample": 60, "teacher.latency_sample": 3, "promote.max_rows": 400,
             "embed.cache": False}  # fmt: skip
    metrics = {}
    for engine in ("local", "ray"):
        code = main([
            "train", "--engine", engine, "--no-register", "--no-progress",
            "--logs", str(generated_logs / "logs.jsonl"),
            "--corrections", str(generated_logs / "corrections.jsonl"),
            "--truth", str(generated_logs / "truth.jsonl"), "--student-dir", str(student_dir),
            "--bundle-dir", str(tmp_path / engine), "--work-dir", str(tmp_path / f"w-{engine}"),
            *[arg for k, v in small.items() for arg in ("--set", f"{k}={v}")],
        ])  # fmt: skip
        assert code == 0
        run_id = Classifier.load(tmp_path / engine).manifest.mlflow_run_id
        run = MlflowClient(tracking_uri=sqlite_tracking).get_run(run_id)
        assert run.data.params["engine"] == engine
        metrics[engine] = {k: v for k, v in run.data.metrics.items() if "cmp_teacher" in k}
    assert calls and calls[0] >= 150  # the teacher's sample went through Ray
    assert len(metrics["ray"]) >= 6
    assert metrics["ray"] == pytest.approx(metrics["local"], abs=1e-9)
