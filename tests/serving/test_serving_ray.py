"""The FastAPI app as a Ray Serve deployment on a local Ray cluster, over real HTTP: ready
only with a model, the same answers as the in-process classifier, bad input still a 4xx."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _request(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ray_serve_deployment_serves_the_app(tiny_bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray.serve", reason="Ray Serve needs the `ray` extra")
    import ray
    from ray import serve

    from classifier.runtime import Classifier
    from serving.ray_serve import build, start

    port = free_port()
    app = build({"bundle_path": str(tiny_bundle), "log_dir": str(tmp_path / "logs")}, replicas=1)
    try:
        start(app, port=port, num_cpus=2)
        deadline = time.monotonic() + 120
        while _request(port, "GET", "/v2/health/ready")[0] != 200:
            assert time.monotonic() < deadline, "the replica never became ready"
            time.sleep(0.5)
        assert _request(port, "GET", "/v2/health/live")[0] == 200
        text = "Review the vendor contract clause on data retention for GDPR compliance."
        status, body = _request(port, "POST", "/classify", {"text": text, "feature": "doc_summary"})
        assert status == 200, body
        expected = Classifier.load(tiny_bundle).classify(text)
        assert body["intent"] == expected.intent and body["tier"] == expected.tier
        assert body["tier_ok_probs"]["nano"] == pytest.approx(
            expected.tier_ok_probs["nano"], abs=1e-6
        )
        status, body = _request(port, "POST", "/classify", {"text": ""})
        assert 400 <= status < 500 and body
    finally:
        serve.shutdown()
        ray.shutdown()
