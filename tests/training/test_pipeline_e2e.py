"""`tierwise train` end to end on generated logs, tracked in a sqlite MLflow store in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_train_registers_challengers_and_the_first_champion_is_promoted(
    generated_logs: Path, sqlite_tracking: str, student_dir: Path, small_config, tmp_path: Path
) -> None:
    import mlflow
    from mlflow import MlflowClient

    from classifier.cli import main
    from classifier.runtime import Classifier
    from training.pipeline import train

    logs = [generated_logs / "logs.jsonl"]
    corrections = [generated_logs / "corrections.jsonl"]
    first = train(
        logs,
        corrections=corrections,
        truth=generated_logs / "truth.jsonl",
        bundle_dir=tmp_path / "bundle",
        config=small_config(),
        work_dir=tmp_path / "w",
        student_dir=student_dir,
        progress=False,
        extra_report_paths=[tmp_path / "docs" / "evaluation.md"],
    )

    # bundle on disk, loadable, carrying its run and data fingerprint
    clf = Classifier.load(first.bundle_dir)
    assert clf.manifest.mlflow_run_id == first.run_id
    assert clf.manifest.training_data["data.rows_valid"] == 1500
    assert clf.manifest.training_data["holdout_domains"]  # truth given: a whole domain held out
    window = clf.manifest.training_data["window"]  # what promotion keeps out of its rows
    assert window["rows"] == int(clf.manifest.training_data["split.train"]) + int(
        clf.manifest.training_data["split.calib"]
    )
    assert window["start_ts"] <= window["end_ts"] and window["end"].endswith("Z")
    assert clf.classify("Summarize this thread for the weekly update.").intent

    # registry: version 1 with alias challenger, in the working directory's sqlite store; training
    # never makes a champion, the first one is an explicit promotion
    assert Path("mlflow.db").is_file()
    client = MlflowClient(tracking_uri=sqlite_tracking, registry_uri=sqlite_tracking)
    assert (first.model_version, first.alias) == ("1", "challenger")
    aliases = client.get_registered_model("tierwise").aliases
    assert {k: str(v) for k, v in aliases.items()} == {"challenger": "1"}
    assert main(["promote", "--version", "1", "--allow-first-champion"]) == 0
    assert str(client.get_model_version_by_alias("tierwise", "champion").version) == "1"

    # the run: whole config, fingerprint, per-head metrics for student and teacher, timings
    run = client.get_run(first.run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["heads.max_iter"] == "15"
    assert params["data.sha256"].startswith("sha256:") or len(params["data.sha256"]) >= 32
    assert int(params["split.test_unseen"]) > 0 and int(params["split.test_time"]) > 0
    for split in ("time", "unseen"):
        for head in ("intent", "risk", "tier"):
            assert 0.0 <= metrics[f"{split}/student/{head}_macro_f1"] <= 1.0
            assert f"{split}/cmp_teacher_sample/{head}_macro_f1" in metrics
    assert metrics["time/student/intent_ece"] >= 0.0
    assert metrics["latency_ms/teacher embedding"] > metrics["latency_ms/student embedding"]
    assert {"time_ingest_s", "time_embed_s", "time_fit_s", "time_export_s"} <= metrics.keys()
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"config.json", "ingest_report.json", "report", "eval"} <= artifacts
    report_files = {Path(a.path).name for a in client.list_artifacts(first.run_id, "report")}
    assert {
        "report.md",
        "confusion_time_student_intent.png",
        "reliability_time_student.png",
    } <= report_files
    config_logged = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(
                run_id=first.run_id, artifact_path="config.json", dst_path=str(tmp_path / "dl")
            )
        ).read_text()
    )
    assert config_logged["heads"]["max_iter"] == 15

    # markdown report: both held-out evaluations and the student/teacher comparison
    text = first.report_path.read_text()
    assert "time/student" in text and "unseen/student" in text and "teacher (sample)" in text
    copy = (tmp_path / "docs" / "evaluation.md").read_text()
    assert "](evaluation/confusion_time_student_intent.png)" in copy
    assert (tmp_path / "docs" / "evaluation" / "confusion_time_student_intent.png").is_file()

    # a second version is only a challenger: the champion does not move by training
    second = train(
        logs,
        corrections=corrections,
        bundle_dir=tmp_path / "bundle2",
        config=small_config(teacher__enabled="false"),
        work_dir=tmp_path / "w",
        student_dir=student_dir,
        progress=False,
    )
    assert (second.model_version, second.alias) == ("2", "challenger")
    assert str(client.get_model_version_by_alias("tierwise", "champion").version) == "1"


def test_train_without_logs_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    from classifier.cli import main

    assert main(["train", "--bundle-dir", "unused"]) == 2
    assert "--build-default" in capsys.readouterr().err
