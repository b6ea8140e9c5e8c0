"""Open-loop HTTP load on raw keep-alive sockets: requests at a fixed rate, unique texts.

Open loop, because a closed loop slows down with the server and hides its stalls: each request
has a scheduled time, and its latency runs from that time (queueing in the client included), so
a pause in the server shows as the latencies of everything scheduled during it. Every request
carries a new text, so each one misses the decision cache and new words reach the tokenizer's
word cache: the memory the service keeps has to stay bounded by its own limits.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_WORDS = (  # noqa: SIM905 - three readable sentences
    "please summarize the quarterly incident report for our support team and list every action "
    "item translate this customer email into french classify the ticket by urgency write a "
    "python function that parses the invoice table check the vendor contract against policy"
).split()


_LETTERS = string.ascii_lowercase


def unique_text(n: int, rng: random.Random) -> str:
    """Request `n`: 8-80 common words, one in ten a new made-up word, and its number."""
    words = [
        rng.choice(_WORDS) if rng.random() < 0.9 else "".join(rng.choices(_LETTERS, k=7))
        for _ in range(rng.randint(8, 80))
    ]
    return f"request {n}: " + " ".join(words)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Window:
    """What one interval of the run saw (latencies in milliseconds)."""

    start_s: float
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "t_s": round(self.start_s, 1),
            "requests": self.sent,
            "ok": self.statuses.get("200", 0),
            "failed": self.sent - self.statuses.get("200", 0),
            "statuses": dict(self.statuses),
            "p50_ms": round(percentile(lat, 0.50), 2),
            "p99_ms": round(percentile(lat, 0.99), 2),
            "max_ms": round(max(lat, default=0.0), 2),
            **self.extra,
        }


def _request(port: int, body: bytes) -> bytes:
    return (
        f"POST /classify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class OpenLoad:
    """`rate` requests per second over up to `connections` keep-alive connections."""

    def __init__(self, port: int, rate: float, *, connections: int = 16, seed: int = 7) -> None:
        self.port = port
        self.rate = rate
        self.connections = connections
        self.rng = random.Random(seed)
        self.sent = 0
        self.statuses: Counter[str] = Counter()
        self._queue: asyncio.Queue[tuple[float, int, Window]] = asyncio.Queue()

    async def run(
        self,
        seconds: float,
        *,
        window_s: float = 10.0,
        on_window: Callable[[Window], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Send for `seconds`, then wait for the answers; one summary per window."""
        begin = time.perf_counter()
        window = Window(0.0)
        windows = [window]
        clients = [asyncio.create_task(self._client()) for _ in range(self.connections)]
        interval = 1.0 / self.rate
        next_at = begin
        window_end = begin + window_s
        n = 0
        while True:
            now = time.perf_counter()
            if now - begin >= seconds:
                break
            if now >= window_end:
                if on_window is not None:
                    on_window(window)
                window = Window(window_end - begin)
                windows.append(window)
                window_end += window_s
            if now < next_at:
                await asyncio.sleep(min(next_at, window_end) - now)
                continue
            self._queue.put_nowait((next_at, n, window))  # a late answer counts where it was due
            n += 1
            next_at += interval
        await self._queue.join()
        if on_window is not None:
            on_window(window)
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        return [w.summary() for w in windows]

    async def _client(self) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while True:
            scheduled, n, window = await self._queue.get()
            body = json.dumps({"text": unique_text(n, self.rng), "request_id": f"soak-{n}"})
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                assert reader is not None
                writer.write(_request(self.port, body.encode()))
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                status = head[9:12].decode()
                if b"connection: close" in head.lower():
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                status = f"error:{type(exc).__name__}"
                if writer is not None:
                    writer.close()
                writer = None
            window.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
            window.sent += 1
            window.statuses[status] += 1
            self.sent += 1
            self.statuses[status] += 1
            self._queue.task_done()


def run_load(port: int, rate: float, seconds: float, **kwargs: Any) -> list[dict[str, Any]]:
    """Blocking wrapper for scripts and tests."""
    on_window = kwargs.pop("on_window", None)
    window_s = kwargs.pop("window_s", 10.0)
    load = OpenLoad(port, rate, **kwargs)
    return asyncio.run(load.run(seconds, window_s=window_s, on_window=on_window))


async def _closed(port: int, seconds: float, connections: int) -> int:
    done = 0
    stop = time.perf_counter() + seconds
    rng = random.Random(3)

    async def client(c: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop:
                body = json.dumps({"text": unique_text(10**9 + done * 64 + c, rng)}).encode()
                writer.write(_request(port, body))
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(x[15:]) for x in head.split(b"\r\n")
                              if x[:15].lower() == b"content-length:")  # fmt: skip
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(c) for c in range(connections)))
    return done


def capacity(port: int, seconds: float = 5.0, connections: int = 8) -> float:
    """Requests per second the server answers with `connections` clients always waiting."""
    return asyncio.run(_closed(port, seconds, connections)) / seconds
