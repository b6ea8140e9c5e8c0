"""A log writer that cannot write is visible (readiness detail, /metrics) and /feedback refuses
with 503 instead of answering "recorded"; classification goes on; nothing accepted is lost."""

from __future__ import annotations

import errno
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

import serving.jsonl
from serving.app import create_app
from serving.settings import ServingSettings

TEXT = "Summarize the incident postmortem for the weekly update."
CLIENT = {"Authorization": "Bearer client-token-123"}


def _settings(bundle: Path, logs: Path) -> ServingSettings:
    return ServingSettings(
        bundle_path=bundle,
        reload_interval_s=0,
        warmup_requests=1,
        log_dir=logs,
        feedback_callers={"router": {"token": "client-token-123", "role": "client"}},
    )


def _outcome(rid: str) -> dict[str, Any]:
    attempt = dict(tier="mini", model="acme-mini", schema_ok=True, compliance_ok=True,
                   latency_ms=100.0, input_tokens=10, output_tokens=5, cost_usd=0.0001)  # fmt: skip
    return {"outcomes": [{"request_id": rid, "attempts": [attempt]}]}


def _metric(client: TestClient, start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(start):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(start)


def _until(predicate: Any, what: str) -> None:
    """Wait for the writer thread (synchronisation, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_unwritable_log_dir_shows_in_readiness_metrics_and_feedback(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("a file where the log directory should be")
    settings = _settings(tiny_bundle, tmp_path / "file" / "logs")
    with TestClient(create_app(settings), headers=CLIENT) as client:
        ready = client.get("/v2/health/ready")
        assert ready.status_code == 200  # the model serves; the logs are degraded
        body = ready.json()
        assert body["logs"]["decisions"]["ok"] is False
        assert "file/logs/decisions.jsonl" in body["logs"]["decisions"]["error"]
        assert any(d.startswith("log decisions: cannot open") for d in body["degraded"])
        # the escalated-conversation floors live in the same folder: kept per worker, and said
        assert any(d.startswith("conversation floors not shared") for d in body["degraded"])
        assert _metric(client, 'tierwise_log_writer_up{stream="decisions"}') == 0.0
        assert _metric(client, 'tierwise_log_write_errors_total{stream="outcomes"}') >= 1.0
        assert client.post("/classify", json={"text": TEXT, "request_id": "q0"}).status_code == 200
        got = client.post("/feedback", json=_outcome("q0"))
        assert got.status_code == 503 and got.json()["error"] == "log_unavailable"
        assert "cannot be written" in got.json()["detail"] and "nothing" in got.json()["detail"]
        assert got.headers["retry-after"]
        assert _metric(client, 'tierwise_feedback_refused_total{reason="log_unavailable"}') == 1.0


class _FullDisk:
    """Real files whose writes raise ENOSPC while `full` is set."""

    def __init__(self) -> None:
        self.full = False

    def __call__(self, path: Path) -> Any:
        disk = self
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("ab", buffering=0)

        class Sink:
            def write(self, data: memoryview) -> int:
                if disk.full:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return int(handle.write(data))

            def close(self) -> None:
                handle.close()

        return Sink()


def test_full_disk_feedback_is_refused_then_kept(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = _FullDisk()
    monkeypatch.setattr(serving.jsonl, "open_append", disk)
    logs = tmp_path / "logs"
    with TestClient(create_app(_settings(tiny_bundle, logs)), headers=CLIENT) as client:
        app = client.app
        writer = app.state.tierwise.service.feedback.outcomes  # type: ignore[attr-defined]
        writer._retry_base_s = writer._retry_max_s = 0.005
        for i in range(3):
            client.post("/classify", json={"text": TEXT, "request_id": f"q{i}"})
        disk.full = True
        first = client.post("/feedback", json=_outcome("q0"))
        assert first.status_code == 202  # queued to a healthy writer; the disk fills meanwhile
        _until(lambda: not writer.ok, "the writer notices the full disk")
        got = client.post("/feedback", json=_outcome("q1"))
        assert got.status_code == 503 and "No space left" in got.json()["detail"]
        ready = client.get("/v2/health/ready").json()
        assert ready["logs"]["outcomes"]["ok"] is False and ready["degraded"]
        assert _metric(client, 'tierwise_log_writer_up{stream="outcomes"}') == 0.0
        disk.full = False
        _until(lambda: writer.ok and writer.written == 1, "the queued outcome is written")
        assert client.post("/feedback", json=_outcome("q1")).status_code == 202  # a retry works
        assert client.get("/v2/health/ready").json()["degraded"] == []
    kept = [
        orjson.loads(x)["request_id"] for x in (logs / "outcomes.jsonl").read_bytes().splitlines()
    ]
    assert kept == ["q0", "q1"]
