"""A local Spark session for the scoring job and its tests (`tierwise[spark]`, Java 17+)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def require_pyspark() -> Any:
    """Import pyspark or say how to get it: the default install has no Spark."""
    try:
        import pyspark
    except ImportError as exc:
        raise ImportError(
            "Spark scoring needs pyspark: pip install 'tierwise[spark]' (and Java 17 or newer)"
        ) from exc
    return pyspark


@contextmanager
def local_spark(cores: int = 2, app: str = "tierwise-score") -> Iterator[Any]:
    """A `local[cores]` session, stopped on exit. Arrow moves the text batches to the UDF."""
    require_pyspark()
    import sys

    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(max(2, cores)))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        # The UDF's workers must run this interpreter (its virtualenv), not the first python3.
        .config("spark.pyspark.python", sys.executable)
        .config("spark.executorEnv.PYTHONPATH", ":".join(p for p in sys.path if p))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()
