"""Ingestion throughput: records/s and peak memory of load_training_set on N generated records.

    .venv/bin/python scripts/bench_ingest.py --n 100000            # generate, then ingest JSONL
    .venv/bin/python scripts/bench_ingest.py --from logs/ --parquet # existing logs, also as Parquet

Logs come from `data.generator.generate` when it is importable, otherwise from a small built-in
synthesizer with the same shape (playbook attempts, escalations, ~3% corrections). The figures go
into docs/logs-and-labels.md; this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.ingest.load import load_training_set  # noqa: E402

WORDS = tuple(
    [
        "summarize",
        "rewrite",
        "classify",
        "plan",
        "refactor",
        "review",
        "policy",
        "contract",
        "invoice",
        "customer",
        "thread",
        "meeting",
        "notes",
        "quarterly",
        "revenue",
        "patient",
        "claim",
        "regression",
        "query",
        "deploy",
        "incident",
        "outage",
        "translate",
        "tone",
        "grammar",
        "sentiment",
        "triage",
        "compliance",
        "regulation",
        "privacy",
        "refund",
        "shipment",
    ]
)


def synthesize(n: int, seed: int, out_dir: Path) -> tuple[Path, Path]:
    """Schema-v1 logs shaped like the playbook's, without the real generator's text quality."""
    rng = random.Random(seed)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    tiers = ("nano", "mini", "full")
    logs, corrections = out_dir / "logs.jsonl", out_dir / "corrections.jsonl"
    with logs.open("wb") as lf, corrections.open("wb") as cf:
        for i in range(n):
            ts = t0 + timedelta(seconds=i * 0.5 + rng.random())
            first = rng.choices(tiers, weights=(5, 4, 1))[0]
            length = int(rng.lognormvariate(3.5, 1.0)) + 3
            text = " ".join(rng.choice(WORDS) for _ in range(min(length, 3000)))

            def attempt(tier: str, ok: bool, why: str = "schema", length: int = length) -> dict:
                return {
                    "tier": tier, "model": f"m-{tier}", "schema_ok": ok or why != "schema",
                    "compliance_ok": ok or why != "compliance", "latency_ms": rng.uniform(50, 900),
                    "input_tokens": length + 20, "output_tokens": rng.randint(5, 400),
                    "cost_usd": rng.uniform(1e-6, 1e-3), "error": None,
                }  # fmt: skip

            attempts, escalations = [], []
            if first == "nano" and rng.random() < 0.2:
                attempts += [attempt("nano", False), attempt("nano", False), attempt("mini", True)]
                escalations.append({"from": "nano", "to": "mini", "cause": "schema_fail_x2"})
            elif first == "mini" and rng.random() < 0.1:
                attempts += [attempt("mini", False, "compliance"), attempt("full", True)]
                escalations.append({"from": "mini", "to": "full", "cause": "compliance_fail"})
            else:
                attempts.append(attempt(first, True))
            record = {
                "schema_version": "1", "request_id": f"req-{i:08d}",
                "ts": ts.isoformat().replace("+00:00", "Z"), "feature": rng.choice(
                    ["inline_assist", "support_chat", "doc_summary", "code_assist", "policy_review"]
                ),
                "text": text, "prompt_id": "summarize@v3",
                "route": {"policy": "rules", "variant": None, "tier": first, "reason": "rule",
                          "model_version": "rules@1", "propensity": rng.choice([0.8, 0.1, 0.05])},
                "attempts": attempts, "escalations": escalations,
                "safety_flags": ["pii"] if rng.random() < 0.05 else [],
                "labels": {"intent": rng.choice(["summarize", "chat", None]), "risk": "low"},
            }  # fmt: skip
            lf.write(orjson.dumps(record) + b"\n")
            if rng.random() < 0.03:
                event = {
                    "request_id": record["request_id"],
                    "ts": (ts + timedelta(seconds=rng.uniform(5, 600))).isoformat(),
                    "kind": "edit",
                }
                cf.write(orjson.dumps(event) + b"\n")
    return logs, corrections


def produce(n: int, seed: int, out_dir: Path) -> tuple[list[Path], list[Path], str]:
    try:
        from data.generator import generate
    except ImportError:
        logs, corrections = synthesize(n, seed, out_dir)
        return [logs], [corrections], "built-in synthesizer"
    generate(n, seed=seed, out_dir=out_dir)
    return [out_dir / "logs.jsonl"], [out_dir / "corrections.jsonl"], "data.generator"


def to_parquet(jsonl: Path) -> Path:
    """The same records as Parquet (via pyarrow's JSON reader), to time the other reader."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    out = jsonl.with_suffix(".parquet")
    pq.write_table(pj.read_json(jsonl), out)
    return out


def measure(logs: list[Path], corrections: list[Path], quarantine: Path) -> dict:
    """Ingest once in this process; peak RSS is this process's, so run it in a fresh one."""
    # CPU time as well as wall time: on a shared machine the CPU figure is the stable one.
    rss_start = _status_kib("VmRSS")
    cpu_before = time.process_time()
    start = time.perf_counter()
    data, report = load_training_set(logs, corrections, quarantine_path=quarantine)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    rss_peak = _status_kib("VmHWM")
    return {
        "sources": [p.name for p in logs],
        "records": report.lines_read,
        "valid": report.valid,
        "seconds": round(seconds, 2),
        "records_per_s": round(report.lines_read / seconds),
        "cpu_seconds": round(cpu, 2),
        "records_per_cpu_s": round(report.lines_read / cpu),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "bytes_per_record": round(sum(p.stat().st_size for p in logs) / max(report.lines_read, 1)),
        "peak_rss_mib": round(rss_peak / 1024, 1),
        "rss_growth_mib": round((rss_peak - rss_start) / 1024, 1),
        "text_mib": round(sum(len(t) for t in data.text) / 2**20, 1),
        "balanced": report.balanced,
    }


def _status_kib(key: str) -> int:
    """From /proc/self/status: unlike ru_maxrss, VmHWM is not inherited from the parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure_in_child(logs: list[Path], corrections: list[Path], quarantine: Path) -> dict:
    """Run `measure` in a fresh interpreter so that generation does not pollute peak memory."""
    argv = [sys.executable, __file__, "--measure", *map(str, logs), "--quarantine", str(quarantine)]
    argv += ["--corrections", *map(str, corrections)] if corrections else []
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--from", dest="source", type=Path, help="dir with logs.jsonl (+corrections)"
    )
    parser.add_argument("--parquet", action="store_true", help="also time the Parquet reader")
    parser.add_argument("--measure", nargs="+", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corrections", nargs="*", type=Path, default=[], help=argparse.SUPPRESS)
    parser.add_argument("--quarantine", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        sys.stdout.write(json.dumps(measure(args.measure, args.corrections, args.quarantine)))
        return 0
    with tempfile.TemporaryDirectory(prefix="tierwise-bench-") as tmp:
        out_dir = Path(tmp)
        if args.source:
            logs = [args.source / "logs.jsonl"]
            corrections = [p for p in [args.source / "corrections.jsonl"] if p.exists()]
            origin = str(args.source)
        else:
            start = time.perf_counter()
            logs, corrections, origin = produce(args.n, args.seed, out_dir)
            made = time.perf_counter() - start
            sys.stderr.write(f"produced {args.n} records with {origin} in {made:.1f} s\n")
        results = [measure_in_child(logs, corrections, out_dir / "quarantine.jsonl")]
        if args.parquet:
            parquet = to_parquet(logs[0])
            results.append(measure_in_child([parquet], corrections, out_dir / "q-pq.jsonl"))
        for result in results:
            result["origin"] = origin
            sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
