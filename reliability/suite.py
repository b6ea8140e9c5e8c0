"""One run of the suite against one real server: fuzz, malformed, soak, reload faults.

The server is started the way it is deployed (`tierwise serve --workers N`, decision log on,
admin and feedback tokens set) on a copy of the bundle, so the faults can break its files.
The figures that decide the run are taken from the server where they can be: its 5xx count
from `/metrics` over the whole run, its memory from /proc, crashed worker processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from reliability import faults, fuzz, malformed
from reliability.load import OpenLoad, Window, capacity
from reliability.server import ServerProcess

log = logging.getLogger(__name__)

ADMIN = "reliability-admin-token"
FEEDBACK = "reliability-feedback-token"


def start(bundle: Path, out: Path, *, workers: int, extra_env: dict[str, str] | None = None
          ) -> ServerProcess:  # fmt: skip
    env = {
        "TIERWISE_WORKERS": str(workers),
        "TIERWISE_ADMIN_TOKEN": ADMIN,
        "TIERWISE_FEEDBACK_CALLERS": f'{{"router": {{"token": "{FEEDBACK}", "role": "client"}}}}',
        "TIERWISE_SWITCHES_PATH": str(out / "state" / "switches.json"),
        "TIERWISE_LOG_DIR": str(out / "logs"),
        "TIERWISE_RELOAD_INTERVAL_S": "0.5",
        "TIERWISE_RELOAD_RETRY_BASE_S": "0.5",
        "TIERWISE_RELOAD_RETRY_MAX_S": "2",
        # A smaller feedback window than the default 50,000, so that it is full (and memory at
        # its bound) after the warm-up rather than after most of the soak.
        "TIERWISE_FEEDBACK_WINDOW": "10000",
        **(extra_env or {}),
    }
    return ServerProcess(["--bundle", str(bundle)], env, out / "server.log")


def server_5xx(server: ServerProcess) -> int:
    _, body = server.get("/metrics")
    pattern = r'^tierwise_http_requests_total\{route="[^"]*",status="5\d\d"\} (\S+)$'
    return int(sum(float(v) for v in re.findall(pattern, body.decode(), re.M)))


def server_requests(server: ServerProcess) -> int:
    _, body = server.get("/metrics")
    pattern = r"^tierwise_http_requests_total\{[^}]*\} (\S+)$"
    return int(sum(float(v) for v in re.findall(pattern, body.decode(), re.M)))


def soak(
    server: ServerProcess, rate: float, seconds: float, window_s: float, warmup_s: float = 0.0
) -> dict[str, Any]:
    """Unique texts at `rate`; RSS of the process tree and p99 per window.

    A warm-up at the same rate comes first and is not counted: it fills what is bounded (the
    decision cache, the word cache, the feedback window), so the soak's memory is the steady
    state's."""
    rss: list[float] = []
    if warmup_s > 0:
        asyncio.run(OpenLoad(server.port, rate, connections=32, seed=1).run(warmup_s))

    def sample(window: Window) -> None:
        window.extra["rss_mib"] = round(server.rss_mib(), 1)
        # the machine's load (other jobs included), to tell a stall of the host from ours
        window.extra["load_1m"] = float(Path("/proc/loadavg").read_text().split()[0])
        rss.append(window.extra["rss_mib"])
        server.watch()

    load = OpenLoad(server.port, rate, connections=32)
    windows = asyncio.run(load.run(seconds, window_s=window_s, on_window=sample))
    steady = windows if warmup_s > 0 or len(windows) <= 2 else windows[1:]
    first, last = steady[0], steady[-1]
    return {
        "rate_per_s": round(rate, 1),
        "seconds": seconds,
        "warmup_s": warmup_s,
        "requests": load.sent,
        "failed": load.sent - load.statuses.get("200", 0),
        "statuses": dict(load.statuses),
        "rss_start_mib": first["rss_mib"],
        "rss_end_mib": last["rss_mib"],
        "rss_max_mib": max(w["rss_mib"] for w in steady),
        "rss_growth": round(last["rss_mib"] / first["rss_mib"] - 1, 4),
        "p99_start_ms": first["p99_ms"],
        "p99_end_ms": last["p99_ms"],
        "p99_ratio": round(last["p99_ms"] / first["p99_ms"], 2) if first["p99_ms"] else None,
        "windows": windows,
    }


_MODEL_INFO = r'^tierwise_model_info\{[^}]*version="([^"]+)"[^}]*\} 1\.0$'


def reload_faults(
    server: ServerProcess, bundle: Path, good: Path, rate: float, hold_s: float
) -> dict[str, Any]:
    """The faults in a thread while the load runs; every request must still be a 200."""
    events: list[str] = []
    started = time.monotonic()

    def note(message: str) -> None:
        events.append(f"{time.monotonic() - started:6.1f} s {message}")

    injector = threading.Thread(
        target=faults.inject, args=(bundle, good), kwargs={"hold_s": hold_s, "log": note}
    )
    seconds = hold_s * 1.5 * len(faults.FAULTS) + hold_s + 1.0
    load = OpenLoad(server.port, rate, connections=32, seed=99)
    injector.start()
    windows = asyncio.run(load.run(seconds, window_s=seconds))
    injector.join()
    # the last step installed a new version: wait (bounded) until every worker serves it, since
    # on a loaded host a reload can finish after the load stopped
    wanted = json.loads((bundle / "manifest.json").read_text())["version"]
    deadline = time.monotonic() + 60
    while True:
        _, metrics = server.get("/metrics")
        text = metrics.decode()
        versions = re.findall(_MODEL_INFO, text, re.M)
        if set(versions) == {wanted} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    refused = re.search(r"^tierwise_model_load_failures_total (\S+)$", text, re.M)
    return {
        "requests": load.sent,
        "failed": load.sent - load.statuses.get("200", 0),
        "statuses": dict(load.statuses),
        "p99_ms": windows[0]["p99_ms"],
        "loads_refused": int(float(refused.group(1))) if refused else None,
        "serving_versions_after": sorted(set(versions)),
        "events": events,
    }


def run(
    bundle: Path,
    out: Path,
    *,
    workers: int = 2,
    soak_s: float = 600.0,
    window_s: float = 30.0,
    rate: float | None = None,
    load_share: float = 0.5,
    warmup_s: float = 60.0,
    fuzz_examples: int = 50,
    fuzz_time_s: int = 120,
    fault_hold_s: float = 4.0,
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    served = faults.copy_bundle(bundle, out / "bundle")
    report: dict[str, Any] = {"workers": workers, "started": time.strftime("%Y-%m-%d %H:%M")}
    server = start(served, out, workers=workers)
    try:
        report["rss_idle_mib"] = round(server.rss_mib(), 1)
        log.info("fuzzing the OpenAPI")
        report["fuzz"] = fuzz.run(server.port, out, admin_token=ADMIN, feedback_token=FEEDBACK,
                                  max_examples=fuzz_examples, max_time_s=fuzz_time_s)  # fmt: skip
        log.info("malformed requests")
        report["malformed"] = malformed.run(server.port)
        if rate is None:
            measured = capacity(server.port, seconds=10.0, connections=4)
            report["capacity_per_s"] = round(measured, 1)
            rate = max(5.0, measured * load_share)
        log.info("soak: %.0f s at %.0f requests/s", soak_s, rate)
        report["soak"] = soak(server, rate, soak_s, window_s, warmup_s)
        log.info("reload faults under load")
        report["reload_faults"] = reload_faults(server, served, bundle, rate, fault_hold_s)
        report["server_requests"] = server_requests(server)
        report["server_5xx"] = server_5xx(server)
        report["ready_at_end"] = server.get("/v2/health/ready")[0] == 200
        report["crashes"] = server.crashes()
    finally:
        report["exit_code"] = server.stop()
    report["client_requests"] = (
        report.get("soak", {}).get("requests", 0)
        + report.get("reload_faults", {}).get("requests", 0)
        + report.get("malformed", {}).get("cases", 0)
    )
    report["verdict"] = verdict(report)
    return report


def verdict(report: dict[str, Any]) -> dict[str, bool]:
    soak_ = report["soak"]
    return {
        "no 5xx": report["server_5xx"] == 0 and report["malformed"]["server_errors"] == 0,
        "no crash": report["crashes"] == 0 and report["exit_code"] == 0,
        "fuzz found nothing": report["fuzz"]["failures"] + report["fuzz"]["errors"] == 0,
        "no failed request during reload faults": report["reload_faults"]["failed"] == 0,
        "no failed request in the soak": soak_["failed"] == 0,
        "RSS flat within 10 %": abs(soak_["rss_growth"]) <= 0.10,
        "p99 at the end within 2x of the start": (soak_["p99_ratio"] or 0) <= 2.0,
    }
