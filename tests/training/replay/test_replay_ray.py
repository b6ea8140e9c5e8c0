"""`tierwise evaluate --engine ray`: the held-out requests are classified, decided and priced on
Ray Data (a local two-CPU cluster), and the report equals the in-process one, figure by figure.

Only the measured router latencies differ between two runs of the same engine, so they (and
the run's own timing) are the only fields left out of the comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from training.replay.run import ReplayConfig, run_replay

pytestmark = [pytest.mark.slow, pytest.mark.ray]
MEASURED = {"router_latency_ms", "added_latency_ms"}  # timings of this run, not the data's
RUN_ONLY = {"created", "seconds", "engine", "scoring_seconds"}


def _figures(out: Path) -> dict[str, Any]:
    payload = json.loads((out / "replay.json").read_text())
    for key in RUN_ONLY:
        payload["info"].pop(key)
    for policy in payload["scores"].values():
        for key in MEASURED:
            policy.pop(key)
    return payload


@pytest.mark.parametrize("with_truth", [True, False], ids=["exact", "estimate"])
def test_ray_replay_report_equals_in_process(
    ray_cluster: None, generated_logs: Path, tiny_bundle: Path, tmp_path: Path, with_truth: bool
) -> None:
    # batch 16 and 8 batches a block: the 300 held-out rows go out in 3 blocks to 2 actors
    rc = ReplayConfig(replays=1, bootstrap=20, batch_size=16, knn_max_train=400)
    truth = generated_logs / "truth.jsonl" if with_truth else None
    runs = {}
    for engine in ("local", "ray"):
        result = run_replay([generated_logs / "logs.jsonl"], [generated_logs / "corrections.jsonl"],
                            truth, tiny_bundle, tmp_path / engine, config=rc, track=False,
                            engine=engine, workers=2)  # fmt: skip
        assert result.info["engine"] == engine
        runs[engine] = result
    local, ray = _figures(tmp_path / "local"), _figures(tmp_path / "ray")
    assert runs["ray"].info["eval_rows"] == 300 > 2 * 16 * 8
    assert local["mode"] == ("exact" if with_truth else "estimate")
    assert ray == local  # every score, curve point, breakdown, tier figure and driver
    assert (tmp_path / "ray" / "report.md").read_text().count("|") > 100
    learned = ray["scores"]["learned"]
    assert learned["cost_per_1k_usd"] > 0 and 0 <= learned["failure_rate"] <= 1
