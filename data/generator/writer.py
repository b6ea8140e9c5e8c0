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
from data.generator.config import Feature, SimConfig, load_config
from data.generator.difficulty import difficulty, tier_ok
from data.generator.grammar import cumulative, pick, weighted
from data.generator.realpool import RealPool, load_real_pool, real_sample
from data.generator.router import RouterSim
from data.generator.texts import TextSample, TextSampler

log = logging.getLogger(__name__)

# Bump when the same seed and knobs make different records, so that cached logs are remade.
# 2: difficulty from text properties (difficulty.py), real texts (realpool.py).
GENERATOR_VERSION = 2
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
    """Everything a user may want to turn; the defaults are what `tierwise generate` uses,
    except `real_share` (the command's default is 0.3, see below)."""

    epsilon: float = 0.1  # exploration share of the logging policy
    transient_rate: float = 0.015  # per-attempt infrastructure error rate
    label_rate: float = 0.5  # share of records with human-review labels
    label_noise: float = 0.03  # chance each label is wrong
    nonenglish_rate: float = 0.05
    hard_rate: float = 0.14  # share of texts drawn from hard-case families
    max_words: int = 4000  # longest pasted document, roughly
    days: int = 30
    out_of_order_rate: float = 0.01  # records logged with an earlier timestamp than their neighbour
    # Share of requests whose text is a hand-labelled real one (realpool.py) instead of a
    # composed one. 0 here so that the Python API needs no corpus; `tierwise generate` uses 0.3.
    real_share: float = 0.0


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
    real_texts: int = 0  # requests whose text came from the labelled real pool

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


def iter_records(
    n: int,
    seed: int,
    knobs: Knobs | None = None,
    config: SimConfig | None = None,
    real_pool: RealPool | None = None,
) -> Iterator[tuple[dict, dict, list[tuple[float, dict]]]]:
    """Yield (log record, truth record, [(epoch, correction)]) for n requests, as plain dicts.

    With `knobs.real_share` > 0, that share of requests takes a labelled real text from
    `real_pool` (default: `load_real_pool()`, loaded on first use) and a feature drawn in
    proportion to share x the feature's weight for the text's intent.
    """
    knobs = knobs or Knobs()
    if not 0.0 <= knobs.real_share <= 1.0:
        raise InputError(f"real_share must be between 0 and 1, got {knobs.real_share}")
    pool = None
    if knobs.real_share > 0.0:
        pool = real_pool if real_pool is not None else load_real_pool()
    # set-up (and its errors) happen now; records are made as they are consumed
    return _Run(seed, knobs, config or load_config(), pool).records(n)


class _Run:
    """One run's fixed parts: one rng for everything, text sampler, router, mixes, real pool."""

    def __init__(self, seed: int, knobs: Knobs, config: SimConfig, pool: RealPool | None) -> None:
        self.rng = random.Random(seed)
        self.knobs = knobs
        self.config = config
        self.pool = pool
        self.sampler = TextSampler(knobs.nonenglish_rate, knobs.hard_rate, knobs.max_words)
        self.router = RouterSim(config, knobs.epsilon, knobs.transient_rate)
        self.feature_cum = cumulative([f.share for f in config.features])
        self.mixes = {
            f.name: (
                tuple(f.intent_mix),
                cumulative(f.intent_mix.values()),
                tuple(f.domain_mix),
                cumulative(f.domain_mix.values()),
            )
            for f in config.features
        }
        self.by_intent = (
            {i: features_for(config.features, i) for i in pool.intents()} if pool else {}
        )

    def sample(self, position: float) -> tuple[Feature, TextSample]:
        """The feature and text of the request at `position` (0..1 of the run, in time order):
        a labelled real one, or a composed one."""
        rng = self.rng
        if self.pool is not None and rng.random() < self.knobs.real_share:
            row = self.pool.draw(rng, position)
            return weighted(rng, *self.by_intent[row.intent]), real_sample(row)
        feature = weighted(rng, self.config.features, self.feature_cum)
        intents, icum, domains, dcum = self.mixes[feature.name]
        intent, domain = weighted(rng, intents, icum), weighted(rng, domains, dcum)
        return feature, self.sampler.sample(rng, intent, domain)

    def records(self, n: int) -> Iterator[tuple[dict, dict, list[tuple[float, dict]]]]:
        rng, knobs, config, router = self.rng, self.knobs, self.config, self.router
        times = feedback.timestamps(rng, n, knobs.days)
        seen: set[str] = set()
        for i in range(n):
            feature, sample = self.sample(i / n)
            if RISK_RANK[feature.risk_floor] > RISK_RANK[sample.risk]:
                sample = dataclasses.replace(sample, risk=feature.risk_floor)
            d = difficulty(sample.text, sample.intent, sample.risk, rng)
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


def features_for(features: tuple[Feature, ...], intent: str) -> tuple[tuple, tuple]:
    """(features, cumulative weights) for a request of `intent`: P(feature | intent) is
    proportional to the feature's traffic share x its intent-mix weight for that intent. An
    intent no feature serves falls back to the traffic shares."""
    weights = [f.share * f.intent_mix.get(intent, 0.0) for f in features]
    if sum(weights) <= 0:
        weights = [f.share for f in features]
    return features, cumulative(weights)


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
    real_pool: RealPool | None = None,
) -> GenerateSummary:
    """Write DIR/logs.{jsonl|parquet}, DIR/corrections.jsonl and DIR/truth.jsonl for n requests.

    `knobs.real_share` (default 0: templates only) mixes in labelled real texts; see
    `iter_records`. Same seed, knobs and pool: same bytes.

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
    logs_path, truth_path = out_dir / f"logs.{fmt}", out_dir / "truth.jsonl"
    corrections_path = out_dir / "corrections.jsonl"
    summary = GenerateSummary(
        n_records=0,
        n_corrections=0,
        seed=seed,
        fmt=fmt,
        logs=logs_path,
        corrections=corrections_path,
        truth=truth_path,
    )
    counts: dict[str, Counter] = {
        k: Counter() for k in ("intents", "features", "first_tiers", "languages")
    }
    events: list[tuple[float, int, dict]] = []
    records = iter_records(n, seed, knobs, config, real_pool)  # fails before any file is opened
    parquet = _ParquetSink(logs_path) if fmt == "parquet" else None
    with (
        open(truth_path, "wb") as truth_f,
        open(logs_path, "wb") if parquet is None else _Null() as logs_f,
    ):
        for index, (record, truth, evs) in enumerate(records):
            if parquet is None:
                logs_f.write(orjson.dumps(record) + b"\n")
            else:
                parquet.add(record)
            truth_f.write(orjson.dumps(truth) + b"\n")
            events.extend((when, index, ev) for when, ev in evs)
            summary.n_records += 1
            summary.escalations += len(record["escalations"])
            summary.labelled += record["labels"] is not None
            summary.real_texts += truth["domain"] == "real"
            counts["intents"][truth["intent"]] += 1
            counts["features"][record["feature"]] += 1
            counts["first_tiers"][record["route"]["tier"]] += 1
            counts["languages"][truth["language"]] += 1
    if parquet is not None:
        parquet.close()
    events.sort(key=lambda e: (e[0], e[1]))
    with open(corrections_path, "wb") as f:
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
    """The JSONL log file's stand-in when the logs go to Parquet."""

    def __enter__(self) -> _Null:
        return self

    def write(self, data: bytes) -> int:
        raise AssertionError("JSONL write with a Parquet sink open")

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
