"""Against a real `tierwise serve` process: every bad input is a 4xx with a reason, never a 500;
no model means 503; hot reload swaps good bundles and refuses broken ones while serving."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

MAX_BODY = 4096
MAX_BATCH = 4


@pytest.fixture(scope="module")
def server(
    tiny_bundle: Path, server_factory: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    logs = tmp_path_factory.mktemp("server")
    srv = server_factory(
        ["--bundle", str(tiny_bundle), "--reload-interval", "0"],
        {"TIERWISE_MAX_BODY_BYTES": str(MAX_BODY), "TIERWISE_MAX_BATCH_SIZE": str(MAX_BATCH)},
        logs / "server.log",
    )
    yield srv
    srv.stop()


def _post(server: Any, body: bytes, path: str = "/classify") -> tuple[int, dict[str, Any]]:
    status, raw, _ = server.request("POST", path, body, {"Content-Type": "application/json"})
    return status, json.loads(raw)


BAD_INPUTS = [
    ("empty text", b'{"text": ""}', 422, "invalid_request"),
    ("whitespace text", b'{"text": "  \\n\\t "}', 422, "invalid_request"),
    ("text is a number", b'{"text": 42}', 422, "invalid_request"),
    ("text is a list", b'{"text": ["a"]}', 422, "invalid_request"),
    ("body is a list", b'["hello"]', 422, "invalid_request"),
    ("no text nor messages", b'{"feature": "doc_summary"}', 422, "invalid_request"),
    (
        "both text and messages",
        b'{"text": "a", "messages": [{"role": "user", "content": "b"}]}',
        422,
        "invalid_request",
    ),
    ("unknown field", b'{"txt": "hello"}', 422, "invalid_request"),
    ("feature not a string", b'{"text": "hello", "feature": 3}', 422, "invalid_request"),
    ("feature with spaces", b'{"text": "hello", "feature": "a b"}', 422, "invalid_request"),
    (
        "messages without user",
        b'{"messages": [{"role": "assistant", "content": "hi"}]}',
        422,
        "invalid_request",
    ),
    (
        "message with bad role",
        b'{"messages": [{"role": "robot", "content": "hi"}]}',
        422,
        "invalid_request",
    ),
    ("invalid json", b'{"text": "unterminated', 400, "invalid_json"),
    ("empty body", b"", 400, "empty_body"),
    ("invalid utf-8", b'{"text": "caf\xe9 au lait"}', 400, "invalid_utf8"),
    ("lone surrogate escape", b'{"text": "\\ud800"}', 400, "invalid_json"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "code"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_a_clear_4xx(
    server: Any, case: str, body: bytes, status: int, code: str
) -> None:
    got_status, got = _post(server, body)
    assert (got_status, got["error"]) == (status, code), (case, got)
    assert len(got["detail"]) > 10  # a sentence, not just a code


def test_oversized_body_is_413_from_content_length(server: Any) -> None:
    text = "word " * MAX_BODY
    status, got = _post(server, json.dumps({"text": text}).encode())
    assert status == 413 and got["error"] == "body_too_large"
    assert str(MAX_BODY) in got["detail"]


def test_oversized_chunked_body_is_413(server: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        chunk = b"x" * 1024
        conn.putrequest("POST", "/classify")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for _ in range(MAX_BODY // 1024 + 2):
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"] == "body_too_large"
    finally:
        conn.close()


def test_small_chunked_body_is_served(server: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/classify",
            body=iter([b'{"text": "Translate ', b'this to French"}']),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 200, response.read()
        assert json.loads(response.read())["intent"]
    finally:
        conn.close()


def test_oversized_batch_is_413_and_bad_item_names_its_index(server: Any) -> None:
    items = [{"text": f"item {i}"} for i in range(MAX_BATCH + 1)]
    status, got = _post(server, json.dumps({"items": items}).encode(), "/classify/batch")
    assert status == 413 and got["error"] == "batch_too_large"
    status, got = _post(server, b'{"items": [{"text": "ok"}, {"text": " "}]}', "/classify/batch")
    assert status == 422 and got["errors"][0]["loc"] == "items.1.text"
    status, got = _post(server, b'{"items": []}', "/classify/batch")
    assert status == 422 and got["error"] == "empty_batch"


def test_unknown_feature_is_served_with_a_note(server: Any) -> None:
    status, got = _post(
        server, b'{"text": "Summarize the launch notes", "feature": "no_such_feature"}'
    )
    assert status == 200
    assert any("no_such_feature" in note for note in got["notes"])


def test_no_500_was_ever_sent(server: Any) -> None:
    _, body, _ = server.request("GET", "/metrics")
    statuses = {
        line.split('status="')[1].split('"')[0]
        for line in body.decode().splitlines()
        if line.startswith("tierwise_http_requests_total{")
    }
    assert statuses and not any(s.startswith("5") for s in statuses), statuses


def test_not_ready_then_ready_when_bundle_appears(
    start_server: Any, tiny_bundle: Path, bundle_tools: Any, tmp_path: Path
) -> None:
    target = tmp_path / "bundle"
    srv = start_server(["--bundle", str(target), "--reload-interval", "0.2"])
    assert srv.get_json("/v2/health/ready")[0] == 503
    status, got = srv.post_json("/classify", {"text": "Summarize the standup notes"})
    assert status == 503 and got["error"] == "not_ready"
    staging = bundle_tools(tiny_bundle, tmp_path / "staging")
    os.replace(staging, target)
    srv.wait_for(lambda: srv.get_json("/v2/health/ready")[0] == 200)
    assert srv.post_json("/classify", {"text": "Summarize the standup notes"})[0] == 200


def test_hot_reload_swaps_good_and_refuses_broken(
    start_server: Any, tiny_bundle: Path, bundle_tools: Any, tmp_path: Path
) -> None:
    live = bundle_tools(tiny_bundle, tmp_path / "live")
    srv = start_server(["--bundle", str(live), "--reload-interval", "0.2"])
    name = srv.get_json("/v2/health/ready") and json.loads(srv.request("GET", "/v2/models/tiny")[1])
    assert name["versions"] == ["1"]
    text = {"text": "Fix the grammar in this customer email.", "request_id": "r1"}
    status, before = srv.post_json("/classify", text)
    assert status == 200

    # A new, valid bundle (new version and tier threshold) is picked up and swapped in.
    bundle_tools(tiny_bundle, live, version="2", threshold=0.99)
    srv.wait_for(lambda: srv.get_json("/v2/models/tiny")[1]["versions"] == ["2"])
    status, after = srv.post_json("/classify", text)
    assert status == 200
    assert after["provenance"]["model_version"] == "2"
    assert after["provenance"]["bundle_hash"] != before["provenance"]["bundle_hash"]
    assert after["provenance"]["cached"] is False  # the cache never answers for another bundle
    loads = srv.metric("tierwise_model_loads_total")
    assert loads >= 2

    # A broken bundle (model.onnx no longer matches its manifest) is refused; v2 keeps serving.
    failures = srv.metric("tierwise_model_load_failures_total")
    (live / "model.onnx").write_bytes(b"not an onnx graph")
    srv.wait_for(lambda: srv.metric("tierwise_model_load_failures_total") > failures)
    status, still = srv.post_json("/classify", text)
    assert status == 200 and still["provenance"]["model_version"] == "2"
    assert srv.get_json("/v2/health/ready")[0] == 200
    assert srv.metric("tierwise_model_loads_total") == loads
    assert "refused" in srv.log() and "still serving version 2" in srv.log()

    # Repaired: the next good bundle is served again.
    shutil.rmtree(live)
    bundle_tools(tiny_bundle, live, version="3")
    srv.wait_for(lambda: srv.get_json("/v2/models/tiny")[1]["versions"] == ["3"])


def test_a_client_gone_before_its_body_is_not_a_server_error(server: Any) -> None:
    """A client that promises a body and leaves: nobody reads an answer, and it is counted as
    499 (client closed request), not as a 500 with a traceback (the reliability suite found it)."""
    head = (
        b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b'{"text": "a')
        time.sleep(0.3)

    def counted() -> str | None:
        _, body, _ = server.request("GET", "/metrics")
        text = body.decode()
        return text if 'route="/classify",status="499"' in text else None

    text = server.wait_for(counted, timeout=20)
    assert 'status="500"' not in text
    assert "unhandled error" not in server.log()
