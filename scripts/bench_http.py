#!/usr/bin/env python
"""Bounded HTTP load generator for POST /classify: closed-loop clients on raw keep-alive sockets.

Each of C clients sends N requests one after another on its own connection and times each from
first byte sent to last byte received, so the load is bounded (C in flight at most) and the
client's own cost is a few tens of microseconds, not the ~1 ms of an HTTP library. `--wrk` runs
wrk instead when it is installed (`apt-get install wrk`), for a C-implemented cross-check.

Example:
    python scripts/bench_http.py --url http://127.0.0.1:8000 --clients 1 --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

TEXT = "Summarize the incident postmortem for the weekly update, ticket {n}."


def _request(host: str, port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _client(
    host: str, port: int, path: str, bodies: list[bytes], latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for body in bodies:
            start = time.perf_counter()
            writer.write(_request(host, port, path, body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(int(head[9:12]))
    finally:
        writer.close()


def run_sockets(url: str, clients: int, requests: int, *, cache_hit: bool) -> dict[str, float]:
    """Closed-loop run; unique texts per request (cache misses) unless `cache_hit`."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    path = "/classify"

    def body(n: int) -> bytes:
        return json.dumps({"text": TEXT.format(n=0 if cache_hit else n)}).encode()

    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        # warm the connection path and (for the hit run) the cache entry
        await _client(host, port, path, [body(-1 - i) for i in range(20)] + [body(0)], [], [])
        per_client = [[body(c * requests + i + 1) for i in range(requests)] for c in range(clients)]
        start = time.perf_counter()
        await asyncio.gather(
            *(_client(host, port, path, per_client[c], latencies, errors) for c in range(clients))
        )
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    return _summary(latencies, elapsed, errors)


def _summary(latencies: list[float], elapsed: float, errors: list[int]) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6

    return {
        "requests": len(ordered),
        "errors": len(errors),
        "p50_us": pct(0.50),
        "p90_us": pct(0.90),
        "p99_us": pct(0.99),
        "mean_us": statistics.fmean(ordered) * 1e6,
        "req_per_s": len(ordered) / elapsed,
    }


_WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local n = CACHE_HIT and 0 or counter
  return wrk.format(nil, "/classify", nil,
    '{"text": "Summarize the incident postmortem for the weekly update, ticket ' .. n .. '."}')
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d, " ..
    "\\"requests\\": %d, \\"errors\\": %d, \\"seconds\\": %f}\\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.duration / 1e6))
end
"""


def run_wrk(url: str, clients: int, seconds: int, *, cache_hit: bool) -> dict[str, float] | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "classify.lua"
        script.write_text(f"CACHE_HIT = {'true' if cache_hit else 'false'}\n" + _WRK_LUA)
        out = subprocess.run(
            [wrk, "-t1", f"-c{clients}", f"-d{seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    data = json.loads(line[5:])
    data["req_per_s"] = data["requests"] / data["seconds"]
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--requests", type=int, default=2000, help="per client (socket mode)")
    parser.add_argument("--wrk", type=int, default=0, help="also run wrk for this many seconds")
    args = parser.parse_args()
    results = []
    for clients in args.clients:
        for hit in (False, True):
            row = {"clients": clients, "cache": "hit" if hit else "miss", "tool": "sockets"}
            row.update(run_sockets(args.url, clients, args.requests, cache_hit=hit))
            results.append(row)
            if args.wrk:
                wrk_row = run_wrk(args.url, clients, args.wrk, cache_hit=hit)
                if wrk_row:
                    results.append(
                        {"clients": clients, "cache": row["cache"], "tool": "wrk", **wrk_row}
                    )
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
