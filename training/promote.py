"""`tierwise promote`: a candidate becomes `challenger`; it takes `champion` only by beating it.

Both bundles are downloaded from the registry byte for byte and scored by the serving runtime
(classifier.runtime) on the same held-out rows: by default the candidate run's time-split test
set (logged as an artifact at training time), or logs you pass. The candidate is promoted when
`candidate[metric] - champion[metric] > min_delta`; otherwise promotion is refused with both
numbers, and the champion stays where it was.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from classifier.errors import ConfigError, InputError
from classifier.taxonomy import INTENTS, RISKS, TIERS
from training import tracking
from training.config import TrainConfig
from training.evaluate import evaluate_probs

logger = logging.getLogger(__name__)


@dataclass
class HeldOut:
    """Texts with labels as indices (-1 unknown), the layout evaluate_probs takes."""

    text: list[str]
    feature: list[str | None]
    intent: np.ndarray
    risk: np.ndarray
    tier_ok: np.ndarray
    source: str

    def head(self, k: int) -> HeldOut:
        return HeldOut(
            self.text[:k],
            self.feature[:k],
            self.intent[:k],
            self.risk[:k],
            self.tier_ok[:k],
            self.source,
        )


@dataclass
class PromotionResult:
    promoted: bool
    candidate: str
    champion: str | None
    metric: str
    min_delta: float
    candidate_score: float | None = None
    champion_score: float | None = None
    rows: int = 0
    message: str = ""
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)


def read_heldout_jsonl(path: Path) -> HeldOut:
    """Rows written by training (`eval/heldout_time.jsonl`): text, feature, labels by name."""
    intents = {n: i for i, n in enumerate(INTENTS)}
    risks = {n: i for i, n in enumerate(RISKS)}
    text, feature, intent, risk, tier_ok = [], [], [], [], []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
                text.append(row["text"])
                feature.append(row.get("feature"))
                intent.append(intents[row["intent"]] if row.get("intent") else -1)
                risk.append(risks[row["risk"]] if row.get("risk") else -1)
                ok = row.get("tier_ok") or {}
                tier_ok.append([-1 if ok.get(t) is None else int(bool(ok[t])) for t in TIERS])
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{path}:{number} is not a held-out row ({exc}); expected "
                    "the eval/heldout_time.jsonl written by `tierwise train`"
                ) from exc
    return HeldOut(
        text,
        feature,
        np.array(intent, dtype=np.int8),
        np.array(risk, dtype=np.int8),
        np.array(tier_ok, dtype=np.int8).reshape(-1, len(TIERS)),
        str(path),
    )


def heldout_from_logs(logs: Sequence[Path], corrections: Sequence[Path] = ()) -> HeldOut:
    """Every valid record of the given logs (malformed ones are quarantined, not scored)."""
    from training.ingest import load_training_set

    data, _ = load_training_set(list(logs), list(corrections), None)
    return HeldOut(
        list(data.text),
        list(data.feature),
        data.intent,
        data.risk,
        data.tier_ok,
        ", ".join(str(p) for p in logs),
    )


def score_bundle(bundle_dir: Path, rows: HeldOut, *, n_bins: int = 15) -> dict[str, float]:
    """Score a bundle through the serving runtime: what the router would actually get."""
    from classifier.runtime import Classifier

    clf = Classifier.load(bundle_dir)
    preds = clf.classify_batch(rows.text, rows.feature)
    probs = {
        "intent": np.array([[p.intent_probs[k] for k in INTENTS] for p in preds]),
        "risk": np.array([[p.risk_probs[k] for k in RISKS] for p in preds]),
        "tier_ok": np.array([[p.tier_ok_probs[k] for k in TIERS] for p in preds]),
    }
    ev = evaluate_probs(
        f"bundle {clf.model_version}",
        probs,
        rows.intent,
        rows.risk,
        rows.tier_ok,
        tier_threshold=clf.manifest.tier_threshold,
        n_bins=n_bins,
    )
    return ev.metrics()


def promote(
    version: str,
    config: TrainConfig,
    *,
    logs: Sequence[Path] = (),
    corrections: Sequence[Path] = (),
    heldout: Path | None = None,
) -> PromotionResult:
    """Set `challenger` on `version`; move `champion` to it only if it clears the gate."""
    cfg = config
    name, metric, delta = cfg.tracking.registered_model, cfg.promote.metric, cfg.promote.min_delta
    client = tracking.connect(cfg.tracking.tracking_uri)
    candidate = tracking.get_version(client, name, version)
    champion = tracking.get_alias(client, name, tracking.CHAMPION)
    result = PromotionResult(False, str(candidate.version), None, metric, delta)
    if champion is None:
        client.set_registered_model_alias(name, tracking.CHAMPION, str(candidate.version))
        result.promoted = True
        result.message = (
            f"{name} v{candidate.version} is the first champion (there was none to compare with)"
        )
        return result
    result.champion = str(champion.version)
    if str(champion.version) == str(candidate.version):
        result.message = f"{name} v{candidate.version} is already the champion; nothing to do"
        return result
    client.set_registered_model_alias(name, tracking.CHALLENGER, str(candidate.version))

    with tempfile.TemporaryDirectory(prefix="tierwise-promote-") as tmp:
        rows = _heldout_rows(candidate, logs, corrections, heldout, Path(tmp))
        if len(rows.text) == 0:
            raise InputError(f"no held-out rows in {rows.source}; pass --logs with labelled logs")
        rows = rows.head(cfg.promote.max_rows)
        cand = score_bundle(
            tracking.download_bundle(name, str(candidate.version), Path(tmp)),
            rows,
            n_bins=cfg.calibration.n_bins,
        )
        champ = score_bundle(
            tracking.download_bundle(name, str(champion.version), Path(tmp)),
            rows,
            n_bins=cfg.calibration.n_bins,
        )
    if metric not in cand:
        raise ConfigError(
            f"promote.metric {metric!r} is not a metric; choose one of {sorted(cand)}"
        )
    result.rows = len(rows.text)
    result.candidate_metrics, result.champion_metrics = cand, champ
    result.candidate_score, result.champion_score = cand[metric], champ[metric]
    gain = cand[metric] - champ[metric]
    numbers = (
        f"{metric}: candidate v{candidate.version} {cand[metric]:.4f} vs champion "
        f"v{champion.version} {champ[metric]:.4f} (difference {gain:+.4f}, gate "
        f"> {delta:+.4f}) on {len(rows.text)} held-out rows from {rows.source}"
    )
    if np.isfinite(gain) and gain > delta:
        client.set_registered_model_alias(name, tracking.CHAMPION, str(candidate.version))
        client.delete_registered_model_alias(name, tracking.CHALLENGER)
        result.promoted = True
        result.message = f"promoted {name} v{candidate.version} to champion. {numbers}"
    else:
        result.message = (
            f"refused: {name} v{candidate.version} does not beat champion "
            f"v{champion.version} by the gate; it stays challenger. {numbers}"
        )
    for side, values in (("candidate", cand), ("champion", champ)):
        client.set_model_version_tag(
            name, str(candidate.version), f"promote.{side}.{metric}", f"{values[metric]:.6f}"
        )
    return result


def _heldout_rows(
    candidate: Any,
    logs: Sequence[Path],
    corrections: Sequence[Path],
    heldout: Path | None,
    tmp: Path,
) -> HeldOut:
    if heldout is not None:
        return read_heldout_jsonl(heldout)
    if logs:
        return heldout_from_logs(logs, corrections)
    from training.pipeline import HELDOUT_ARTIFACT

    if not candidate.run_id:
        raise InputError(
            f"version {candidate.version} has no training run to take held-out rows "
            "from; pass --logs with held-out logs"
        )
    path = tracking.download_run_artifact(candidate.run_id, HELDOUT_ARTIFACT, tmp / "heldout")
    rows = read_heldout_jsonl(path)
    rows.source = f"training run {candidate.run_id} ({HELDOUT_ARTIFACT})"
    return rows
