"""`tierwise evaluate` end to end: generated logs + a tiny bundle -> report, JSON, curve, MLflow."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from data.generator import generate
from training.replay.cli import register


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tierwise")
    register(parser.add_subparsers())
    args = parser.parse_args(["evaluate", *argv])
    return args.handler(args)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay-logs")
    generate(600, seed=5, out_dir=out)
    return out


@pytest.mark.slow
def test_evaluate_end_to_end(
    logs: Path, tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    code = run_cli(
        [
            "--logs",
            str(logs / "logs.jsonl"),
            "--corrections",
            str(logs / "corrections.jsonl"),
            "--truth",
            str(logs / "truth.jsonl"),
            "--bundle",
            str(tiny_bundle),
            "--out",
            str(out),
            "--replays",
            "1",
            "--bootstrap",
            "50",
            "--set",
            f"tracking.tracking_uri={uri}",
            "--set",
            "embed.cache=false",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "learned policy" in printed and "MLflow run:" in printed

    payload = json.loads((out / "replay.json").read_text())
    assert payload["mode"] == "exact"
    expected = {
        "rules",
        "learned",
        "knn",
        "random_matched",
        "prompt_length",
        "keyword",
        "always_nano",
        "always_mini",
        "always_full",
        "strongest_allowed",
        "oracle",
        "perfect_reader",
    }
    assert set(payload["scores"]) == expected
    scores = payload["scores"]
    # The strongest tier each contract allows: full except where a p95 budget excludes it.
    strongest, full = scores["strongest_allowed"], scores["always_full"]
    assert strongest["cost_per_1k_usd"] <= full["cost_per_1k_usd"] + 1e-9
    assert payload["info"]["eval_rows"] == 120  # newest 20% of 600
    # The oracle starts every request at its cheapest viable tier: nothing is cheaper at its
    # failure rate, and always-full never beats it on failures.
    assert scores["oracle"]["cost_per_1k_usd"] < scores["always_full"]["cost_per_1k_usd"]
    assert scores["oracle"]["failure_rate"] <= scores["always_full"]["failure_rate"] + 1e-9
    assert scores["random_matched"]["cost_usd"] == pytest.approx(
        scores["learned"]["cost_usd"], rel=1e-6
    )
    assert set(payload["per_feature"]["learned"]) == set(payload["per_feature"]["rules"])
    # the prompt-length router: thresholds matched to the learned policy's cost, scored like
    # the others (per feature, PGR, a curve with gap figures), and in the report's table
    length = scores["prompt_length"]
    assert length["length_lo_chars"] <= length["length_hi_chars"]
    step = scores["always_full"]["cost_per_1k_usd"] - scores["always_nano"]["cost_per_1k_usd"]
    assert abs(length["cost_per_1k_usd"] - scores["learned"]["cost_per_1k_usd"]) <= max(
        0.005 * scores["learned"]["cost_per_1k_usd"], 3 * step / payload["info"]["eval_rows"]
    )
    assert set(payload["per_feature"]["prompt_length"]) == set(payload["per_feature"]["rules"])
    assert "pgr" in length and 0.0 <= payload["gaps"]["prompt_length"]["apgr"] <= 1.0
    lcurve = payload["curves"]["prompt_length"]
    assert len(lcurve) >= 2
    assert np.all(np.diff([p["cost_per_1k_usd"] for p in lcurve]) >= 0)
    assert np.all(np.diff([p["failure_rate"] for p in lcurve]) < 0)
    assert ("NOT beat" in payload["verdict"]) == (
        not (
            scores["learned"]["cost_per_1k_usd"] < scores["rules"]["cost_per_1k_usd"]
            and scores["learned"]["failure_rate"] <= scores["rules"]["failure_rate"]
        )
    )

    png = out / "cost_quality.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "cost_quality.png" in report and payload["verdict"] in report
    assert "| prompt length at learned's cost |" in report and "**prompt_length**" in report

    for name in ("learned", "knn"):
        curve = payload["curves"][name]
        bars = [p["quality_bar"] for p in curve]
        assert bars == sorted(bars)
        # A higher bar can only move a request to a higher tier: the share sent to full first
        # never falls, and the share sent to nano never rises.
        assert np.all(np.diff([p["share_full"] for p in curve]) >= -1e-12)
        assert np.all(np.diff([p["share_nano"] for p in curve]) <= 1e-12)
        gaps = payload["gaps"][name]
        assert 0.0 <= gaps["apgr"] <= 1.0

    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["tierwise"], output_format="list")
    run = next(r for r in runs if r.data.tags.get("tierwise.kind") == "evaluate")
    assert run.data.metrics["learned/cost_per_1k_usd"] == pytest.approx(
        scores["learned"]["cost_per_1k_usd"]
    )
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "evaluate")}
    assert {"evaluate/report.md", "evaluate/replay.json", "evaluate/cost_quality.png"} <= artifacts


@pytest.mark.slow
def test_evaluate_without_truth_is_labelled_an_estimate(
    logs: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    code = run_cli(
        [
            "--logs",
            str(logs / "logs.jsonl"),
            "--corrections",
            str(logs / "corrections.jsonl"),
            "--bundle",
            str(tiny_bundle),
            "--out",
            str(out),
            "--bootstrap",
            "50",
            "--no-mlflow",
            "--set",
            "embed.cache=false",
        ]
    )
    assert code == 0
    payload = json.loads((out / "replay.json").read_text())
    assert payload["mode"] == "estimate"
    assert "oracle" not in payload["scores"]
    lo, hi = payload["scores"]["rules"]["ci"]["cost_per_1k_usd"]
    assert lo <= payload["scores"]["rules"]["cost_per_1k_usd"] <= hi
    assert "ESTIMATE" in (out / "report.md").read_text()


def test_missing_bundle_is_a_clear_error(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(
        ["--logs", str(logs / "logs.jsonl"), "--bundle", str(tmp_path / "nope"), "--no-mlflow"]
    )
    assert code == 2
    assert "tierwise train" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_a_tuned_bundle_sweeps_failure_prices(tiny_model, tmp_path: Path) -> None:  # noqa: ANN001
    """A bundle carrying tuned thresholds: learned and kNN curves are failure-price sweeps, tuned
    out of sample, and the report compares the learned curve with every baseline."""
    from classifier.contracts import load_contracts, load_routing_table
    from classifier.rules import RuleRouter
    from classifier.runtime import Classifier
    from training.config import load_config
    from training.ingest.splits import make_splits
    from training.model.export import export_bundle
    from training.replay.costs import simulate_outcomes
    from training.replay.data import load_replay_data
    from training.replay.tier_tuning import tune

    logs = tmp_path / "logs"
    generate(2500, seed=9, out_dir=logs)
    table, contracts = load_routing_table(), load_contracts()
    rd = load_replay_data(
        [logs / "logs.jsonl"], [logs / "corrections.jsonl"], logs / "truth.jsonl", table
    )
    cfg = load_config(overrides=["data.calib_fraction=0.3"])
    calib = make_splits(rd.data.ts, cfg.data, rd.truth).calib
    texts = [rd.data.text[i] for i in calib]
    tuning = tune(
        Classifier.load(tiny_model.bundle_dir).classify_batch(texts),
        texts,
        [rd.data.feature[i] for i in calib],
        contracts,
        table,
        RuleRouter.default(table.tier_models),
        outcomes=simulate_outcomes(rd.requests(calib), table, replays=1),
    )
    bundle = export_bundle(
        tiny_model.student,
        tiny_model.heads,
        tmp_path / "tuned",
        name="tuned",
        version="1",
        extra_manifest={"tier_tuning": tuning.to_dict()},
    )
    out = tmp_path / "report"
    code = run_cli(
        [
            "--logs",
            str(logs / "logs.jsonl"),
            "--corrections",
            str(logs / "corrections.jsonl"),
            "--truth",
            str(logs / "truth.jsonl"),
            "--bundle",
            str(bundle),
            "--out",
            str(out),
            "--replays",
            "1",
            "--bootstrap",
            "20",
            "--no-mlflow",
            "--set",
            "embed.cache=false",
            "--set",
            "data.calib_fraction=0.3",
        ]
    )
    assert code == 0
    payload = json.loads((out / "replay.json").read_text())
    assert payload["info"]["tuning"]["learned"]["rows"] == len(calib)
    assert payload["info"]["tuning"]["knn"]["rows"] == len(calib)  # tuned on the same slice
    for name in ("learned", "knn", "perfect_reader"):
        curve = payload["curves"][name]
        prices = [p["failure_usd"] for p in curve]
        assert prices == sorted(prices) and prices[0] == 0.0 and prices[-1] == 100.0
        # pricing failures higher never makes the decision cheaper overall at the ends
        assert curve[0]["cost_per_1k_usd"] <= curve[-1]["cost_per_1k_usd"]
        assert curve[0]["failure_rate"] >= curve[-1]["failure_rate"]
    tiers = payload["tiers"]
    assert set(tiers["auc"]) == {"learned", "knn", "perfect_reader"}
    assert tiers["auc"]["perfect_reader"]["mini"] > 0.75  # the simulator's ceiling, not noise
    assert {row["baseline"] for row in tiers["below"]} == {
        "always_nano",
        "always_mini",
        "always_full",
        "strongest_allowed",
        "rules",
        "knn",
        "prompt_length",
        "keyword",
    }
    assert set(tiers["savings"]["learned"]) == {
        "at_full_failure",
        "at_full_plus_0.5pt",
        "at_full_plus_1pt",
        "at_rules_failure",
        "vs_strongest_allowed",
    }
    report = (out / "report.md").read_text()
    assert "## The smallest viable tier" in report and "failure price (USD" in report
    assert "| keyword router at learned's cost |" in report
