"""The Ray engine gives what the in-process path gives: ingestion (counts, reasons, labels,
fingerprint, quarantine entries) over many shards with damage and duplicates across them, and
embeddings to 1e-6. A local Ray cluster of two CPUs, started once for the module."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest

from training.ingest.load import load_training_set

pytestmark = [pytest.mark.slow, pytest.mark.ray]
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def _sources(tmp_path: Path, generated: Path) -> tuple[list[Path], list[Path]]:
    """Generated logs, the broken samples, the clean samples again as .gz (every record a
    duplicate of the first copy) and 40 of them as Parquet; corrections, broken ones too."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    clean = SAMPLES / "logs.jsonl"
    gz = tmp_path / "again.jsonl.gz"
    gz.write_bytes(gzip.compress(clean.read_bytes()))
    records = [orjson.loads(line) for line in clean.read_bytes().splitlines()[:40]]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "some.parquet", row_group_size=16)
    early = tmp_path / "early.jsonl"
    first = records[0]
    early.write_bytes(orjson.dumps({"request_id": first["request_id"], "kind": "edit",
                                    "ts": "2020-01-01T00:00:00Z"}) + b"\n")  # fmt: skip
    logs = [generated / "logs.jsonl", SAMPLES / "logs-broken.jsonl", clean, gz,
            tmp_path / "some.parquet"]  # fmt: skip
    corrections = [generated / "corrections.jsonl", SAMPLES / "corrections.jsonl",
                   SAMPLES / "corrections-broken.jsonl", early]  # fmt: skip
    return logs, corrections


def _entries(path: Path) -> list[bytes]:
    return sorted(path.read_bytes().splitlines())


def test_ray_ingestion_matches_in_process(
    ray_cluster: None, generated_logs: Path, tmp_path: Path
) -> None:
    from training.engines.ray_ingest import ray_load_training_set
    from training.engines.shards import plan_shards

    logs, corrections = _sources(tmp_path, generated_logs)
    shard_bytes = 64 * 1024
    assert len(plan_shards(logs, shard_bytes)) > 8  # the generated file alone is cut in many
    expected, want = load_training_set(logs, corrections, quarantine_path=tmp_path / "q1.jsonl")
    data, got = ray_load_training_set(
        logs, corrections, quarantine_path=tmp_path / "q2.jsonl", shard_bytes=shard_bytes
    )
    assert got.balanced and got.valid + got.quarantined == got.lines_read
    assert got.duplicates >= 300 and got.quarantined > got.duplicates  # damage and duplicates
    assert got.corrections_before_request >= 1 and got.corrections_quarantined >= 1
    mine, theirs = got.to_dict(), want.to_dict()
    mine.pop("quarantine_path"), theirs.pop("quarantine_path")
    assert mine == theirs  # counts, reasons, tier labels, time range and fingerprint
    assert _entries(tmp_path / "q2.jsonl") == _entries(tmp_path / "q1.jsonl")
    assert data.request_id == expected.request_id
    assert data.text == expected.text and data.feature == expected.feature
    for name in ("ts", "intent", "risk", "tier_ok", "first_tier", "input_tokens"):
        assert np.array_equal(getattr(data, name), getattr(expected, name)), name
    assert np.array_equal(data.propensity, expected.propensity, equal_nan=True)


def test_ray_ingestion_shards_count_every_line_of_one_file(
    ray_cluster: None, generated_logs: Path, tmp_path: Path
) -> None:
    """A file with blank lines and a bad line at shard edges: nothing lost, lines numbered."""
    from training.engines.ray_ingest import ray_load_training_set

    lines = (generated_logs / "logs.jsonl").read_bytes().splitlines(keepends=True)[:200]
    lines[50:50] = [b"\n", b"{not json\n", b"   \n"]
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b"".join(lines))
    shutil.copy(path, tmp_path / "copy.jsonl")
    _, want = load_training_set([path], quarantine_path=tmp_path / "q1.jsonl")
    _, got = ray_load_training_set([path], quarantine_path=tmp_path / "q2.jsonl",
                                   shard_bytes=4096)  # fmt: skip
    assert (got.lines_read, got.blank_lines, got.valid, got.quarantined) == (201, 2, 200, 1)
    assert (want.lines_read, want.blank_lines, want.valid, want.quarantined) == (201, 2, 200, 1)
    (entry,) = [orjson.loads(x) for x in _entries(tmp_path / "q2.jsonl")]
    assert entry["line"] == 52 and entry["reason"] == "bad_json"


def test_ray_embedding_equals_in_process(
    ray_cluster: None, student_dir: Path, generated_logs: Path
) -> None:
    from training.engines.ray_embed import ray_encode
    from training.model.embed import StaticStudent

    texts = [orjson.loads(line)["text"] for line in
             (generated_logs / "logs.jsonl").read_bytes().splitlines()[:700]]  # fmt: skip
    student = StaticStudent.load(student_dir)
    expected = student.encode(texts)
    got = ray_encode(student, texts, workers=2, batch_size=64, block_rows=100)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-6
    assert np.abs(expected).sum() > 0  # real vectors, not a zero matrix on both sides


def test_train_with_the_ray_engine_logs_the_stratified_fit_sample(
    ray_cluster: None, generated_logs: Path, sqlite_tracking: str, student_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    from mlflow import MlflowClient

    from classifier.cli import main
    from classifier.runtime import Classifier
    from training.ingest.load import load_training_set

    small = {
        "realtext.enabled": False,
        "teacher.enabled": False,
        "heads.max_iter": 15,
        "promote.max_rows": 400,
    }  # as tests/training/conftest.py's SMALL, no teacher
    sets = [f"{k}={v}" for k, v in small.items()]
    code = main([
        "train", "--engine", "ray", "--fit-sample", "600", "--no-register", "--no-progress",
        "--logs", str(generated_logs / "logs.jsonl"),
        "--corrections", str(generated_logs / "corrections.jsonl"),
        "--truth", str(generated_logs / "truth.jsonl"), "--student-dir", str(student_dir),
        "--bundle-dir", str(tmp_path / "bundle"), "--work-dir", str(tmp_path / "w"),
        *[arg for s in sets for arg in ("--set", s)],
    ])  # fmt: skip
    assert code == 0
    clf = Classifier.load(tmp_path / "bundle")
    run = MlflowClient(tracking_uri=sqlite_tracking).get_run(clf.manifest.mlflow_run_id)
    params = run.data.params
    assert params["engine"] == "ray"
    assert int(params["fit.sample_rows"]) <= 600 + 40  # at most one extra row per stratum
    assert int(params["fit.sample_rows"]) < int(params["fit.sample_of_train_rows"])
    assert params["fit.data_rows_valid"] == params["data.rows_valid"] == "1500"
    assert params["fit.sampling"].startswith("stratified")
    _, local = load_training_set([generated_logs / "logs.jsonl"],
                                 [generated_logs / "corrections.jsonl"])  # fmt: skip
    assert params["data.sha256"] == local.fingerprint  # the same data as the in-process path
