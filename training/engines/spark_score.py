"""Score a Parquet table of logs with the registered model in Spark: the lakehouse batch job.

    python -m training.engines.spark_score --model models:/tierwise@champion \\
        --input logs.parquet --output scored.parquet [--master local[2]]

Reads `--input` (a file or directory of Parquet, local or any URI Spark reads), scores its text
column through `mlflow.pyfunc.spark_udf` (the ONNX runtime in each Python worker, no torch), and
writes the kept columns plus intent, risk, tier, P(ok) per tier, abstain and error. Every input
row is written: an unscorable text gets an `error` instead of being dropped.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from training.engines.spark_session import local_spark

log = logging.getLogger(__name__)


def score_frame(spark: Any, frame: Any, model_uri: str, text_column: str = "text") -> Any:
    """`frame` with the scored columns appended (lazy: nothing runs until an action)."""
    import mlflow

    if text_column not in frame.columns:
        raise ValueError(
            f"no column {text_column!r} in {frame.columns}; name the text column with --text-column"
        )
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local")
    scored = frame.withColumn("_tierwise", udf(frame[text_column]))
    return scored.select(*frame.columns, "_tierwise.*")


def score_parquet(
    spark: Any,
    model_uri: str,
    source: str,
    destination: str,
    *,
    text_column: str = "text",
    keep: tuple[str, ...] = ("request_id", "feature"),
) -> int:
    """Score `source` into `destination` (overwritten); returns the rows written."""
    frame = spark.read.parquet(source)
    cores = spark.sparkContext.defaultParallelism
    if frame.rdd.getNumPartitions() < cores:  # one small file is one partition: one core busy
        frame = frame.repartition(cores)
    columns = [c for c in (*keep, text_column) if c in frame.columns]
    scored = score_frame(spark, frame.select(*columns), model_uri, text_column)
    scored.write.mode("overwrite").parquet(destination)
    rows = spark.read.parquet(destination).count()
    log.info("scored %d rows of %s into %s with %s", rows, source, destination, model_uri)
    return int(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models:/tierwise@champion", help="MLflow model URI")
    parser.add_argument("--input", required=True, help="Parquet file or directory of logs")
    parser.add_argument("--output", required=True, help="Parquet directory to write")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--cores", type=int, default=2, help="local[N] when run here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from training.tracking import connect

    connect()  # the same tracking URI resolution as training ($MLFLOW_TRACKING_URI or ./mlflow.db)
    with local_spark(cores=args.cores) as spark:
        score_parquet(spark, args.model, args.input, args.output, text_column=args.text_column)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
