"""Serving fixtures: bundle copies safe to tamper with, and a real `tierwise serve` process."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def copy_bundle(
    src: Path, dst: Path, *, version: str | None = None, threshold: float | None = None
) -> Path:
    """A real bundle copy; `version`/`threshold` rewrite the manifest (files stay verified), which
    gives a different, valid bundle whose bundle hash changes when the threshold does."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
    if version is not None or threshold is not None:
        manifest_path = dst / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        if version is not None:
            manifest["version"] = version
        if threshold is not None:
            manifest["thresholds"] = {**manifest.get("thresholds", {}), "tier_ok": threshold}
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, manifest_path)
    return dst


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A `tierwise serve` subprocess on a free loopback port, with a tiny stdlib HTTP client."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("wb")
        # One worker unless a test asks for more (the default is one per core).
        full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TIERWISE_WORKERS": "1", **env}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "serving",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *args,
            ],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if self.request("GET", "/v2/health/live")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not come up:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            conn.close()

    def post_json(self, path: str, obj: Any) -> tuple[int, Any]:
        status, body, _ = self.request(
            "POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"}
        )
        return status, json.loads(body)

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body, _ = self.request("GET", path)
        return status, json.loads(body)

    def metric(self, name: str) -> float:
        _, body, _ = self.request("GET", "/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise KeyError(name)

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"condition not met within {timeout}s; server log:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    """Factory: start_server(args, env) -> Server; every server is stopped at teardown."""
    servers: list[Server] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> Server:
        server = Server(args, env or {}, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def server_factory() -> type[Server]:
    """The Server class, for module-scoped servers (conftest is not importable under importlib)."""
    return Server


@pytest.fixture(scope="session")
def bundle_tools() -> Any:
    """`copy_bundle` for test modules."""
    return copy_bundle
