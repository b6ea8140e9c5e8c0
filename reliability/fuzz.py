"""Schema fuzzing of the server's own OpenAPI with schemathesis (its command line, in a
subprocess, so the suite needs no schemathesis internals).

Every operation is called with examples, boundary values and random valid and invalid bodies.
The check that must hold is `not_a_server_error` (no 5xx, whatever the body); response bodies
and content types are checked against the schema too. Admin operations are fuzzed with an admin
token and /feedback with a caller's token, so the fuzzer gets past authentication.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

CHECKS = "not_a_server_error,content_type_conformance,response_schema_conformance"


def _st() -> list[str]:
    found = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    if not Path(found).exists():
        raise RuntimeError("schemathesis is not installed: `pip install -e '.[dev]'`")
    return [found]


def run(
    port: int,
    out_dir: Path,
    *,
    admin_token: str,
    feedback_token: str,
    max_examples: int = 25,
    max_time_s: int = 60,
    seed: int = 11,
) -> dict[str, Any]:
    """Two passes (feedback with its token, everything else with the admin token)."""
    url = f"http://127.0.0.1:{port}/openapi.json"
    passes = [
        ("feedback", feedback_token, ["--include-path", "/feedback"]),
        ("others", admin_token, ["--exclude-path", "/feedback"]),
    ]
    report: dict[str, Any] = {"tests": 0, "cases": 0, "failures": 0, "errors": 0, "passes": {}}
    for name, token, selection in passes:
        junit = out_dir / f"schemathesis-{name}.xml"
        command = [
            *_st(), "run", url, "--checks", CHECKS, "--max-examples", str(max_examples),
            "--max-time", str(max_time_s), "--seed", str(seed), "--workers", "1",
            "--header", f"Authorization: Bearer {token}", "--report", "junit",
            "--report-junit-path", str(junit), "--no-color", "--generation-database", "none",
            "--suppress-health-check", "all", *selection,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=max_time_s * 4 + 120)
        (out_dir / f"schemathesis-{name}.log").write_text(done.stdout + done.stderr)
        counts = _junit(junit)
        counts["exit_code"] = done.returncode
        generated = re.search(r"(\d+) generated", done.stdout)
        counts["cases"] = int(generated.group(1)) if generated else 0
        report["passes"][name] = counts
        for key in ("tests", "cases", "failures", "errors"):
            report[key] += counts[key]
    return report


def _junit(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"tests": 0, "failures": 0, "errors": 1, "failed": ["no junit report written"]}
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    counts: dict[str, Any] = {"tests": 0, "failures": 0, "errors": 0, "failed": []}
    for suite in suites:
        for case in suite.iter("testcase"):
            counts["tests"] += 1
            for kind in ("failure", "error"):
                found = case.find(kind)
                if found is not None:
                    counts["failures" if kind == "failure" else "errors"] += 1
                    message = (found.get("message") or found.text or "")[:400]
                    counts["failed"].append(f"{case.get('name')}: {message}")
    return counts
