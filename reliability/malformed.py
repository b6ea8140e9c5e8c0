"""Raw malformed requests on a socket: what an HTTP library would refuse to send.

Each case is bytes written as they are; the answer must be a 4xx (or the server closing the
connection on bytes that are not HTTP), never a 5xx, never a hang, and the server must still
answer its health probe afterwards. Cases cover the request line, headers, framing (lengths,
chunks, smuggling shapes), the body's JSON and encodings, and slow or vanishing clients.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import Any

_TIMEOUT_S = 10.0


def _post(path: str, body: bytes, *headers: str, length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _chunked(path: str, raw_chunks: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += ["Transfer-Encoding: chunked", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw_chunks


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def cases() -> list[tuple[str, bytes]]:
    deep = b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    chat = {"messages": [{"role": "user", "content": "hi"}] * 10_000}
    hi = b'{"text": "hi"}'
    return [
        ("garbage request line", b"GARBAGE\r\n\r\n"),
        ("unknown method", b"FOO /classify HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("http/2 preface on http/1", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ("http/0.9 request", b"GET /v2/health/live\r\n\r\n"),
        ("null byte in path", b"GET /v2/he\x00alth/live HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("64 KB path", b"GET /" + b"a" * 65_536 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("100 KB header", b"GET /v2 HTTP/1.1\r\nX-Big: " + b"b" * 102_400 + b"\r\n\r\n"),
        ("2,000 headers", b"GET /v2 HTTP/1.1\r\n" + b"X-H: v\r\n" * 2_000 + b"\r\n"),
        ("header without colon", b"GET /v2 HTTP/1.1\r\nHost x\r\n\r\n"),
        ("latin-1 in a header", b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\n\r\n"),
        ("negative length", _post("/classify", b"{}", length=-5)),
        ("non-numeric length", _post("/classify", b"{}").replace(b"Length: 2", b"Length: x")),
        ("length and chunked both", _post("/classify", hi, "Transfer-Encoding: chunked")),
        ("two content-lengths", _post("/classify", hi, "Content-Length: 3")),
        ("length shorter than body", _post("/classify", b'{"text": "hello there"}', length=5)),
        ("bad chunk size", _chunked("/classify", b"zz\r\nabc\r\n0\r\n\r\n")),
        ("chunk longer than said", _chunked("/classify", b"2\r\nabcdef\r\n0\r\n\r\n")),
        ("json nested 100,000 deep", _post("/classify", deep)),
        ("huge number", _post("/classify", b'{"text": "a", "feature": 1e999999}')),
        ("NaN", _post("/classify", b'{"text": NaN}')),
        ("duplicate keys", _post("/classify", b'{"text": "a", "text": 5}')),
        ("null character in text", _post("/classify", _json({"text": "a\u0000b"}))),
        ("byte-order mark", _post("/classify", b'\xef\xbb\xbf{"text": "hello"}')),
        ("utf-16 body", _post("/classify", '{"text": "hello"}'.encode("utf-16"))),
        ("trailing garbage", _post("/classify", b'{"text": "hello"} xyz')),
        ("text/plain body", _post("/classify", b"hi").replace(b"application/json", b"text/plain")),
        ("gzip encoding, not gzip", _post("/classify", hi, "Content-Encoding: gzip")),
        ("batch items not a list", _post("/classify/batch", _json({"items": {"text": "a"}}))),
        ("batch of 10,000", _post("/classify/batch", _json({"items": [{"text": "a"}] * 10_000}))),
        ("10,000 chat messages", _post("/classify", _json(chat))),
        ("feedback without token", _post("/feedback", _json({"outcomes": "x"}))),
        (
            "feedback, 10 KB bearer",
            _post("/feedback", b"{}", "Authorization: Bearer " + "k" * 10_240),
        ),
        ("admin, garbage scheme", _post("/admin/switches", b"{}", "Authorization: \x7f\x7f")),
        ("websocket upgrade", _post("/classify", hi, "Upgrade: websocket", "Connection: Upgrade")),
        ("expect 100-continue", _post("/classify", hi, "Expect: 100-continue")),
        ("50 pipelined requests", _post("/classify", b'{"text": "pipelined"}') * 50),
    ]


def _exchange(port: int, data: bytes, *, close_after: float | None = None) -> list[int] | str:
    """Send `data`; the statuses of every response read, or `closed`/`timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=_TIMEOUT_S) as sock:
        try:
            sock.sendall(data)
        except OSError:
            return "closed"
        if close_after is not None:
            time.sleep(close_after)
            return "closed"
        # the server may already have answered and closed on bytes it refused: read what it sent
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65_536)
            except TimeoutError:
                return "timeout"
            except OSError:
                break
            if not chunk:
                break
            received += chunk
        else:
            return "timeout"
    statuses = [
        int(s.split(b" ", 1)[0]) for s in received.split(b"HTTP/1.1 ")[1:] if s[:3].isdigit()
    ]
    return statuses or "closed"


def run(port: int) -> dict[str, Any]:
    """Every case once, plus a slow and a vanishing client; counts of what came back."""
    results: dict[str, Any] = {}
    for name, data in cases():
        results[name] = _exchange(port, data)
    slow = _post("/classify", b'{"text": "slow"}')
    results["slow client (headers, then 2 s, then gone)"] = _exchange(
        port, slow[: len(slow) - 8], close_after=2.0
    )
    results["promised 1 MB, sent 10 bytes, gone"] = _exchange(
        port, _post("/classify", b'{"text": "', length=1_000_000), close_after=0.5
    )
    statuses = [s for v in results.values() if isinstance(v, list) for s in v]
    return {
        "cases": len(results),
        "responses": len(statuses),
        "server_errors": sum(1 for s in statuses if s >= 500),
        "timeouts": sum(1 for v in results.values() if v == "timeout"),
        "by_case": results,
    }
