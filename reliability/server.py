"""A `tierwise serve` subprocess for the suite: started on a free port, watched, measured.

`rss_mib()` sums the resident memory of the whole process tree (supervisor and workers);
`crashes()` counts worker processes that went away while the server was meant to run (the
supervisor restarts them, so a crash would otherwise go unnoticed).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: split after the last ')'
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


class ServerProcess:
    """`python -m serving` with `args` and `env` on a free loopback port; stop() at the end."""

    def __init__(
        self, args: list[str], env: dict[str, str], log_path: Path, *, code: Path = ROOT
    ) -> None:
        """`code`: the checkout whose `serving` runs (another one, to compare before/after)."""
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "serving", "--host", "127.0.0.1", "--port", str(self.port),
             *args],
            cwd=code,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(code), **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._workers_seen: set[int] = set()
        self.wait_ready()

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.get("/v2/health/ready")[0] == 200:
                    self.watch()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready within {timeout:g} s:\n{self.log()}")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def pids(self) -> list[int]:
        """The supervisor (or the single process) and every process under it."""
        if self.proc.poll() is not None:
            return []
        return [self.proc.pid, *_children(self.proc.pid)]

    def rss_mib(self) -> float:
        return sum(_rss_kib(pid) for pid in self.pids()) / 1024

    def watch(self) -> None:
        """Remember the worker processes now alive (call it often to see a crash)."""
        self._workers_seen.update(_children(self.proc.pid) or [self.proc.pid])

    def crashes(self) -> int:
        """Processes of this server that went away (plus the server itself if it exited)."""
        self.watch()
        alive = set(self.pids())
        gone = len(self._workers_seen - alive)
        return gone + (1 if self.proc.poll() is not None else 0)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode
