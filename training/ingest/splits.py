"""Train / calibration / test splits: by time as in production, plus unseen templates and domains.

The time split fits on older logs and scores on newer ones, which is what a deployed model
faces. When the simulator's truth file is there, whole templates and whole domains are also held
out (never trained, calibrated or time-tested on), which measures generalisation to phrasings
the model has never seen rather than memorisation of the generator's frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from classifier.errors import InputError
from classifier.logschema import TruthRecord
from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from training.config import DataConfig


@dataclass
class Truth:
    """The simulator's truth aligned to a TrainingSet's rows (-1 where a row has no truth)."""

    template: list[str]
    domain: list[str]
    intent: np.ndarray
    risk: np.ndarray
    tier_ok: np.ndarray
    matched: int


@dataclass
class Splits:
    """Row indices into a ts-sorted TrainingSet; the four sets are disjoint."""

    train: np.ndarray
    calib: np.ndarray
    test_time: np.ndarray
    test_unseen: np.ndarray
    cutoff_ts: float
    holdout_templates: list[str] = field(default_factory=list)
    holdout_domains: list[str] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "calib": len(self.calib),
            "test_time": len(self.test_time),
            "test_unseen": len(self.test_unseen),
        }


def load_truth(
    path: Path, request_ids: Sequence[str], taxonomy: Taxonomy = DEFAULT_TAXONOMY
) -> Truth:
    """Read truth.jsonl and align it to `request_ids`; lines for unknown ids are ignored."""
    position = {rid: i for i, rid in enumerate(request_ids)}
    n = len(request_ids)
    template, domain = [""] * n, [""] * n
    intent = np.full(n, -1, dtype=np.int8)
    risk = np.full(n, -1, dtype=np.int8)
    tier_ok = np.full((n, len(taxonomy.tiers)), -1, dtype=np.int8)
    intent_index = {name: i for i, name in enumerate(taxonomy.intents)}
    risk_index = {name: i for i, name in enumerate(taxonomy.risks)}
    matched = 0
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise InputError(
            f"cannot read truth file {path}: {exc}; pass --truth only with "
            "a file written by `tierwise generate`"
        ) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rec = TruthRecord.model_validate(orjson.loads(line), context={"taxonomy": taxonomy})
            except ValueError as exc:
                raise InputError(f"{path}:{number} is not a truth record ({exc})") from exc
            i = position.get(rec.request_id)
            if i is None:
                continue
            matched += 1
            template[i], domain[i] = rec.template, rec.domain
            intent[i], risk[i] = intent_index[rec.intent], risk_index[rec.risk]
            for t, tier in enumerate(taxonomy.tiers):
                if tier in rec.tier_ok:
                    tier_ok[i, t] = int(rec.tier_ok[tier])
    return Truth(template, domain, intent, risk, tier_ok, matched)


def make_splits(ts: np.ndarray, cfg: DataConfig, truth: Truth | None = None) -> Splits:
    """Newest `eval_fraction` -> test_time; newest `calib_fraction` of the rest -> calib.

    Rows of held-out templates/domains (truth only) go to test_unseen whatever their time.
    """
    n = len(ts)
    if n < 10:
        raise InputError(
            f"only {n} valid records: too few to split into train and test; "
            "add more logs (a few thousand at least)"
        )
    unseen = np.zeros(n, dtype=bool)
    held_t: list[str] = []
    held_d: list[str] = []
    if truth is not None and truth.matched:
        rng = np.random.default_rng(cfg.seed)
        domains = sorted({d for d in truth.domain if d})
        if cfg.holdout_domains and len(domains) > cfg.holdout_domains:
            held_d = sorted(rng.choice(domains, cfg.holdout_domains, replace=False).tolist())
        templates = sorted(
            {t for t, d in zip(truth.template, truth.domain, strict=True) if t and d not in held_d}
        )
        k = math.floor(cfg.holdout_templates * len(templates))
        if k:
            held_t = sorted(rng.choice(templates, k, replace=False).tolist())
        held = set(held_t)
        held_dom = set(held_d)
        unseen = np.fromiter(
            (t in held or d in held_dom for t, d in zip(truth.template, truth.domain, strict=True)),
            dtype=bool,
            count=n,
        )
    n_test = max(1, math.ceil(cfg.eval_fraction * n))
    cutoff_ts = float(ts[n - n_test])
    newer = np.arange(n) >= n - n_test
    older_seen = np.flatnonzero(~newer & ~unseen)
    n_calib = math.floor(cfg.calib_fraction * len(older_seen))
    train = older_seen[: len(older_seen) - n_calib]
    if cfg.max_train_rows is not None:
        train = train[-cfg.max_train_rows :]  # the newest rows: closest to what is served next
    return Splits(
        train=train,
        calib=older_seen[len(older_seen) - n_calib :],
        test_time=np.flatnonzero(newer & ~unseen),
        test_unseen=np.flatnonzero(unseen),
        cutoff_ts=cutoff_ts,
        holdout_templates=held_t,
        holdout_domains=held_d,
    )
