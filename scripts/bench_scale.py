"""Scale-out measurements for docs/scale-out.md: one variant per process, one JSON line out.

    python scripts/bench_scale.py ingest --engine local  --logs L --corrections C
    python scripts/bench_scale.py ingest --engine ray --workers 2 --logs L --corrections C
    python scripts/bench_scale.py embed  --engine ray --workers 1 --logs L [--limit N]
    python scripts/bench_scale.py spark  --workers 2 --bundle models/default --logs L --limit N
    python scripts/bench_scale.py replay --engine ray --workers 2 --logs L --corrections C --truth T

`replay` runs `tierwise evaluate` (no MLflow) and reports the held-out rows per second of its
scoring stage (training.replay.rowscore: classify, guards, decisions, playbook pricing) beside
the whole evaluation's time.

Records/s exclude starting the engine (Ray cluster, Spark session), which is reported apart.
Peak memory: the driver's own peak RSS, and the peak of the summed RSS of every process the
driver started (Ray's raylet, agents and workers; Spark's JVM and Python workers), sampled every
0.2 s, since getrusage does not see grandchildren that are still running.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class WorkerMemory:
    """Peak of the summed RSS of the engine's processes (see `_ray_workers_rss`)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, _ray_workers_rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _ray_workers_rss() -> int:
    """Summed RSS (bytes) of this process's descendants (Linux /proc): the local Ray cluster's
    raylet, agents and workers, or Spark's JVM and Python workers; never another session's."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text().splitlines()
        except OSError:
            continue
        for line in status:
            if line.startswith("PPid:"):
                parents[int(entry.name)] = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1]) * 1024
    mine, total = {os.getpid()}, 0
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                changed = True
                total += rss.get(pid, 0)
    return total


def _texts(logs: list[Path], limit: int | None) -> list[str]:
    import orjson

    texts: list[str] = []
    for path in logs:
        with path.open("rb") as handle:
            for line in handle:
                if limit is not None and len(texts) >= limit:
                    return texts
                texts.append(orjson.loads(line)["text"])
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["ingest", "embed", "spark", "replay"])
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--logs", type=Path, nargs="+", required=True)
    parser.add_argument("--corrections", type=Path, nargs="*", default=[])
    parser.add_argument("--limit", type=int, default=None, help="first N texts (embed, spark)")
    parser.add_argument("--truth", type=Path, default=None, help="truth.jsonl (replay)")
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tierwise-bench-scale"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    out: dict[str, object] = {"stage": args.stage, "engine": args.engine, "workers": args.workers}
    if args.stage == "spark":
        out["engine"] = "spark"
    memory = WorkerMemory()
    started = 0.0
    if args.engine == "ray" and args.stage != "spark":
        from training.engines.ray_runtime import start_ray

        t = time.perf_counter()
        start_ray(args.workers)
        started = time.perf_counter() - t
    if args.stage == "ingest":
        quarantine = args.work / f"q-{args.engine}-{args.workers}.jsonl"
        t = time.perf_counter()
        if args.engine == "ray":
            from training.engines.ray_ingest import ray_load_training_set

            timings: dict[str, float] = {}
            data, report = ray_load_training_set(
                args.logs, args.corrections, quarantine, timings=timings
            )
            out.update({k: round(v, 2) for k, v in timings.items()})
        else:
            from training.ingest.load import load_training_set

            data, report = load_training_set(args.logs, args.corrections, quarantine)
        seconds = time.perf_counter() - t
        out.update(records=report.lines_read, valid=report.valid, quarantined=report.quarantined,
                   fingerprint=report.fingerprint)  # fmt: skip
    elif args.stage == "embed":
        from training.model.embed import StaticStudent

        texts = _texts(args.logs, args.limit)
        student = StaticStudent.load()
        t = time.perf_counter()
        if args.engine == "ray":
            from training.engines.ray_embed import ray_encode

            X = ray_encode(student, texts, workers=args.workers)
        else:
            X = student.encode(texts)
        seconds = time.perf_counter() - t
        out.update(records=len(texts), checksum=float(X.astype("float64").sum()))
    elif args.stage == "replay":
        from training.config import load_config
        from training.replay.run import run_replay

        cfg = load_config(overrides=["embed.cache=false"])
        t = time.perf_counter()
        result = run_replay(args.logs, args.corrections, args.truth, args.bundle,
                            args.work / f"replay-{args.engine}-{args.workers}", train_config=cfg,
                            track=False, engine=args.engine, workers=args.workers)  # fmt: skip
        out.update(records=result.info["eval_rows"], evaluate_s=round(time.perf_counter() - t, 2),
                   learned_cost_per_1k=result.scores["learned"]["cost_per_1k_usd"])  # fmt: skip
        seconds = float(result.info["scoring_seconds"])
    else:
        seconds, started = _spark(args, out)
    out.update(
        seconds=round(seconds, 2),
        records_per_s=round(int(out["records"]) / seconds),  # type: ignore[call-overload]
        engine_start_s=round(started, 2),
        driver_peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        workers_peak_rss_mib=round(memory.stop() / 2**20),
        cpus=os.cpu_count(),
        load_avg_1m=round(os.getloadavg()[0], 2),
    )
    print(json.dumps(out), flush=True)
    return 0


def _spark(args: argparse.Namespace, out: dict[str, object]) -> tuple[float, float]:
    """Register the bundle in a scratch MLflow store, write N texts as Parquet, score them."""
    import mlflow
    import pyarrow as pa
    import pyarrow.parquet as pq

    from training import tracking
    from training.engines.spark_score import score_parquet
    from training.engines.spark_session import local_spark

    texts = _texts(args.logs, args.limit)
    source = args.work / "texts.parquet"
    ids = [f"r{i}" for i in range(len(texts))]
    pq.write_table(pa.table({"request_id": ids, "text": texts}), source, row_group_size=8192)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{args.work / 'mlflow.db'}"
    tracking.connect()
    mlflow.set_experiment("bench-scale")
    with mlflow.start_run():
        version = tracking.log_bundle(args.bundle, registered_model="bench", tags={}).version
    t = time.perf_counter()
    with local_spark(cores=args.workers) as spark:
        started = time.perf_counter() - t
        spark.read.parquet(str(source)).count()  # JVM and reader warm
        t = time.perf_counter()
        rows = score_parquet(spark, f"models:/bench/{version}", str(source),
                             str(args.work / "scored"))  # fmt: skip
        seconds = time.perf_counter() - t
    out.update(records=rows)
    return seconds, started


if __name__ == "__main__":
    raise SystemExit(main())
