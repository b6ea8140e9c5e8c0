"""`tierwise promote`: challenger always; champion only past the gate, refused with numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_worse_model_is_refused_with_numbers_and_better_gate_moves_champion(
    generated_logs: Path,
    sqlite_tracking: str,
    student_dir: Path,
    small_config,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlflow import MlflowClient

    from classifier.cli import main
    from training.pipeline import train

    logs = [generated_logs / "logs.jsonl"]
    kw = {
        "corrections": [generated_logs / "corrections.jsonl"],
        "work_dir": tmp_path / "w",
        "student_dir": student_dir,
        "progress": False,
    }
    good = train(
        logs, bundle_dir=tmp_path / "good", config=small_config(teacher__enabled="false"), **kw
    )
    # one tree at a tiny learning rate: close to the class priors, a clearly worse model
    worse = train(
        logs,
        bundle_dir=tmp_path / "worse",
        config=small_config(teacher__enabled="false", heads__max_iter=1, heads__learning_rate=0.01),
        **kw,
    )
    assert (good.alias, worse.alias) == ("champion", "challenger")
    client = MlflowClient(tracking_uri=sqlite_tracking)

    code = main(["promote", "--version", worse.model_version])
    err = capsys.readouterr().err
    assert code == 1
    assert "refused" in err and "mean_macro_f1" in err
    scores = [float(x) for x in re.findall(r"v\d+ (\d\.\d{4})", err)]
    assert len(scores) == 2 and scores[0] < scores[1]  # candidate, then champion
    assert (
        str(client.get_model_version_by_alias("tierwise", "champion").version) == good.model_version
    )
    assert (
        str(client.get_model_version_by_alias("tierwise", "challenger").version)
        == worse.model_version
    )

    # a gate that tolerates any loss lets it through: the gate, not the code path, decided
    code = main(["promote", "--version", worse.model_version, "--min-delta", "-1"])
    assert code == 0, capsys.readouterr()
    assert (
        str(client.get_model_version_by_alias("tierwise", "champion").version)
        == worse.model_version
    )

    # re-export the champion from the registry: byte-identical to what training wrote
    code = main(["export", "--alias", "champion", "--out", str(tmp_path / "exported")])
    assert code == 0
    for name in ("model.onnx", "tokenizer.json", "manifest.json"):
        assert (tmp_path / "exported" / name).read_bytes() == (
            tmp_path / "worse" / name
        ).read_bytes()


def test_promoting_an_unknown_version_says_so(
    sqlite_tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from classifier.cli import main

    assert main(["promote", "--version", "99"]) == 2
    assert "no version '99'" in capsys.readouterr().err
