"""The registered model's MLflow flavours: ONNX for MLflow's tooling, tierwise's pyfunc for scoring.

A registered version is one logged model carrying two flavours over the same bundle files:
`onnx` (the fused graph, so the registry shows a real ONNX model) and `python_function`, whose
loader is this module. The pyfunc wraps `classifier.Classifier` (onnxruntime + the Rust
tokenizer, no torch), so a text column scores into intent, risk, tier and P(ok) anywhere MLflow
loads models, Spark included:

    udf = mlflow.pyfunc.spark_udf(spark, "models:/tierwise@champion")
    scored = logs.withColumn("p", udf("text")).select("request_id", "p.*")

A row whose text is missing, blank or not a string keeps its place with empty labels, NaN
probabilities, `abstain` true and an `error` saying why: one bad row must not fail a batch job
over millions, and none is dropped. Absent strings are "" rather than null because MLflow's Spark
UDF casts a string column holding any null to the text "None"/"nan"; a scored row's `error` is "".
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from classifier.bundle import MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE, read_manifest

FLAVOR_DATA = "bundle"  # the exact bundle files inside the logged model (as tracking expects)
PIP_REQUIREMENTS = ["onnxruntime", "tokenizers", "numpy", "pandas"]
SCORE_BATCH = 256  # rows per graph run: padding to the longest text stays cheap


def output_columns(tiers: list[str]) -> list[tuple[str, str]]:
    """(name, type) of the scored columns, in order; P(ok) per tier plus the chosen tier's."""
    return [
        ("intent", "string"),
        ("risk", "string"),
        ("tier", "string"),
        ("p_ok", "double"),
        *[(f"p_ok_{tier}", "double") for tier in tiers],
        ("abstain", "boolean"),
        ("model_version", "string"),
        ("error", "string"),
    ]


def signature(tiers: list[str]) -> Any:
    """Input: one `text` column. Output: the scored columns (spark_udf reads its struct from it)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    outputs: list[ColSpec | TensorSpec] = [
        ColSpec(kind, name, required=False) for name, kind in output_columns(tiers)
    ]
    inputs: list[ColSpec | TensorSpec] = [ColSpec("string", "text")]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def save_model(path: str, bundle_dir: Path, mlflow_model: Any = None, **_: Any) -> None:
    """Write both flavours at `path` (the `flavor.save_model` hook of `mlflow.models.Model.log`).

    The onnx flavour writes the graph and the MLmodel; the exact bundle goes under `bundle/`;
    then the python_function flavour is pointed at this module instead of `mlflow.onnx`, whose
    pyfunc takes token-id tensors, not texts.
    """
    import mlflow
    import onnx
    from mlflow.models import Model
    from mlflow.pyfunc import add_to_model

    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    mlflow_model = mlflow_model if mlflow_model is not None else Model()
    mlflow.onnx.save_model(
        onnx.load(str(bundle_dir / MODEL_FILE)),
        path,
        mlflow_model=mlflow_model,
        signature=signature(list(manifest.labels["tier"])),
        save_as_external_data=False,  # one self-contained model.onnx, as in the bundle
        extra_files=[str(bundle_dir / TOKENIZER_FILE), str(bundle_dir / MANIFEST_FILE)],
        pip_requirements=PIP_REQUIREMENTS,
    )
    shutil.copytree(bundle_dir, Path(path) / FLAVOR_DATA)
    old = mlflow_model.flavors["python_function"]
    add_to_model(
        mlflow_model,
        loader_module=__name__,
        data=FLAVOR_DATA,
        conda_env=old.get("env", {}).get("conda"),
        python_env=old.get("env", {}).get("virtualenv"),
    )
    mlflow_model.save(str(Path(path) / "MLmodel"))


def _load_pyfunc(data_path: str) -> TierwisePyfunc:
    """MLflow's loader hook: `data_path` is the model's `bundle/` directory."""
    return TierwisePyfunc(Path(data_path))


class TierwisePyfunc:
    """Texts in, one row of labels and probabilities out per text, in the input's order."""

    def __init__(self, bundle_dir: Path) -> None:
        from classifier.runtime import Classifier

        self.classifier = Classifier.load(bundle_dir, intra_op_threads=1)
        self.tiers = list(self.classifier.manifest.labels["tier"])
        self.schema = output_columns(self.tiers)
        self.columns = [name for name, _ in self.schema]

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Score `model_input` (a DataFrame with a `text` column, a Series or a list of texts)."""
        import pandas as pd

        texts = _texts(model_input)
        rows: list[dict[str, Any]] = [self._refused(t) for t in texts]
        good = [i for i, row in enumerate(rows) if not row["error"]]
        for start in range(0, len(good), SCORE_BATCH):
            chunk = good[start : start + SCORE_BATCH]
            predictions = self.classifier.classify_batch([texts[i] for i in chunk])
            for i, p in zip(chunk, predictions, strict=True):
                rows[i].update(
                    intent=p.intent,
                    risk=p.risk,
                    tier=p.tier,
                    p_ok=float(p.tier_ok_probs[p.tier]),
                    abstain=bool(p.abstain),
                    **{f"p_ok_{t}": float(p.tier_ok_probs[t]) for t in self.tiers},
                )
        return pd.DataFrame(rows, columns=self.columns)

    def _refused(self, text: Any) -> dict[str, Any]:
        """The row as a refusal; a scorable text's row is overwritten by its prediction."""
        row: dict[str, Any] = {
            name: float("nan") if kind == "double" else "" for name, kind in self.schema
        }
        row["abstain"] = True
        row["model_version"] = self.classifier.model_version
        if not isinstance(text, str):
            row["error"] = f"text must be a string, got {type(text).__name__}; row not scored"
        elif not text.strip():
            row["error"] = "text is empty; row not scored"
        return row


def _texts(model_input: Any) -> list[Any]:
    import pandas as pd

    if isinstance(model_input, pd.DataFrame):
        if "text" in model_input.columns:
            column = model_input["text"]
        elif model_input.shape[1] == 1:
            column = model_input.iloc[:, 0]  # spark_udf passes an unnamed column positionally
        else:
            raise ValueError(
                f"score a DataFrame with a `text` column; got columns {list(model_input.columns)}"
            )
        values = column.tolist()
    elif isinstance(model_input, (pd.Series, np.ndarray, list, tuple)):
        values = list(model_input)
    else:
        raise ValueError(f"score texts as a DataFrame, Series or list, not {type(model_input)}")
    return [None if isinstance(v, float) and np.isnan(v) else v for v in values]
