"""Logs read from an object store (s3://) through pyarrow's filesystem layer: the in-process
ingest, the Ray ingest and `tierwise evaluate --logs` give what the same files give locally,
every line accounted for; an unreachable store or an empty prefix is a clear usage error.

The store is a real S3 HTTP API on loopback: moto's server (`ThreadedMotoServer`) stands in
for a cloud bucket, which this machine cannot reach. It is the one stand-in in these tests:
pyarrow's own S3 client (the AWS SDK for C++) speaks HTTP to it, configured only through the
standard variables AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_DEFAULT_REGION, as it would be against S3 or MinIO.
"""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from classifier.cli import main
from training.ingest.load import load_training_set

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
BUCKET = "tierwise-logs"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory, generated_logs: Path) -> Iterator[dict[str, Any]]:
    """A moto S3 server on loopback holding logs (plain, damaged, gzip, Parquet) and
    corrections under two prefixes, and the same files on local disk in the same order."""
    pytest.importorskip("moto", reason="the S3 stand-in is moto (dev extra)")
    import boto3
    import pyarrow as pa
    import pyarrow.parquet as pq
    from moto.server import ThreadedMotoServer

    local = tmp_path_factory.mktemp("s3-local")
    clean = SAMPLES / "logs.jsonl"
    (local / "2-again.jsonl.gz").write_bytes(gzip.compress(clean.read_bytes()))
    records = [orjson.loads(line) for line in clean.read_bytes().splitlines()[:40]]
    pq.write_table(pa.Table.from_pylist(records), local / "3-some.parquet", row_group_size=16)
    files = {
        "day/0-logs.jsonl": generated_logs / "logs.jsonl",
        "day/1-broken.jsonl": SAMPLES / "logs-broken.jsonl",
        "day/2-again.jsonl.gz": local / "2-again.jsonl.gz",
        "day/3-some.parquet": local / "3-some.parquet",
        "corrections/0.jsonl": generated_logs / "corrections.jsonl",
        "corrections/1-broken.jsonl": SAMPLES / "corrections-broken.jsonl",
        "other/readme.txt": SAMPLES / "logs.jsonl",  # not a log file by its name: skipped
    }
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        for key, path in files.items():
            client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        yield {
            "logs": [files[k] for k in sorted(files) if k.startswith("day/")],
            "corrections": [files["corrections/0.jsonl"], files["corrections/1-broken.jsonl"]],
            "truth": generated_logs / "truth.jsonl",
            "env": env,
        }
    server.stop()


def _without_names(report: Any) -> dict[str, Any]:
    out = report.to_dict()
    for key in ("sources", "correction_sources", "quarantine_path", "damaged_sources"):
        out.pop(key)
    return out


def _entries(path: Path) -> list[bytes]:
    """Quarantine entries without their source names (which differ: a path, a URI)."""
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    keys = ("stream", "line", "row", "reason", "raw", "request_id")
    return sorted(orjson.dumps([r.get(k) for k in keys]) for r in rows)


def test_ingest_from_an_s3_prefix_equals_the_local_files(
    s3: dict[str, Any], tmp_path: Path
) -> None:
    expected, want = load_training_set(s3["logs"], s3["corrections"], tmp_path / "q1.jsonl")
    data, got = load_training_set(
        [f"s3://{BUCKET}/day/"], [f"s3://{BUCKET}/corrections/"], tmp_path / "q2.jsonl"
    )
    assert got.sources == [f"s3://{BUCKET}/day/{name}" for name in
                           ("0-logs.jsonl", "1-broken.jsonl", "2-again.jsonl.gz",
                            "3-some.parquet")]  # fmt: skip
    assert got.valid + got.quarantined == got.lines_read and got.balanced
    assert got.quarantined > got.duplicates > 0  # damage and duplicates both came through
    assert _without_names(got) == _without_names(want)  # counts, reasons, labels, fingerprint
    assert _entries(tmp_path / "q2.jsonl") == _entries(tmp_path / "q1.jsonl")
    sources = {orjson.loads(x)["source"] for x in (tmp_path / "q2.jsonl").read_bytes().splitlines()}
    assert all(s.startswith(f"s3://{BUCKET}/") for s in sources)
    assert data.request_id == expected.request_id and data.text == expected.text


@pytest.mark.slow
@pytest.mark.ray
def test_ray_ingest_reads_s3_in_shards_and_matches(s3: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the Ray engine needs the `ray` extra")
    import ray

    from training.engines.ray_ingest import ray_load_training_set
    from training.engines.shards import plan_shards
    from training.ingest.objectstore import expand_sources

    logs = expand_sources([f"s3://{BUCKET}/day/"])
    assert len(plan_shards(logs, 64 * 1024)) > 8  # the JSONL object is cut by ranged reads
    _, want = load_training_set(s3["logs"], s3["corrections"], tmp_path / "q1.jsonl")
    try:  # started here, after the module set AWS_*: local workers inherit the variables
        data, got = ray_load_training_set([f"s3://{BUCKET}/day/"],
                                          [f"s3://{BUCKET}/corrections/"], tmp_path / "q2.jsonl",
                                          num_cpus=2, shard_bytes=64 * 1024)  # fmt: skip
    finally:
        ray.shutdown()
    assert got.valid + got.quarantined == got.lines_read and got.balanced
    assert _without_names(got) == _without_names(want)
    assert _entries(tmp_path / "q2.jsonl") == _entries(tmp_path / "q1.jsonl")
    assert len(data) == want.valid


@pytest.mark.slow
def test_evaluate_reads_its_logs_from_s3(
    s3: dict[str, Any], generated_logs: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    common = ["--truth", str(s3["truth"]), "--bundle", str(tiny_bundle), "--replays", "1",
              "--bootstrap", "20", "--knn-max-train", "300", "--no-mlflow",
              "--set", "embed.cache=false"]  # fmt: skip
    uri = f"s3://{BUCKET}/day/0-logs.jsonl"
    assert main(["evaluate", "--logs", uri, "--corrections", f"s3://{BUCKET}/corrections/0.jsonl",
                 "--out", str(tmp_path / "s3"), *common]) == 0  # fmt: skip
    assert main(["evaluate", "--logs", str(generated_logs / "logs.jsonl"), "--corrections",
                 str(generated_logs / "corrections.jsonl"), "--out", str(tmp_path / "local"),
                 *common]) == 0  # fmt: skip
    remote, local = (
        json.loads((tmp_path / d / "replay.json").read_text()) for d in ("s3", "local")
    )
    assert remote["info"]["logs"] == [uri]
    assert remote["info"]["records"] == local["info"]["records"] == 1500
    for name in ("learned", "rules", "oracle"):
        for key in ("cost_per_1k_usd", "failure_rate", "share_full"):
            assert remote["scores"][name][key] == local["scores"][name][key], (name, key)


def test_an_empty_prefix_says_what_to_check(
    s3: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", f"s3://{BUCKET}/no-such-day/"]) == 2
    err = capsys.readouterr().err
    assert "no log files" in err and f"s3://{BUCKET}/no-such-day/" in err
    assert "Traceback" not in err
    assert main(["ingest", f"s3://{BUCKET}/other/"]) == 2  # only a .txt there
    assert "no log files" in capsys.readouterr().err


def test_an_unreachable_store_says_what_to_set(
    s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    assert main(["ingest", f"s3://{BUCKET}/day/"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach s3://{BUCKET}/day/" in err
    assert "AWS_ENDPOINT_URL" in err and "AWS_ACCESS_KEY_ID" in err
    assert "Traceback" not in err
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3["env"]["AWS_ENDPOINT_URL"])
    assert main(["ingest", "s3://no-such-bucket/logs/"]) == 2
    assert "check the bucket name" in capsys.readouterr().err
