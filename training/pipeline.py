"""`tierwise train` end to end, as one MLflow run with every stage timed.

ingest -> split (time; unseen templates/domains when truth is given) -> embed (student, cached)
-> fit -> calibrate (held-out slice, folded into the trees) -> tune (the tier decision's
per-feature thresholds, replayed on the same held-out slice: training.tier_tuning) -> evaluate
-> teacher comparison -> export (verified bundle, its training window in the manifest) ->
register (alias challenger; `champion` moves only through `tierwise promote`) -> report.

Example:
    result = train([Path("logs.jsonl")], corrections=[Path("corrections.jsonl")],
                   bundle_dir=Path("models/default"), config=load_config(), work_dir=Path("work"))
    result.model_version, result.alias  # ("1", "challenger")
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from classifier.taxonomy import TIERS, Taxonomy
from training import tracking
from training.calibration import calibrate_heads
from training.config import TrainConfig
from training.evaluate import Evaluation, evaluate_probs
from training.labels import TrainingSet
from training.splits import Splits, Truth, load_truth, make_splits
from training.stages import StageClock
from training.windows import WINDOW_KEY, TrainingWindow

logger = logging.getLogger(__name__)

HELDOUT_ARTIFACT = "eval/heldout_time.jsonl"
HELDOUT_LOG_CAP = 20_000  # rows of the time-split test set kept for inspection
QUARANTINE_LOG_CAP = 50 * 1024 * 1024


@dataclass
class TrainResult:
    run_id: str
    bundle_dir: Path
    report_path: Path
    model_version: str | None
    alias: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def train(
    logs: Sequence[Path],
    *,
    corrections: Sequence[Path] = (),
    truth: Path | None = None,
    bundle_dir: Path,
    config: TrainConfig,
    work_dir: Path,
    student_dir: Path | None = None,
    register: bool = True,
    progress: bool = True,
    extra_report_paths: Sequence[Path] = (),
) -> TrainResult:
    """Train, evaluate, export and (by default) register one model; see the module docstring."""
    import mlflow

    from training.embed import StaticStudent
    from training.export import export_bundle
    from training.ingest import load_training_set

    cfg = config
    taxonomy = cfg.label_taxonomy()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    clock = StageClock(progress)
    tracking.connect(cfg.tracking.tracking_uri)
    mlflow.set_experiment(cfg.tracking.experiment)
    version_label = dt.datetime.now(dt.UTC).strftime("%Y%m%d.%H%M%S")
    with mlflow.start_run(run_name=f"train-{version_label}") as run:
        run_id = run.info.run_id
        tracking.log_config(cfg)

        with clock.stage("ingest", ticker=True):
            quarantine = work_dir / "quarantine.jsonl"
            data, ingest = load_training_set(list(logs), list(corrections), quarantine, taxonomy)
        with clock.stage("split"):
            truth_rows = load_truth(truth, data.request_id, taxonomy) if truth else None
            splits = make_splits(data.ts, cfg.data, truth_rows)
        fingerprint = tracking.log_fingerprint(ingest.to_dict(), splits.sizes())
        if quarantine.is_file() and 0 < quarantine.stat().st_size <= QUARANTINE_LOG_CAP:
            mlflow.log_artifact(str(quarantine), "ingest")

        student = StaticStudent.load(student_dir)
        cache = _open_cache(cfg)
        real = None
        if cfg.realtext.enabled:
            with clock.stage("real text", ticker=True):
                real = _real_text(cfg, student, data, splits, cache, progress)
                student = real.student
        with clock.stage("embed"):
            X = _encode(cache, student, data.text, progress)

        with clock.stage("fit"):
            heads = _fit(cfg, X[splits.train], data.subset(splits.train), progress, real)
        with clock.stage("calibrate"):
            calibrations = _calibrate(cfg, heads, X[splits.calib], data.subset(splits.calib), real)
        with clock.stage("tune"):
            from training.tier_tuning import tune_training_slice

            tuning = None
            if taxonomy.is_default:  # the replay behind tuning speaks the default taxonomy only
                tuning = tune_training_slice(heads, X[splits.calib], data, splits.calib,
                                             truth_rows, logs, corrections)  # fmt: skip
            else:
                logger.warning(
                    "taxonomy %r: no tier tuning (the replay knows the default "
                    "taxonomy only); the contracts' own bars decide",
                    taxonomy.version,
                )
        with clock.stage("evaluate"):
            evaluations = _evaluate(cfg, heads, X, data, splits, truth_rows)
            if real is not None and len(real.dev_texts):
                evaluations["dev/student"] = _evaluate_dev(cfg, heads, real)
        comparison = None
        if cfg.teacher.enabled:
            with clock.stage("teacher", ticker=True):
                comparison = _compare(cfg, data, X, heads, splits, student, cache, progress)
                evaluations.update(comparison.evaluations)

        headline = _headline(evaluations)
        with clock.stage("export"):
            export_bundle(
                student,
                heads,
                Path(bundle_dir),
                name=cfg.tracking.registered_model,
                version=version_label,
                taxonomy=taxonomy,
                extra_manifest={
                    "metrics": headline,
                    "training_data": {
                        **fingerprint,
                        WINDOW_KEY: TrainingWindow.of_rows(
                            data.ts[np.concatenate([splits.train, splits.calib])]
                        ).to_manifest(),
                        "splits": splits.sizes(),
                        "holdout_templates": splits.holdout_templates,
                        "holdout_domains": splits.holdout_domains,
                        "realtext": real.summary if real is not None else None,
                    },
                    "thresholds": _thresholds(cfg),
                    "calibration": [c.to_dict() for c in calibrations],
                    "mlflow_run_id": run_id,
                    **({"tier_tuning": tuning.to_dict()} if tuning is not None else {}),
                },
                # held-out rows: on the rows it was fitted on the model is overconfident, and
                # the live traffic it is compared with is never such rows
                reference=_drift_reference(
                    data, np.concatenate([splits.calib, splits.test_time]), taxonomy.tiers
                ),
            )
            latency = dict(comparison.latency_ms) if comparison else {}
            latency["bundle classify"] = _bundle_latency(
                Path(bundle_dir),
                [data.text[i] for i in splits.test_time[: cfg.teacher.latency_sample]],
            )

        for key, ev in evaluations.items():
            tracking.log_metrics(ev.metrics(), prefix=f"{key}/")
        tracking.log_metrics({f"latency_ms/{k}": v for k, v in latency.items()})
        _log_eval_artifacts(evaluations, calibrations, data, splits, taxonomy)

        model_version = alias = None
        if register:
            with clock.stage("register"):
                from classifier.bundle import read_manifest

                manifest = read_manifest(Path(bundle_dir))
                mv = tracking.log_bundle(
                    Path(bundle_dir),
                    registered_model=cfg.tracking.registered_model,
                    tags={
                        "bundle_version": version_label,
                        "bundle_hash": manifest.bundle_hash,
                        "mean_macro_f1": f"{headline.get('time/student/mean_macro_f1', 'nan')}",
                    },
                )
                model_version = str(mv.version)
                alias = tracking.assign_initial_alias(
                    tracking.connect(cfg.tracking.tracking_uri),
                    cfg.tracking.registered_model,
                    model_version,
                )

        with clock.stage("report"):
            report_dir = Path(bundle_dir) / "report"
            report_path = _write_report(
                report_dir,
                cfg=cfg,
                run_id=run_id,
                version_label=version_label,
                model_version=model_version,
                alias=alias,
                ingest=ingest.to_dict(),
                splits=splits,
                evaluations=evaluations,
                comparison=comparison,
                latency=latency,
                calibrations=[c.to_dict() for c in calibrations],
                timings=clock.seconds,
                truth=truth_rows,
            )
            for extra in extra_report_paths:
                _copy_report(report_dir, Path(extra))
            mlflow.log_artifacts(str(report_dir), "report")
        tracking.log_metrics(clock.metrics())
        return TrainResult(
            run_id,
            Path(bundle_dir),
            report_path,
            model_version,
            alias,
            headline,
            dict(clock.seconds),
        )


# --- stages -----------------------------------------------------------------------------------


def _open_cache(cfg: TrainConfig) -> Any:
    if not cfg.embed.cache:
        return None
    from training.distill import default_cache_dir
    from training.embed_cache import EmbeddingCache

    return EmbeddingCache(default_cache_dir() / "embeddings.sqlite")


def _encode(cache: Any, embedder: Any, texts: Sequence[str], progress: bool) -> np.ndarray:
    if cache is None:
        return embedder.encode(list(texts), progress=progress)
    return cache.encode(embedder, list(texts), progress=progress)


def _real_text(
    cfg: TrainConfig, student: Any, data: TrainingSet, splits: Splits, cache: Any, progress: bool
) -> Any:
    """Real rows, the student fitted to them, their embeddings (training.realtext.stage)."""
    from training.realtext.stage import prepare

    train = data.subset(splits.train)
    return prepare(
        cfg.realtext,
        student,
        train.text,
        train.intent,
        train.risk,
        lambda embedder, texts: _encode(cache, embedder, texts, progress),
        progress,
    )


def _with_real(X: np.ndarray, data: TrainingSet, real: Any, cfg: TrainConfig) -> dict[str, Any]:
    """Simulated training rows followed by real ones; real rows have no tier outcome."""
    if real is None:
        return {"X": X, "intent": data.intent, "risk": data.risk, "tier_ok": data.tier_ok,
                "propensity": data.propensity, "first_tier": data.first_tier,
                "label_weight": None}  # fmt: skip
    n = len(real.train)
    return {
        "X": np.vstack([X, real.X_train]).astype(np.float32, copy=False),
        "intent": np.concatenate([data.intent, real.train.intent]),
        "risk": np.concatenate([data.risk, real.train.risk]),
        "tier_ok": np.vstack([data.tier_ok, np.full((n, len(TIERS)), -1, data.tier_ok.dtype)]),
        "propensity": np.concatenate([data.propensity, np.full(n, np.nan)]),
        "first_tier": np.concatenate([data.first_tier, np.full(n, -1, data.first_tier.dtype)]),
        "label_weight": np.concatenate(
            [np.full(len(data), cfg.realtext.weights.sim), real.train.weight]
        ),
    }


def _fit(
    cfg: TrainConfig, X: np.ndarray, data: TrainingSet, progress: bool, real: Any = None
) -> Any:
    """Fit TierwiseHeads with a per-head progress bar (the fit has no callback of its own)."""
    from training.binning import snap_for_fit
    from training.heads import TierwiseHeads

    rows = _with_real(X, data, real, cfg)
    X = snap_for_fit(rows.pop("X"))  # fast weighted binning; same predictions on raw X
    heads = TierwiseHeads(**cfg.hgb_params())

    def fit() -> Any:
        return heads.fit(
            X, rows["intent"], rows["risk"], rows["tier_ok"], rows["propensity"],
            first_tier=rows["first_tier"], label_weight=rows["label_weight"],
        )  # fmt: skip

    if not progress:
        return fit()
    from tqdm.auto import tqdm

    bar = tqdm(total=2 + heads.n_tiers, desc="fit heads", unit="head")
    original = heads._fit_head

    def fit_head(name: str, *args: Any, **kwargs: Any) -> Any:
        bar.set_postfix_str(name)
        out = original(name, *args, **kwargs)
        bar.update(1)
        return out

    heads._fit_head = fit_head  # type: ignore[method-assign]
    try:
        return fit()
    finally:
        del heads._fit_head
        bar.close()


def _calibrate(
    cfg: TrainConfig, heads: Any, X: np.ndarray, calib: TrainingSet, real: Any
) -> list[Any]:
    """Tier heads on the simulated calibration slice; intent and risk on held-back real gold
    rows when there are any, since real text is where their confidence must hold."""
    intent, risk, tier_ok = calib.intent, calib.risk, calib.tier_ok
    if real is not None and len(real.calib):
        n = len(real.calib)
        X = np.vstack([X, real.X_calib])
        intent = np.concatenate([np.full(len(calib), -1, intent.dtype), real.calib.intent])
        risk = np.concatenate([np.full(len(calib), -1, risk.dtype), real.calib.risk])
        tier_ok = np.vstack([tier_ok, np.full((n, len(TIERS)), -1, tier_ok.dtype)])
    if len(X) == 0:
        return []
    return calibrate_heads(
        heads, X, intent, risk, tier_ok,
        threshold=cfg.calibration.ece_threshold, n_bins=cfg.calibration.n_bins,
    )  # fmt: skip


def _evaluate_dev(cfg: TrainConfig, heads: Any, real: Any) -> Evaluation:
    """The hand-labelled real development set (never trained on); no tier outcomes there."""
    n = len(real.dev_texts)
    return evaluate_probs(
        "dev/student", heads.predict_proba(real.X_dev), real.dev_intent, real.dev_risk,
        np.full((n, len(TIERS)), -1), tier_threshold=cfg.evaluate.tier_threshold,
        n_bins=cfg.calibration.n_bins,
    )  # fmt: skip


def _thresholds(cfg: TrainConfig) -> dict[str, float]:
    """What the manifest records for the runtime: tier threshold and abstention bars."""
    out = {"tier_ok": cfg.evaluate.tier_threshold}
    if cfg.realtext.enabled:
        bars = cfg.realtext.abstain
        out |= {
            "abstain_intent_prob": bars.intent_prob,
            "abstain_intent_margin": bars.intent_margin,
            "abstain_risk_prob": bars.risk_prob,
        }
    return out


def _labels(
    data: TrainingSet, index: np.ndarray, truth: Truth | None = None
) -> dict[str, np.ndarray]:
    source: Any = truth if truth is not None else data
    return {
        "intent": source.intent[index],
        "risk": source.risk[index],
        "tier_ok": source.tier_ok[index],
    }


def _evaluate(
    cfg: TrainConfig,
    heads: Any,
    X: np.ndarray,
    data: TrainingSet,
    splits: Splits,
    truth: Truth | None,
) -> dict[str, Evaluation]:
    """The production student on each held-out set, against logged labels and (if any) truth."""
    kw = {"tier_threshold": cfg.evaluate.tier_threshold, "n_bins": cfg.calibration.n_bins,
          "taxonomy": cfg.label_taxonomy()}  # fmt: skip
    out: dict[str, Evaluation] = {}
    sets = {"time": splits.test_time, "unseen": splits.test_unseen}
    for name, index in sets.items():
        if len(index) == 0:
            continue
        probs = heads.predict_proba(X[index])
        out[f"{name}/student"] = evaluate_probs(
            f"{name}/student", probs, **_labels(data, index), **kw
        )
        if truth is not None:
            key = f"{name}_truth/student"
            out[key] = evaluate_probs(key, probs, **_labels(data, index, truth), **kw)
    return out


def _compare(
    cfg: TrainConfig,
    data: TrainingSet,
    X: np.ndarray,
    heads: Any,
    splits: Splits,
    student: Any,
    cache: Any,
    progress: bool,
) -> Any:
    from training.compare import compare_teacher
    from training.embed import Teacher

    teacher = Teacher(student.window, batch_size=cfg.teacher.batch_size)
    eval_sets = {
        name: (index, _labels(data, index))
        for name, index in (("time", splits.test_time), ("unseen", splits.test_unseen))
        if len(index)
    }
    return compare_teacher(
        cfg=cfg,
        data=data,
        X_student=X,
        heads_student=heads,
        train_index=splits.train,
        eval_sets=eval_sets,
        student=student,
        teacher=teacher,
        encode=lambda embedder, texts: _encode(cache, embedder, texts, progress),
    )


def _bundle_latency(bundle_dir: Path, texts: list[str]) -> float:
    """Median per-text time of the served path: what a router pays per request."""
    from classifier.runtime import Classifier
    from training.compare import per_text_latency_ms

    clf = Classifier.load(bundle_dir)
    return per_text_latency_ms(lambda batch: clf.classify(batch[0]), texts)


def _headline(evaluations: dict[str, Evaluation]) -> dict[str, float]:
    """Per-head accuracy / macro-F1 / ECE of the production student: goes into the manifest."""
    out: dict[str, float] = {}
    for key, ev in evaluations.items():
        if not key.endswith("/student"):
            continue
        for head, rep in ev.heads.items():
            for metric in ("accuracy", "macro_f1", "ece"):
                value = getattr(rep, metric)
                if np.isfinite(value):
                    out[f"{key}/{head}_{metric}"] = round(float(value), 5)
        out[f"{key}/mean_macro_f1"] = round(ev.metrics()["mean_macro_f1"], 5)
    return out


def _log_eval_artifacts(
    evaluations: dict[str, Evaluation],
    calibrations: list[Any],
    data: TrainingSet,
    splits: Splits,
    taxonomy: Taxonomy,
) -> None:
    """All numbers as JSON, and the time-split test rows so promotion can rescore on them."""
    import mlflow

    mlflow.log_dict({k: asdict(v) for k, v in evaluations.items()}, "eval/evaluations.json")
    mlflow.log_dict([c.to_dict() for c in calibrations], "eval/calibration.json")
    index = splits.test_time
    if len(index) > HELDOUT_LOG_CAP:
        index = np.sort(np.random.default_rng(0).choice(index, HELDOUT_LOG_CAP, replace=False))
    mlflow.log_text(heldout_jsonl(data, index, taxonomy), HELDOUT_ARTIFACT)


def heldout_jsonl(data: TrainingSet, index: np.ndarray, taxonomy: Taxonomy | None = None) -> str:
    """Held-out rows as JSONL: text, feature and labels by name (null = unknown / censored)."""
    from classifier.taxonomy import DEFAULT_TAXONOMY

    taxonomy = taxonomy or DEFAULT_TAXONOMY
    intents, risks = taxonomy.intents, taxonomy.risks
    lines = []
    for i in index:
        tier_ok = {
            tier: (None if v < 0 else bool(v))
            for tier, v in zip(taxonomy.tiers, data.tier_ok[i], strict=True)
        }
        lines.append(
            orjson.dumps(
                {
                    "request_id": data.request_id[i],
                    "ts": float(data.ts[i]),
                    "feature": data.feature[i],
                    "text": data.text[i],
                    "intent": intents[data.intent[i]] if data.intent[i] >= 0 else None,
                    "risk": risks[data.risk[i]] if data.risk[i] >= 0 else None,
                    "tier_ok": tier_ok,
                }
            ).decode()
        )
    return "\n".join(lines) + "\n"


def _write_report(
    report_dir: Path,
    *,
    cfg: TrainConfig,
    run_id: str,
    version_label: str,
    model_version: str | None,
    alias: str | None,
    ingest: dict[str, Any],
    splits: Splits,
    evaluations: dict[str, Evaluation],
    comparison: Any,
    latency: dict[str, float],
    calibrations: list[dict[str, Any]],
    timings: dict[str, float],
    truth: Truth | None,
) -> Path:
    from training.report import render_markdown, write_plots

    report_dir.mkdir(parents=True, exist_ok=True)
    images: list[str] = []
    for key in ("time/student", "unseen/student", "unseen_truth/student"):
        if key in evaluations:
            stem = key.replace("/", "_")
            images += [p.name for p in write_plots(evaluations[key], report_dir, stem)]
    summary = {
        "model": f"{cfg.tracking.registered_model} {version_label}"
        + (f" (registry version {model_version}, alias `{alias}`)" if model_version else ""),
        "MLflow run": run_id,
        "data": f"{ingest.get('valid')} valid of {ingest.get('lines_read')} read, "
        f"{ingest.get('quarantined')} quarantined; time range {ingest.get('time_range')}; "
        f"sha256 {str(ingest.get('fingerprint'))[:16]}…",
        "splits": ", ".join(f"{k} {v}" for k, v in splits.sizes().items())
        + f" (test_time from {_utc(splits.cutoff_ts)})",
    }
    if splits.holdout_domains or splits.holdout_templates:
        summary["unseen"] = (
            f"domains {splits.holdout_domains}, "
            f"{len(splits.holdout_templates)} templates (never trained on)"
        )
    notes = [
        "`time` = newest logs (split by time), `unseen` = rows of held-out templates/domains; "
        "both scored against the logged labels (unknown labels and censored tier outcomes are "
        "left out); `*_truth` rows score the same predictions against the simulator's truth.",
        "`tier` = smallest viable tier: smallest tier with P(ok) >= "
        f"{cfg.evaluate.tier_threshold}; scored only where the labels determine it.",
    ]
    if comparison is not None:
        notes.append(
            "Teacher comparison on a seeded sample: heads fitted on "
            f"{comparison.sizes.get('train_sample')} training rows with teacher and with student "
            "embeddings (`sample`); `all rows` is the production model on the same rows."
        )
    text = render_markdown(
        title=f"tierwise evaluation report: {version_label}",
        summary=summary,
        evaluations=evaluations,
        comparisons=comparison.groups if comparison else [],
        latency_ms=latency,
        calibrations=calibrations,
        timings=timings,
        images=images,
        notes=notes,
    )
    path = report_dir / "report.md"
    path.write_text(text, encoding="utf-8")
    (report_dir / "metrics.json").write_text(
        json.dumps({k: v.metrics() for k, v in evaluations.items()}, indent=1, default=float)
    )
    return path


def _utc(epoch: float) -> str:
    return f"{dt.datetime.fromtimestamp(epoch, dt.UTC):%Y-%m-%d %H:%M} UTC"


def _copy_report(report_dir: Path, target: Path) -> None:
    """Copy report.md to `target` and its images to `<target stem>/`, links rewritten."""
    import shutil

    assets = target.with_suffix("")
    assets.mkdir(parents=True, exist_ok=True)
    text = (report_dir / "report.md").read_text(encoding="utf-8")
    for png in sorted(report_dir.glob("*.png")):
        shutil.copyfile(png, assets / png.name)
        text = text.replace(f"]({png.name})", f"]({assets.name}/{png.name})")
    target.write_text(text, encoding="utf-8")


def _drift_reference(data: Any, rows: np.ndarray, tiers: tuple[str, ...]) -> Any:
    """The bundle's drift reference over held-out rows of its data (training.drift_reference)."""
    from training.drift_reference import first_attempt_failures, reference_stats

    texts = [data.text[i] for i in rows]
    features = [data.feature[i] for i in rows]
    failures = first_attempt_failures(data.first_tier[rows], data.tier_ok[rows], tiers)
    return lambda clf: reference_stats(clf, texts, features=features, failures=failures)
