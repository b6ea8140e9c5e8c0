"""The decision cache's size estimate counts what an entry owns, not the bundle it points to.

Every prediction of a tuned bundle references the bundle's one `TierTuning` (~880 objects for
the default bundle). Walking it on every put cost ~1 ms per cache miss over HTTP and counted each
entry ~10x its size, so the 64 MB budget held about half of `cache_size` entries.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from classifier.prediction import Prediction
from classifier.routing import RouteDecision
from classifier.runtime import Classifier
from serving.answer import Answer, Provenance
from serving.app import create_app
from serving.cache import SHARED, DecisionCache, deep_size, entry_bytes
from serving.settings import ServingSettings

TEXT = "Summarize the incident postmortem for the weekly update, ticket 7."


def _tuning_dict(features: int = 8, prices: int = 49) -> dict[str, Any]:
    """As large as the default bundle's tuning: 8 feature curves over a 49-price grid."""
    grid = [round(0.0005 * k, 6) for k in range(prices)]
    curve = {
        "cost_usd": [0.001 + 0.0001 * k for k in range(prices)],
        "failure_rate": [max(0.0, 0.2 - 0.004 * k) for k in range(prices)],
        "rows": 500,
    }
    names = ["*", *(f"feature_{k}" for k in range(1, features))]
    return {"prices": grid, "mode": "exact", "rows": 4000, "features": {n: curve for n in names}}


def _tuned_bundle(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["tier_tuning"] = _tuning_dict()
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _answer(prediction: Prediction) -> Answer:
    decision = RouteDecision(
        tier=prediction.tier, model="m", reason="r", policy="learned", prediction=prediction
    )
    prov = Provenance("tiny", prediction.model_version, prediction.bundle_hash,
                      prediction.taxonomy_version, prediction.tokens_used,
                      prediction.truncated)  # fmt: skip
    return Answer(prediction, decision, None, prov)


def test_an_entry_does_not_count_the_bundles_tuning(tiny_bundle: Path, tmp_path: Path) -> None:
    clf = Classifier.load(_tuned_bundle(tiny_bundle, tmp_path / "tuned"))
    tuned = clf.classify(TEXT)
    assert tuned.tier_tuning is clf.tier_tuning and deep_size(clf.tier_tuning) > 10_000
    untuned = dataclasses.replace(tuned, tier_tuning=None)
    assert entry_bytes(_answer(tuned)) == entry_bytes(_answer(untuned))


def test_a_full_cache_of_tuned_answers_fits_the_default_budget(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    """4,096 answers of a tuned bundle in the default 64 MB: all stay (about half did)."""
    clf = Classifier.load(_tuned_bundle(tiny_bundle, tmp_path / "tuned"))
    base = clf.classify(TEXT)
    cache = DecisionCache(4096)
    keys = []
    for n in range(4096):
        probs = {k: v + n * 1e-9 for k, v in base.intent_probs.items()}  # an entry's own dict
        keys.append(cache.key("epoch", f"{TEXT} {n}", None))
        cache.put(keys[-1], _answer(dataclasses.replace(base, intent_probs=probs)))
    assert len(cache) == 4096 and cache.nbytes <= cache.max_bytes
    first = cache.get(keys[0])
    assert first is not None and first.prediction.tier_tuning is clf.tier_tuning


@dataclasses.dataclass(frozen=True)
class _Holder:
    owned: str
    nested: dict[str, Any]
    shared: object = dataclasses.field(default=None, metadata={SHARED: True})


def test_owned_fields_count_and_shared_ones_do_not() -> None:
    big = "x" * 10_000
    plain = _Holder("a", {})
    assert deep_size(_Holder(big, {})) >= deep_size(plain) + 9_000
    assert deep_size(_Holder("a", {"k": ["y" * 5_000]})) >= deep_size(plain) + 4_000
    assert deep_size(_Holder("a", {}, shared=big)) == deep_size(plain)
    ordered: OrderedDict[str, str] = OrderedDict(k="z" * 5_000)  # dict subclasses are walked
    assert deep_size(_Holder("a", ordered)) >= deep_size(plain) + 4_000
    loop: list[Any] = ["w" * 1_000]
    loop.append(loop)  # a cycle ends, and each object counts once
    assert 1_000 < deep_size(loop) < 2_000


def test_a_tuned_miss_and_its_hit_answer_and_log_alike(tiny_bundle: Path, tmp_path: Path) -> None:
    """Through the app: the cached answer keeps the tuned decision, the response and the decision
    record of the hit match the miss's, and the entry is counted in a few KB, not the tuning's."""
    settings = ServingSettings(
        bundle_path=_tuned_bundle(tiny_bundle, tmp_path / "tuned"),
        reload_interval_s=0,
        warmup_requests=0,
        log_dir=tmp_path / "logs",
    )
    app = create_app(settings)
    cache = app.state.tierwise.cache
    with TestClient(app) as client:
        miss = client.post("/classify", json={"text": TEXT, "feature": "inline_assist"}).json()
        assert len(cache) == 1 and cache.nbytes < 8_000  # the tuning alone is ~30 KB
        hit = client.post("/classify", json={"text": TEXT, "feature": "inline_assist"}).json()
    assert (miss["provenance"]["cached"], hit["provenance"]["cached"]) == (False, True)
    for body in (miss, hit):
        del body["request_id"], body["provenance"]["cached"]
    assert hit == miss
    lines = (tmp_path / "logs" / "decisions.jsonl").read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines]
    assert len(records) == 2
    assert [r["meta"].pop("cached") for r in records] == [False, True]
    for record in records:
        del record["request_id"], record["ts"]  # the request's own, not the decision's
    assert records[0] == records[1] and records[0]["route"]["tier"] == miss["route"]["tier"]
