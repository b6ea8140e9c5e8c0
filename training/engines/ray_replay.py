"""Replay scoring on Ray Data: held-out rows in blocks, the bundle loaded once per actor.

Each actor runs `training.replay.rowscore.score_rows` (the in-process code) on its blocks:
classify with the onnxruntime Classifier, scan the guards, decide the learned policy under every
contract variant and price every first tier with the playbook. Blocks start at multiples of
the replay's `batch_size`, so the bundle sees exactly the batches it sees in process and every
figure of the report is the in-process one. Results travel back as one pickled `RowScores` per
block and are put in input order by the driver.

    scorer = RayScorer(workers=2)
    scores = scorer(job, texts, features, requests)
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from training.engines.ray_runtime import start_ray
from training.replay.costs import ReplayRequest
from training.replay.rowscore import RowScores, ScoreJob, score_rows

BLOCK_BATCHES = 8  # batches of `batch_size` rows per block: 2,048 rows at the default 256
_REQUEST_FIELDS = ("intent", "risk", "structured", "request_id")


class _ScoreBlock:
    """map_batches body: one Classifier per actor; a block of rows in, one pickled result out."""

    def __init__(self, job: ScoreJob) -> None:
        from classifier.runtime import Classifier

        self.job = job
        self.clf = Classifier.load(job.bundle_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        features = [str(f) for f in batch["feature"]]
        requests = _requests(batch, texts, features) if "request_id" in batch else None
        scores = score_rows(self.clf, self.job, texts, features, requests)
        blob = pickle.dumps(scores, protocol=pickle.HIGHEST_PROTOCOL)
        return {
            "start": np.asarray([int(batch["i"][0])]),
            "scores": np.asarray([blob], dtype=object),
        }


def _requests(batch: dict[str, np.ndarray], texts: list[str], features: list[str]) -> list[Any]:
    ok = np.asarray(batch["tier_ok"].tolist(), dtype=bool)
    return [
        ReplayRequest(
            text=text,
            feature=feature,
            intent=str(batch["intent"][r]),
            risk=str(batch["risk"][r]),
            structured=bool(batch["structured"][r]),
            tier_ok=(bool(ok[r, 0]), bool(ok[r, 1]), bool(ok[r, 2])),
            request_id=str(batch["request_id"][r]),
        )  # fmt: skip
        for r, (text, feature) in enumerate(zip(texts, features, strict=True))
    ]


class RayScorer:
    """A `training.replay.rowscore.Scorer` that runs on Ray Data (a local cluster if none)."""

    def __init__(self, workers: int | None = None, block_batches: int = BLOCK_BATCHES) -> None:
        self.workers = workers
        self.block_batches = block_batches

    def __call__(
        self,
        job: ScoreJob,
        texts: list[str],
        features: list[str],
        requests: Sequence[ReplayRequest] | None,
    ) -> RowScores:
        import pyarrow as pa

        ray = start_ray(self.workers)
        n = len(texts)
        block = job.batch_size * self.block_batches
        blocks = []
        for s in range(0, n, block):
            e = min(s + block, n)
            columns: dict[str, Any] = {"i": np.arange(s, e), "text": texts[s:e],
                                       "feature": features[s:e]}  # fmt: skip
            if requests is not None:
                part = requests[s:e]
                for name in _REQUEST_FIELDS:
                    columns[name] = [getattr(r, name) for r in part]
                columns["tier_ok"] = [list(r.tier_ok) for r in part]
            blocks.append(pa.table(columns))
        if not blocks:
            return score_rows(_NoRows(), job, [], [], [] if requests is not None else None)
        pool = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        dataset = ray.data.from_arrow(blocks).map_batches(
            _ScoreBlock,
            fn_constructor_args=(job,),
            concurrency=min(pool, len(blocks)),
            batch_size=None,  # one whole block per call: its first row is a batch boundary
            batch_format="numpy",
            num_cpus=1,
        )
        parts: dict[int, RowScores] = {}
        for out in dataset.iter_batches(batch_format="numpy", batch_size=None):
            for start, blob in zip(out["start"], out["scores"], strict=True):
                parts[int(start)] = pickle.loads(blob)
        if sorted(parts) != list(range(0, n, block)):
            raise RuntimeError(f"Ray replay returned blocks {sorted(parts)} for {n} rows")
        return RowScores.concat([parts[s] for s in sorted(parts)])


class _NoRows:
    """Stands in for a Classifier when there is nothing to classify."""

    def classify_batch(self, texts: list[str]) -> list[Any]:
        return []
