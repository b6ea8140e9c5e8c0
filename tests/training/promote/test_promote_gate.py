"""`tierwise promote` against a real sqlite registry: every route to a worse champion is closed.

The bundles (tests/training/conftest.py) are tiny real exports with known training windows; the
gate scores them through the serving runtime on the session's generated logs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.slow


def _logs(gate_bundles, *, truth: bool = False) -> list[str]:
    d = gate_bundles.logs_dir
    args = ["--logs", str(d / "logs.jsonl"), "--corrections", str(d / "corrections.jsonl")]
    return args + (["--truth", str(d / "truth.jsonl")] if truth else [])


def _promote(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from classifier.cli import main

    code = main(["promote", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _decisions(tracking_uri: str) -> list[dict]:
    """The promote runs in the store, oldest first, as (tags, metrics, decision.json)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    runs = client.search_runs(
        [client.get_experiment_by_name("tierwise").experiment_id],
        "tags.`tierwise.kind` = 'promote'",
        order_by=["attributes.start_time ASC"],
    )
    out = []
    for run in runs:
        path = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="promote/decision.json"
        )
        out.append(
            {
                "tags": run.data.tags,
                "metrics": run.data.metrics,
                "decision": json.loads(Path(path).read_text()),
            }
        )
    return out


def _check(text: str, name: str) -> tuple[str, float, float]:
    """(pass|FAIL, candidate, champion) of one check line in the gate's message."""
    m = re.search(rf"\[(pass|FAIL)\] {name}: candidate (\S+) vs champion (\S+);", text)
    assert m, f"no check {name!r} in:\n{text}"
    return m.group(1), float(m.group(2)), float(m.group(3))


def test_a_first_champion_needs_an_explicit_flag(
    registry, gate_bundles, sqlite_tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    version, _ = registry.register("better")
    assert registry.champion() is None

    code, _, err = _promote(capsys, "--version", version, *_logs(gate_bundles))
    assert code == 1
    assert "has no champion" in err and f"--version {version} --allow-first-champion" in err
    assert registry.champion() is None

    code, out, _ = _promote(capsys, "--version", version, "--allow-first-champion")
    assert code == 0 and "first champion" in out
    assert registry.champion() == version
    outcomes = [d["tags"]["promote.outcome"] for d in _decisions(sqlite_tracking)]
    assert outcomes == ["refused", "promoted"]


def test_rows_a_model_trained_on_are_never_scored(
    registry, gate_bundles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Route 1: logs that overlap a training window. The memoriser is perfect on its own 200
    training rows and worse than the champion everywhere else."""
    champion, _ = registry.register("champion")
    registry.champion(champion)
    memoriser, _ = registry.register("memoriser")
    recent = tmp_path / "recent.jsonl"
    lines = (gate_bundles.logs_dir / "logs.jsonl").read_bytes().splitlines()
    start = float(gate_bundles.ts[1300])
    recent.write_bytes(
        b"\n".join(
            line
            for line in lines
            if dt.datetime.fromisoformat(orjson.loads(line)["ts"]).timestamp() >= start
        )
        + b"\n"
    )

    corrections = str(gate_bundles.logs_dir / "corrections.jsonl")
    code, _, err = _promote(
        capsys, "--version", memoriser, "--logs", str(recent), "--corrections", corrections
    )
    assert code == 1, err
    assert "only 0 labelled rows" in err and "200 inside a training window" in err
    assert "next: pass --logs with at least 200 labelled rows recorded after" in err
    assert registry.champion() == champion

    # with the whole logs, only the 300 rows between the two windows are scored, and it loses
    code, _, err = _promote(capsys, "--version", memoriser, *_logs(gate_bundles))
    assert code == 1
    assert "300 rows of" in err and "1200 inside a training window" in err
    verdict, candidate, champ = _check(err, "mean_macro_f1")
    assert verdict == "FAIL" and candidate < champ
    assert registry.champion() == champion


def test_the_candidates_own_heldout_rows_are_not_the_exam(
    registry, gate_bundles, capsys: pytest.CaptureFixture[str]
) -> None:
    """Route 2: a candidate run that writes its own held-out set (here: rows after both
    windows, labelled with its own predictions) must not decide its promotion."""
    from mlflow import MlflowClient

    from classifier.runtime import Classifier
    from classifier.taxonomy import TIERS
    from training.evaluation.run_report import HELDOUT_ARTIFACT
    from training.ingest.load import load_training_set

    champion, _ = registry.register("champion")
    registry.champion(champion)
    worse, run_id = registry.register("worse")
    d = gate_bundles.logs_dir
    data, _ = load_training_set([d / "logs.jsonl"], [d / "corrections.jsonl"], None)
    texts = list(data.text[1000:])
    preds = Classifier.load(gate_bundles.dirs["worse"]).classify_batch(texts)
    exam = [
        {
            "request_id": data.request_id[1000 + i],
            "ts": float(data.ts[1000 + i]),
            "feature": data.feature[1000 + i],
            "text": text,
            "intent": p.intent,
            "risk": p.risk,
            "tier_ok": {t: p.tier_ok_probs[t] >= 0.5 for t in TIERS},
        }
        for i, (text, p) in enumerate(zip(texts, preds, strict=True))
    ]
    MlflowClient().log_text(run_id, "\n".join(json.dumps(r) for r in exam) + "\n", HELDOUT_ARTIFACT)

    code, _, err = _promote(capsys, "--version", worse)
    assert code == 2
    assert "pass --logs" in err and "own held-out rows are not used" in err
    assert registry.champion() == champion

    code, _, err = _promote(capsys, "--version", worse, *_logs(gate_bundles))
    assert code == 1 and _check(err, "mean_macro_f1")[0] == "FAIL"
    assert registry.champion() == champion


def test_a_lower_is_better_metric_is_compared_downwards(
    registry, gate_bundles, capsys: pytest.CaptureFixture[str]
) -> None:
    """Route 3: the same model with overconfident intent logits has a HIGHER intent ECE."""
    champion, _ = registry.register("better")
    registry.champion(champion)
    overconfident, _ = registry.register("overconfident")

    code, _, err = _promote(
        capsys, "--version", overconfident, "--metric", "intent_ece", *_logs(gate_bundles)
    )
    assert code == 1
    verdict, candidate, champ = _check(err, "intent_ece")
    assert verdict == "FAIL" and candidate > champ + 0.1
    assert "lower is better" in err
    assert registry.champion() == champion

    code, _, err = _promote(
        capsys, "--version", overconfident, "--metric", "intent_n", *_logs(gate_bundles)
    )
    assert code == 2 and "no better direction" in err
    assert registry.champion() == champion


def test_a_negative_min_delta_is_refused(
    registry, gate_bundles, capsys: pytest.CaptureFixture[str]
) -> None:
    """Route 4: `--min-delta -1` used to let anything through."""
    champion, _ = registry.register("champion")
    registry.champion(champion)
    worse, _ = registry.register("worse")

    code, _, err = _promote(capsys, "--version", worse, "--min-delta", "-1", *_logs(gate_bundles))
    assert code == 2 and "pass 0 or more" in err
    code, _, err = _promote(
        capsys, "--version", worse, "--set", "promote.min_delta=-0.5", *_logs(gate_bundles)
    )
    assert code == 2 and "promote.min_delta" in err and "greater than or equal to 0" in err
    assert registry.champion() == champion


def test_a_better_candidate_is_promoted_and_the_decision_logged_with_both_scores(
    registry, gate_bundles, sqlite_tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow import MlflowClient

    champion, _ = registry.register("champion")
    registry.champion(champion)
    better, _ = registry.register("better")

    code, out, err = _promote(capsys, "--version", better, *_logs(gate_bundles, truth=True))
    assert code == 0, err
    assert "promoted" in out and "replay exact" in out and "[FAIL]" not in out
    assert _check(out, "mean_macro_f1")[1] > _check(out, "mean_macro_f1")[2]
    assert registry.champion() == better
    client = MlflowClient(tracking_uri=sqlite_tracking, registry_uri=sqlite_tracking)
    assert "challenger" not in client.get_model_version("tierwise", better).aliases

    (logged,) = _decisions(sqlite_tracking)
    tags, metrics, decision = logged["tags"], logged["metrics"], logged["decision"]
    assert tags["promote.outcome"] == "promoted" and tags["promote.champion"] == champion
    for side in ("candidate", "champion"):
        for key in ("mean_macro_f1", "intent_ece", "replay_failure_rate", "replay_cost_per_1k_usd"):
            assert f"{side}/{key}" in metrics
    assert metrics["candidate/mean_macro_f1"] > metrics["champion/mean_macro_f1"]
    assert {c["name"] for c in decision["checks"]} >= {
        "mean_macro_f1", "intent_ece", "risk_ece", "replay_failure_rate",
        "cost_per_1k_usd_at_equal_failures",
    }  # fmt: skip
    assert all(c["passed"] for c in decision["checks"])
    tag = client.get_model_version("tierwise", better).tags
    assert tag["promote.outcome"] == "promoted" and tag["promote.run_id"]


def test_worse_calibration_is_refused_even_with_better_f1(
    registry, gate_bundles, capsys: pytest.CaptureFixture[str]
) -> None:
    champion, _ = registry.register("champion")
    registry.champion(champion)
    overconfident, _ = registry.register("overconfident")

    code, _, err = _promote(capsys, "--version", overconfident, *_logs(gate_bundles))
    assert code == 1
    assert _check(err, "mean_macro_f1")[0] == "pass"
    verdict, candidate, champ = _check(err, "intent_ece")
    assert verdict == "FAIL" and candidate > champ + 0.02
    assert registry.champion() == champion


def test_worse_routing_is_refused_even_with_better_f1(
    registry, gate_bundles, capsys: pytest.CaptureFixture[str]
) -> None:
    """Better intent head, P(ok) reversed: the gate replays the routing and refuses."""
    champion, _ = registry.register("champion")
    registry.champion(champion)
    inverted, _ = registry.register("inverted_tiers")

    args = ["--metric", "intent_macro_f1", *_logs(gate_bundles, truth=True)]
    code, _, err = _promote(capsys, "--version", inverted, *args)
    assert code == 1
    assert _check(err, "intent_macro_f1")[0] == "pass"
    verdict, candidate, champ = _check(err, "cost_per_1k_usd_at_equal_failures")
    assert verdict == "FAIL" and candidate > champ * 1.02
    assert registry.champion() == champion


def test_a_manifest_without_a_training_window_is_refused_unless_allowed(
    registry, gate_bundles, sqlite_tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    champion, _ = registry.register("champion")
    registry.champion(champion)
    unknown, _ = registry.register("no_window")

    code, _, err = _promote(capsys, "--version", unknown, *_logs(gate_bundles, truth=True))
    assert code == 1
    assert "records no training window" in err and "--allow-unknown-window" in err
    assert registry.champion() == champion

    code, out, err = _promote(
        capsys, "--version", unknown, "--allow-unknown-window", *_logs(gate_bundles, truth=True)
    )
    assert f"training window of candidate v{unknown}: not recorded" in out + err
    assert "1000 inside a training window" in out + err  # the champion's window still applies
    assert [d["decision"]["windows"] for d in _decisions(sqlite_tracking)][-1][
        f"candidate v{unknown}"
    ] == "not recorded"


def test_promoting_the_champion_or_an_unknown_version_says_so(
    registry, capsys: pytest.CaptureFixture[str]
) -> None:
    version, _ = registry.register("better")
    registry.champion(version)
    code, out, _ = _promote(capsys, "--version", version)
    assert code == 0 and "already the champion" in out

    code, _, err = _promote(capsys, "--version", "99")
    assert code == 2 and "no version '99'" in err
