"""The registered model's pyfunc flavour: texts in, labels out, the same as the runtime; and the
same model as a Spark UDF over `models:/tierwise@champion` in a local Spark session."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.pyfunc_model import output_columns

TEXTS = [
    "Summarize the incident postmortem in three bullet points.",
    "Translate this customer email into French.",
    "Write a Python function that parses ISO dates and add unit tests.",
    "Review the vendor contract clause on data retention for GDPR compliance.",
]


def _register_champion(bundle: Path) -> str:
    import mlflow

    from training import tracking

    client = tracking.connect()
    mlflow.set_experiment("tierwise")
    with mlflow.start_run(run_name="pyfunc-test"):
        version = tracking.log_bundle(bundle, registered_model="tierwise", tags={})
    client.set_registered_model_alias("tierwise", "champion", version.version)
    return str(version.version)


def _expected(bundle: Path, texts: list[str]) -> list[tuple[str, str, str, float]]:
    from classifier.runtime import Classifier

    clf = Classifier.load(bundle)
    out = []
    for text in texts:
        p = clf.classify(text)
        out.append((p.intent, p.risk, p.tier, p.tier_ok_probs[p.tier]))
    return out


def test_registered_model_carries_onnx_and_tierwise_pyfunc(
    tiny_bundle: Path, sqlite_tracking: str, tmp_path: Path
) -> None:
    import mlflow
    import pandas as pd

    from training import tracking

    version = _register_champion(tiny_bundle)
    info = mlflow.models.get_model_info("models:/tierwise@champion")
    assert set(info.flavors) == {"onnx", "python_function"}
    assert info.flavors["python_function"]["loader_module"] == "training.pyfunc_model"
    # The exact bundle is still where export and serving look for it.
    exported = tracking.download_bundle("tierwise", version, tmp_path / "dl")
    for name in tracking.BUNDLE_FILES:
        assert (exported / name).read_bytes() == (tiny_bundle / name).read_bytes()

    model = mlflow.pyfunc.load_model("models:/tierwise@champion")
    frame = pd.DataFrame({"text": [*TEXTS, "   ", None]})
    scored = model.predict(frame)
    assert list(scored.columns) == [name for name, _ in output_columns(["nano", "mini", "full"])]
    got = list(zip(scored.intent, scored.risk, scored.tier, scored.p_ok, strict=True))[:4]
    for (gi, gr, gt, gp), (ei, er, et, ep) in zip(got, _expected(tiny_bundle, TEXTS), strict=True):
        assert (gi, gr, gt) == (ei, er, et)
        assert gp == pytest.approx(ep, abs=1e-6)
    assert (scored.error[:4] == "").all()
    # Bad rows keep their place, score nothing and say why.
    assert (scored.intent[4:] == "").all() and scored.p_ok[4:].isna().all()
    assert scored.abstain[4:].all()
    assert "empty" in scored.error[4]
    assert "string" in scored.error[5]
    assert (scored.model_version == "1").all()


@pytest.mark.slow
@pytest.mark.spark
def test_spark_job_scores_a_parquet_table_from_the_champion(
    tiny_bundle: Path, sqlite_tracking: str, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark", reason="Spark scoring needs the `spark` extra")
    import pyarrow as pa
    import pyarrow.parquet as pq

    from training.engines.spark_score import score_parquet
    from training.engines.spark_session import local_spark

    _register_champion(tiny_bundle)
    texts = [*TEXTS, ""]
    ids = [f"r{i}" for i in range(len(texts))]
    pq.write_table(pa.table({"request_id": ids, "text": texts}), tmp_path / "logs.parquet")
    with local_spark(cores=2) as spark:
        written = score_parquet(
            spark, "models:/tierwise@champion", str(tmp_path / "logs.parquet"),
            str(tmp_path / "scored"),
        )  # fmt: skip
    assert written == len(texts)
    result = {row["request_id"]: row for row in pq.read_table(tmp_path / "scored").to_pylist()}
    assert set(result) == set(ids)
    for i, (intent, risk, tier, p_ok) in enumerate(_expected(tiny_bundle, TEXTS)):
        row = result[f"r{i}"]
        assert (row["intent"], row["risk"], row["tier"]) == (intent, risk, tier)
        assert row["p_ok"] == pytest.approx(p_ok, abs=1e-6)
        assert row["p_ok_nano"] <= row["p_ok_mini"] + 1e-9 <= row["p_ok_full"] + 2e-9
        assert row["error"] == ""
    blank = result[f"r{len(TEXTS)}"]
    assert blank["intent"] == "" and "empty" in blank["error"] and blank["abstain"]
