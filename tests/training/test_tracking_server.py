"""Training, registry and promotion against a real `mlflow server` process on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path, migrated_mlflow_db: Path) -> Iterator[str]:
    db = tmp_path / "server.db"
    shutil.copyfile(migrated_mlflow_db, db)
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{db}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_train_register_export_promote_through_a_live_server(
    mlflow_server: str,
    generated_logs: Path,
    student_dir: Path,
    small_config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlflow import MlflowClient

    from classifier.cli import main
    from classifier.runtime import Classifier
    from training.pipeline import train

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("TIERWISE_CACHE_DIR", str(tmp_path / "cache"))
    result = train(
        [generated_logs / "logs.jsonl"],
        corrections=[generated_logs / "corrections.jsonl"],
        bundle_dir=tmp_path / "bundle",
        config=small_config(teacher__enabled="false"),
        work_dir=tmp_path / "w",
        student_dir=student_dir,
        progress=False,
    )
    assert not Path("mlflow.db").exists()  # the env var won over the sqlite default

    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    assert (
        str(client.get_model_version_by_alias("tierwise", "challenger").version)
        == result.model_version
    )
    run = client.get_run(result.run_id)
    assert "time/student/intent_macro_f1" in run.data.metrics
    # artifacts went through the server into its --artifacts-destination
    assert any((tmp_path / "server-artifacts").rglob("model.onnx"))

    assert main(["export", "--version", result.model_version, "--out", str(tmp_path / "out")]) == 0
    assert (
        Classifier.load(tmp_path / "out").bundle_hash
        == Classifier.load(tmp_path / "bundle").bundle_hash
    )
    assert main(["promote", "--version", result.model_version, "--allow-first-champion"]) == 0
    assert "first champion" in capsys.readouterr().out
    assert (
        str(client.get_model_version_by_alias("tierwise", "champion").version)
        == result.model_version
    )
    assert main(["promote", "--version", result.model_version]) == 0
    assert "already the champion" in capsys.readouterr().out
