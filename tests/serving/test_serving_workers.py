"""Several worker processes: one switches file that every worker follows, changes that build on
each other instead of overwriting, log files shared by appending workers, and (against a real
`tierwise serve --workers 2`) switches followed within a second and /metrics summing both."""

from __future__ import annotations

import http.client
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import build_state, create_app
from serving.jsonl import JsonlWriter
from serving.settings import ServingSettings
from serving.state import ServingState
from serving.switchboard import Change

TOKEN = "t0ken-for-workers"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(tmp_path: Path, **more: Any) -> ServingSettings:
    return ServingSettings(
        admin_token=TOKEN, switches_path=tmp_path / "switches.json", reload_interval_s=0, **more
    )


def _apply(state: ServingState, change: Change) -> dict[str, Any]:
    assert state.board is not None
    return state.board.apply(change, actor="admin", client="test", method="PATCH", names=[])


def test_a_worker_follows_a_change_saved_by_another(tmp_path: Path) -> None:
    a, b = build_state(_settings(tmp_path)), build_state(_settings(tmp_path))
    assert a.board is not None and b.board is not None
    assert b.board.sync() is False  # nothing changed: one stat, nothing read
    _apply(a, Change(force_mini=True, experiment={"mode": "shadow", "shadow_serve": "rules"}))
    assert b.service.switches.state.force_mini is False  # not before it looks
    assert b.board.sync() is True
    state = b.service.switches.state
    assert (state.force_mini, state.version, state.updated_by) == (True, 1, "admin")
    assert b.service.experiment.describe()["mode"] == "shadow"
    assert b.service.rules is not None  # the rule router was loaded for the new mode
    assert b.board.sync() is False and a.board.sync() is False  # the writer is not re-applied
    assert a.board.sync_error is None and b.board.sync_error is None


def test_changes_through_two_workers_build_on_each_other(tmp_path: Path) -> None:
    """The second change is made before its worker looked at the file: it must still keep the
    first one (no lost update) and take the next version."""
    a, b = build_state(_settings(tmp_path)), build_state(_settings(tmp_path))
    _apply(a, Change(force_mini=True))
    after = _apply(b, Change(kill={"doc_summary": True}))
    assert after["switches"]["force_mini"] is True
    assert after["switches"]["killed"] == ["doc_summary"]
    assert after["switches"]["version"] == 2
    assert a.board is not None and a.board.sync() is True
    assert a.service.switches.state.killed == frozenset({"doc_summary"})
    saved = json.loads((tmp_path / "switches.json").read_text())
    assert saved["switches"]["version"] == 2
    audit = [json.loads(x) for x in (tmp_path / "switches-audit.jsonl").read_text().splitlines()]
    assert audit[1]["before"]["switches"]["force_mini"] is True  # b saw a's change first


def test_a_file_broken_at_run_time_keeps_the_switches_and_shows_in_readiness(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    a = build_state(_settings(tmp_path))
    _apply(a, Change(force_mini=True))
    settings = _settings(tmp_path, bundle_path=tiny_bundle, warmup_requests=1)
    with TestClient(create_app(settings)) as client:
        board = client.app.state.tierwise.board  # type: ignore[attr-defined]
        (tmp_path / "switches.json").write_text('{"format": 1, "switches": {"force_mi')
        assert board.sync() is False
        assert board.service.switches.state.force_mini is True  # still in force
        ready = client.get("/v2/health/ready").json()
        assert any("cannot be applied" in d for d in ready["degraded"]), ready
        assert board.sync() is False  # reported once, not re-read on every tick
        _apply(a, Change(force_mini=False))  # a good save clears it
        assert board.sync() is True
        assert client.get("/v2/health/ready").json()["degraded"] == []


def test_writers_of_two_workers_share_a_rotated_log(tmp_path: Path) -> None:
    """Two processes append to one decisions.jsonl; after one rotates it, the other writes to
    the new file, not into the rotated one; no line is lost or broken."""
    path = tmp_path / "decisions.jsonl"
    one = JsonlWriter(path, rotate_bytes=2_000)
    two = JsonlWriter(path, rotate_bytes=2_000)
    one.start()
    two.start()
    sent = 0
    for n in range(300):
        (one if n % 2 else two).write({"n": n, "pad": "x" * 40})
        sent += 1
        if n % 10 == 0:
            time.sleep(0.005)  # let both threads write (and rotate) in between
    one.close()
    two.close()
    files = sorted(tmp_path.glob("decisions*.jsonl"))
    assert len(files) > 3, files
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert sorted(json.loads(x)["n"] for x in lines) == list(range(sent))
    rotated = [f for f in files if f != path]
    biggest = max(f.stat().st_size for f in rotated)
    assert biggest < 2_000 + 2 * 60 * 12, biggest  # rotated near the bound, not long after


# A real server with two workers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(
    tiny_bundle: Path, server_factory: Any, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    folder = tmp_path_factory.mktemp("workers")
    env = {
        "TIERWISE_WORKERS": "2",
        "TIERWISE_ADMIN_TOKEN": TOKEN,
        "TIERWISE_SWITCHES_PATH": str(folder / "switches.json"),
        "TIERWISE_CACHE_SIZE": "0",
    }
    server = server_factory(["--bundle", str(tiny_bundle), "--reload-interval", "0"], env,
                            folder / "server.log")  # fmt: skip
    yield server
    server.stop()


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    assert response.status == 200, (path, response.status, raw[:300])
    return json.loads(raw) if path != "/metrics" else raw.decode()


def _fresh(server: Any, method: str, path: str, body: Any = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        return _call(conn, method, path, body)
    finally:
        conn.close()


def _pids(server: Any, tries: int = 200) -> set[int]:
    """Fresh connections until both workers answered (each connection lands on one)."""
    seen: set[int] = set()
    for _ in range(tries):
        seen.add(_fresh(server, "GET", "/admin/switches")["worker_pid"])
        if len(seen) == 2:
            return seen
    raise AssertionError(f"only workers {seen} answered {tries} fresh connections")


@pytest.mark.slow
def test_every_worker_follows_a_switch_within_a_second(two_workers: Any) -> None:
    pids = _pids(two_workers)
    version = _fresh(two_workers, "GET", "/admin/switches")["switches"]["version"]
    _fresh(two_workers, "PATCH", "/admin/switches", {"force_mini": True, "note": "test"})
    changed = time.monotonic()
    followed: dict[int, float] = {}
    while set(followed) != pids and time.monotonic() - changed < 5:
        got = _fresh(two_workers, "GET", "/admin/switches")
        if got["switches"]["force_mini"] and got["switches"]["version"] == version + 1:
            followed.setdefault(got["worker_pid"], time.monotonic() - changed)
    assert set(followed) == pids, followed
    assert max(followed.values()) <= 1.0, followed
    routes = [
        _fresh(two_workers, "POST", "/classify", {"text": f"Summarize ticket {n}."})["route"]
        for n in range(40)
    ]
    # every answer is under the switch (a serving abstention may annotate it further)
    assert all(r["reason"].startswith("switch:force_mini") for r in routes), routes
    _fresh(two_workers, "PATCH", "/admin/switches", {"force_mini": False})


@pytest.mark.slow
def test_metrics_count_the_requests_of_every_worker(two_workers: Any) -> None:
    """Keep-alive connections each pinned to one worker (asked for its pid first), so the test
    knows how many requests each worker served; /metrics from either must give the total."""
    before = _classify_count(_fresh(two_workers, "GET", "/metrics"))
    served: dict[int, int] = {}
    conns = []
    while len(served) < 2 or len(conns) < 6:
        if len(conns) >= 60:
            raise AssertionError(f"only workers {list(served)} took connections")
        conn = http.client.HTTPConnection("127.0.0.1", two_workers.port, timeout=30)
        pid = _call(conn, "GET", "/admin/switches")["worker_pid"]
        conns.append((conn, pid))
        served.setdefault(pid, 0)
    sent = 0
    for n in range(150):
        conn, pid = conns[n % len(conns)]
        _call(conn, "POST", "/classify", {"text": f"Translate note {n} into French."})
        served[pid] += 1
        sent += 1
    for conn, _ in conns:
        conn.close()
    assert all(count > 0 for count in served.values()), served
    for _ in range(6):  # whichever worker answers the scrape counts both
        assert _classify_count(_fresh(two_workers, "GET", "/metrics")) - before == sent
    time.sleep(0.6)  # one publication interval: the cache counters of both workers are in
    text = _fresh(two_workers, "GET", "/metrics")
    assert _sample(text, "tierwise_decision_cache_misses_total") >= sent


def _sample(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    assert match, name
    return float(match.group(1))


def _classify_count(text: str) -> float:
    pattern = r'^tierwise_http_requests_total\{route="/classify",status="200"\} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, text, re.M))
