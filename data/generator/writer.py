"""Assemble schema-v1 records and write logs, corrections and truth; the `generate` API.

One rng drives everything in a fixed order, so the same seed gives byte-identical files.
Records stream to disk as they are made; only the (small) correction stream is held to be
written in time order.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from classifier.errors import InputError
from classifier.taxonomy import RISK_RANK
from data.generator import feedback
from data.generator.config import SimConfig, load_config
from data.generator.difficulty import difficulty, tier_ok
from data.generator.grammar import cumulative, pick, weighted
from data.generator.router import RouterSim
from data.generator.texts import TextSampler

log = logging.getLogger(__name__)

PROMPT_VERSIONS = {
    "inline_assist": 7,
    "support_chat": 12,
    "doc_summary": 3,
    "code_assist": 5,
    "data_extraction": 2,
    "ticket_triage": 4,
    "policy_review": 1,
}
CLIENTS = ("web", "web", "api", "mobile", "slack", "api")


@dataclass(frozen=True)
class Knobs:
    """Everything a user may want to turn; the defaults are what `tierwise generate` uses."""

    epsilon: float = 0.1  # exploration share of the logging policy
    transient_rate: float = 0.015  # per-attempt infrastructure error rate
    label_rate: float = 0.5  # share of records with human-review labels
    label_noise: float = 0.03  # chance each label is wrong
    nonenglish_rate: float = 0.05
    hard_rate: float = 0.14  # share of texts drawn from hard-case families
    max_words: int = 4000  # longest pasted document, roughly
    days: int = 30
    out_of_order_rate: float = 0.01  # records logged with an earlier timestamp than their neighbour


@dataclass
class GenerateSummary:
    """What `generate` wrote, with counts that make a run easy to sanity-check."""

    n_records: int
    n_corrections: int
    seed: int
    fmt: str
    logs: Path | None = None
    corrections: Path | None = None
    truth: Path | None = None
    seconds: float = 0.0
    intents: dict[str, int] = field(default_factory=dict)
    features: dict[str, int] = field(default_factory=dict)
    first_tiers: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    escalations: int = 0
    labelled: int = 0

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


def iter_records(
    n: int, seed: int, knobs: Knobs | None = None, config: SimConfig | None = None
) -> Iterator[tuple[dict, dict, list[tuple[float, dict]]]]:
    """Yield (log record, truth record, [(epoch, correction)]) for n requests, as plain dicts."""
    knobs = knobs or Knobs()
    config = config or load_config()
    rng = random.Random(seed)
    sampler = TextSampler(knobs.nonenglish_rate, knobs.hard_rate, knobs.max_words)
    router = RouterSim(config, knobs.epsilon, knobs.transient_rate)
    features = config.features
    feature_cum = cumulative([f.share for f in features])
    mixes = {
        f.name: (
            tuple(f.intent_mix),
            cumulative(f.intent_mix.values()),
            tuple(f.domain_mix),
            cumulative(f.domain_mix.values()),
        )
        for f in features
    }
    times = feedback.timestamps(rng, n, knobs.days)
    seen: set[str] = set()
    for i in range(n):
        feature = weighted(rng, features, feature_cum)
        intents, icum, domains, dcum = mixes[feature.name]
        sample = sampler.sample(rng, weighted(rng, intents, icum), weighted(rng, domains, dcum))
        if RISK_RANK[feature.risk_floor] > RISK_RANK[sample.risk]:
            sample = dataclasses.replace(sample, risk=feature.risk_floor)
        d = difficulty(sample, rng)
        ok = tier_ok(d)
        trace = router.play(rng, sample, feature.name, ok)
        request_id = f"req_{rng.getrandbits(64):016x}"
        while request_id in seen:
            request_id = f"req_{rng.getrandbits(64):016x}"
        seen.add(request_id)
        ts = times[i]
        if rng.random() < knobs.out_of_order_rate:
            ts -= 1.0 + rng.random() * 600.0
        day = (ts - feedback.START_EPOCH) / feedback.DAY
        version = PROMPT_VERSIONS.get(feature.name, 1) + (
            1 if day > 17 and hash_bucket(feature.name) else 0
        )
        variant = None
        if feature.name == "support_chat" and 8 <= day < 22:
            variant = "tone_test:a" if rng.random() < 0.5 else "tone_test:b"
        meta = {"client": pick(rng, CLIENTS)}
        if trace.risk_mark:
            meta["risk_mark"] = "high"
        record = {
            "schema_version": "1",
            "request_id": request_id,
            "ts": feedback.rfc3339(ts),
            "feature": feature.name,
            "text": sample.text,
            "prompt_id": None if rng.random() < 0.03 else f"{feature.name}@v{version}",
            "route": {
                "policy": "rules",
                "variant": variant,
                "tier": trace.tier,
                "reason": trace.reason,
                "model_version": config.rules_version,
                "propensity": trace.propensity,
            },
            "attempts": trace.attempts,
            "escalations": trace.escalations,
            "safety_flags": list(sample.safety_flags),
            "labels": feedback.review_labels(
                rng, sample.intent, sample.risk, knobs.label_rate, knobs.label_noise
            ),
            "corrections": [],
            "meta": meta,
        }
        truth = {
            "request_id": request_id,
            "intent": sample.intent,
            "risk": sample.risk,
            "tier_ok": ok,
            "difficulty": d,
            "domain": sample.domain,
            "template": sample.template,
            "language": sample.language,
        }
        events = feedback.corrections(
            rng, request_id, ts, trace.served_ok, trace.served_visible_failure, feature.name
        )
        yield record, truth, events


def hash_bucket(name: str) -> bool:
    """Which prompts got a new version mid-month; stable, unlike hash() under PYTHONHASHSEED."""
    return sum(map(ord, name)) % 2 == 0


def generate(
    n: int,
    seed: int,
    out_dir: Path,
    fmt: str = "jsonl",
    knobs: Knobs | None = None,
    config: SimConfig | None = None,
) -> GenerateSummary:
    """Write DIR/logs.{jsonl|parquet}, DIR/corrections.jsonl and DIR/truth.jsonl for n requests.

    >>> generate(1000, seed=7, out_dir=Path("/tmp/logs")).n_records   # doctest: +SKIP
    1000
    """
    if n < 0:
        raise InputError(f"--n must be >= 0, got {n}")
    if fmt not in ("jsonl", "parquet"):
        raise InputError(f"format must be 'jsonl' or 'parquet', got {fmt!r}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = GenerateSummary(
        n_records=0,
        n_corrections=0,
        seed=seed,
        fmt=fmt,
        logs=out_dir / f"logs.{fmt}",
        corrections=out_dir / "corrections.jsonl",
        truth=out_dir / "truth.jsonl",
    )
    counts: dict[str, Counter] = {
        k: Counter() for k in ("intents", "features", "first_tiers", "languages")
    }
    events: list[tuple[float, int, dict]] = []
    parquet = _ParquetSink(summary.logs) if fmt == "parquet" else None
    with (
        open(summary.truth, "wb") as truth_f,
        open(summary.logs, "wb") if parquet is None else _Null() as logs_f,
    ):
        for index, (record, truth, evs) in enumerate(iter_records(n, seed, knobs, config)):
            if parquet is None:
                logs_f.write(orjson.dumps(record) + b"\n")
            else:
                parquet.add(record)
            truth_f.write(orjson.dumps(truth) + b"\n")
            events.extend((when, index, ev) for when, ev in evs)
            summary.n_records += 1
            summary.escalations += len(record["escalations"])
            summary.labelled += record["labels"] is not None
            counts["intents"][truth["intent"]] += 1
            counts["features"][record["feature"]] += 1
            counts["first_tiers"][record["route"]["tier"]] += 1
            counts["languages"][truth["language"]] += 1
    if parquet is not None:
        parquet.close()
    events.sort(key=lambda e: (e[0], e[1]))
    with open(summary.corrections, "wb") as f:
        for _, _, ev in events:
            f.write(orjson.dumps(ev) + b"\n")
    summary.n_corrections = len(events)
    for key, counter in counts.items():
        setattr(summary, key, dict(sorted(counter.items())))
    summary.seconds = round(time.perf_counter() - started, 2)
    log.info(
        "generated %d records, %d corrections in %.1f s -> %s",
        summary.n_records,
        summary.n_corrections,
        summary.seconds,
        out_dir,
    )
    return summary


class _Null:
    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _ParquetSink:
    """Buffers records into row groups; pyarrow is imported only when parquet is asked for."""

    ROWS = 20_000

    def __init__(self, path: Path) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - depends on the installed extra
            raise InputError(
                "--format parquet needs pyarrow; install the train extra "
                "(`pip install -e '.[train]'`) or use --format jsonl"
            ) from exc
        from data.generator.arrow import log_schema

        self.pa = pa
        self.schema = log_schema(pa)
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self.rows: list[dict] = []

    def add(self, record: dict) -> None:
        self.rows.append(record)
        if len(self.rows) >= self.ROWS:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()
