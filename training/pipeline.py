"""`tierwise train` end to end, as one MLflow run with every stage timed.

ingest -> split (time; unseen templates/domains when truth is given) -> embed (student, cached)
-> fit -> calibrate (held-out slice, folded into the trees) -> tune (the tier decision's
per-feature thresholds, replayed on the same held-out slice: training.replay.tier_tuning)
-> evaluate -> teacher comparison -> export (verified bundle, its training window in the
manifest) -> register (alias challenger; `champion` moves only through `tierwise promote`)
-> report. `train()` reads as that list: one function per stage, each handed what it needs.

Example:
    result = train([Path("logs.jsonl")], corrections=[Path("corrections.jsonl")],
                   bundle_dir=Path("models/default"), config=load_config(), work_dir=Path("work"))
    result.model_version, result.alias  # ("1", "challenger")
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training import tracking
from training.config import TrainConfig
from training.evaluation import heldout, run_report
from training.evaluation.metrics import Evaluation
from training.ingest.labels import TrainingSet
from training.ingest.splits import Splits, Truth, load_truth, make_splits
from training.ingest.windows import WINDOW_KEY, TrainingWindow
from training.model import fitting
from training.stages import StageClock

logger = logging.getLogger(__name__)

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


@dataclass
class _Data:
    """The ingested rows, their splits and what the run logs about them."""

    rows: TrainingSet
    ingest: dict[str, Any]
    splits: Splits
    truth: Truth | None
    fingerprint: dict[str, Any]


@dataclass
class _Embedded:
    """The student that will be served, every row's embedding and the real-text rows (if any)."""

    student: Any
    X: np.ndarray
    real: Any
    cache: Any


@dataclass
class _Model:
    heads: Any
    calibrations: list[Any]
    tuning: Any


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
    engine: str = "local",
    engine_workers: int | None = None,
    fit_sample: int | None = None,
) -> TrainResult:
    """Train, evaluate, export and (by default) register one model; see the module docstring.

    `engine="ray"` ingests and embeds on Ray Data (training.engines; same results); `fit_sample`
    fits the heads on a stratified sample of that many train rows, logged to MLflow.
    """
    import mlflow

    from training.engines.stages import EngineOptions

    opts = EngineOptions(engine, engine_workers, fit_sample)
    cfg = config
    bundle_dir, work_dir = Path(bundle_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    clock = StageClock(progress)
    tracking.connect(cfg.tracking.tracking_uri)
    mlflow.set_experiment(cfg.tracking.experiment)
    version = dt.datetime.now(dt.UTC).strftime("%Y%m%d.%H%M%S")
    with mlflow.start_run(run_name=f"train-{version}") as run:
        run_id = run.info.run_id
        tracking.log_config(cfg)
        mlflow.log_param("engine", engine)
        data = _ingest(cfg, clock, logs, corrections, truth, work_dir, opts)
        emb = _embed(cfg, clock, data, student_dir, progress, opts)
        model = _fit_calibrate_tune(cfg, clock, data, emb, logs, corrections, progress, opts)
        evaluations, comparison = _evaluate(cfg, clock, data, emb, model, progress, opts)
        headline = heldout.headline(evaluations)
        with clock.stage("export"):
            _export(cfg, data, emb, model, bundle_dir, version, run_id, headline)
            latency = dict(comparison.latency_ms) if comparison else {}
            latency["bundle classify"] = heldout.bundle_latency_ms(
                bundle_dir,
                [data.rows.text[i] for i in data.splits.test_time[: cfg.teacher.latency_sample]],
            )
        for key, ev in evaluations.items():
            tracking.log_metrics(ev.metrics(), prefix=f"{key}/")
        tracking.log_metrics({f"latency_ms/{k}": v for k, v in latency.items()})
        run_report.log_eval_artifacts(
            evaluations, model.calibrations, data.rows, data.splits, cfg.label_taxonomy()
        )
        model_version = alias = None
        if register:
            model_version, alias = _register(cfg, clock, bundle_dir, version, headline)
        with clock.stage("report"):
            report_dir = bundle_dir / "report"
            report_path = run_report.write_report(
                report_dir,
                cfg=cfg,
                run_id=run_id,
                version_label=version,
                model_version=model_version,
                alias=alias,
                ingest=data.ingest,
                splits=data.splits,
                evaluations=evaluations,
                comparison=comparison,
                latency=latency,
                calibrations=[c.to_dict() for c in model.calibrations],
                timings=clock.seconds,
            )
            for extra in extra_report_paths:
                run_report.copy_report(report_dir, Path(extra))
            mlflow.log_artifacts(str(report_dir), "report")
        tracking.log_metrics(clock.metrics())
        return TrainResult(
            run_id, bundle_dir, report_path, model_version, alias, headline, dict(clock.seconds)
        )


# --- stages, in the order train() runs them ---------------------------------------------------


def _ingest(
    cfg: TrainConfig,
    clock: StageClock,
    logs: Sequence[Path],
    corrections: Sequence[Path],
    truth: Path | None,
    work_dir: Path,
    opts: Any,
) -> _Data:
    """ingest + split; the data fingerprint and a small quarantine file go to the run."""
    import mlflow

    from training.engines import stages as engine_stages

    taxonomy = cfg.label_taxonomy()
    with clock.stage("ingest", ticker=True):
        quarantine = work_dir / "quarantine.jsonl"
        rows, report = engine_stages.ingest(
            opts.engine, logs, corrections, quarantine, opts.workers, taxonomy
        )
    with clock.stage("split"):
        truth_rows = load_truth(truth, rows.request_id, taxonomy) if truth else None
        splits = make_splits(rows.ts, cfg.data, truth_rows)
    fingerprint = tracking.log_fingerprint(report.to_dict(), splits.sizes())
    if quarantine.is_file() and 0 < quarantine.stat().st_size <= QUARANTINE_LOG_CAP:
        mlflow.log_artifact(str(quarantine), "ingest")
    return _Data(rows, report.to_dict(), splits, truth_rows, fingerprint)


def _embed(
    cfg: TrainConfig,
    clock: StageClock,
    data: _Data,
    student_dir: Path | None,
    progress: bool,
    opts: Any,
) -> _Embedded:
    """real text (the student fitted to real rows, when enabled) + embed every logged row."""
    from training.model.embed import StaticStudent

    # the student appends the token counts of training.model.text_features when a head reads them
    student = StaticStudent.load(student_dir, text_features=bool(cfg.heads.text_features))
    cache = _open_cache(cfg)
    real = None
    if cfg.realtext.enabled:
        with clock.stage("real text", ticker=True):
            real = _real_text(cfg, student, data, cache, progress)
            student = real.student
    with clock.stage("embed"):
        if opts.engine == "ray":
            from training.engines.stages import encode_on_ray

            X = encode_on_ray(student, data.rows.text, opts.workers)
        else:
            X = _encode(cache, student, data.rows.text, progress)
    return _Embedded(student, X, real, cache)


def _fit_calibrate_tune(
    cfg: TrainConfig,
    clock: StageClock,
    data: _Data,
    emb: _Embedded,
    logs: Sequence[Path],
    corrections: Sequence[Path],
    progress: bool,
    opts: Any,
) -> _Model:
    """fit the heads (on a logged stratified sample when asked), calibrate them on the held-out
    slice, tune the tier thresholds on it."""
    from training.replay.tier_tuning import tune_training_slice

    train_idx, calib_idx = data.splits.train, data.splits.calib
    if opts.fit_sample is not None:
        from training.engines.sampling import log_sample, stratified_rows

        seed = cfg.heads.random_state
        train_idx = stratified_rows(data.rows, data.splits.train, opts.fit_sample, seed)
        log_sample(len(data.splits.train), len(train_idx), seed, len(data.rows))
    with clock.stage("fit"):
        heads = fitting.fit_heads(
            cfg, emb.X[train_idx], data.rows.subset(train_idx), progress, emb.real
        )
    with clock.stage("calibrate"):
        calibrations = fitting.calibrate(
            cfg, heads, emb.X[calib_idx], data.rows.subset(calib_idx), emb.real
        )
    with clock.stage("tune"):
        tuning = None
        taxonomy = cfg.label_taxonomy()
        if taxonomy.is_default:  # the replay behind tuning speaks the default taxonomy only
            tuning = tune_training_slice(
                heads, emb.X[calib_idx], data.rows, calib_idx, data.truth, logs, corrections
            )
        else:
            logger.warning(
                "taxonomy %r: no tier tuning (the replay knows the default taxonomy only); "
                "the contracts' own bars decide",
                taxonomy.version,
            )
    return _Model(heads, calibrations, tuning)


def _evaluate(
    cfg: TrainConfig,
    clock: StageClock,
    data: _Data,
    emb: _Embedded,
    model: _Model,
    progress: bool,
    opts: Any,
) -> tuple[dict[str, Evaluation], Any]:
    """evaluate on the held-out sets (and the real dev set) + the teacher comparison."""
    with clock.stage("evaluate"):
        evaluations = heldout.evaluate_heldout(
            cfg, model.heads, emb.X, data.rows, data.splits, data.truth
        )
        if emb.real is not None and len(emb.real.dev_texts):
            evaluations["dev/student"] = heldout.evaluate_dev(cfg, model.heads, emb.real)
    comparison = None
    if cfg.teacher.enabled:
        with clock.stage("teacher", ticker=True):
            comparison = _compare(cfg, data, emb, model.heads, progress, opts.engine, opts.workers)
            evaluations.update(comparison.evaluations)
    return evaluations, comparison


def _export(
    cfg: TrainConfig,
    data: _Data,
    emb: _Embedded,
    model: _Model,
    bundle_dir: Path,
    version: str,
    run_id: str,
    headline: dict[str, float],
) -> None:
    """export the verified bundle; its manifest records what it was trained on and how."""
    from training.model.export import export_bundle

    splits = data.splits
    window = TrainingWindow.of_rows(data.rows.ts[np.concatenate([splits.train, splits.calib])])
    export_bundle(
        emb.student,
        model.heads,
        bundle_dir,
        name=cfg.tracking.registered_model,
        version=version,
        taxonomy=cfg.label_taxonomy(),
        extra_manifest={
            "metrics": headline,
            "training_data": {
                **data.fingerprint,
                WINDOW_KEY: window.to_manifest(),
                "splits": splits.sizes(),
                "holdout_templates": splits.holdout_templates,
                "holdout_domains": splits.holdout_domains,
                "realtext": emb.real.summary if emb.real is not None else None,
            },
            "thresholds": _thresholds(cfg),
            "calibration": [c.to_dict() for c in model.calibrations],
            "mlflow_run_id": run_id,
            **({"tier_tuning": model.tuning.to_dict()} if model.tuning is not None else {}),
        },
        # held-out rows: on the rows it was fitted on the model is overconfident, and the live
        # traffic it is compared with is never such rows
        reference=_drift_reference(
            data.rows,
            np.concatenate([splits.calib, splits.test_time]),
            cfg.label_taxonomy().tiers,
        ),
    )


def _register(
    cfg: TrainConfig,
    clock: StageClock,
    bundle_dir: Path,
    version: str,
    headline: dict[str, float],
) -> tuple[str, str]:
    """register the bundle in MLflow; every new version becomes `challenger`."""
    from classifier.bundle import read_manifest

    with clock.stage("register"):
        manifest = read_manifest(bundle_dir)
        mv = tracking.log_bundle(
            bundle_dir,
            registered_model=cfg.tracking.registered_model,
            tags={
                "bundle_version": version,
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
    return model_version, alias


# --- helpers of the stages --------------------------------------------------------------------


def _open_cache(cfg: TrainConfig) -> Any:
    if not cfg.embed.cache:
        return None
    from training.model.distill import default_cache_dir
    from training.model.embed_cache import EmbeddingCache

    return EmbeddingCache(default_cache_dir() / "embeddings.sqlite")


def _encode(cache: Any, embedder: Any, texts: Sequence[str], progress: bool) -> np.ndarray:
    if cache is None:
        return embedder.encode(list(texts), progress=progress)
    return cache.encode(embedder, list(texts), progress=progress)


def _real_text(cfg: TrainConfig, student: Any, data: _Data, cache: Any, progress: bool) -> Any:
    """Real rows, the student fitted to them, their embeddings (training.realtext.stage)."""
    from training.realtext.stage import prepare

    train = data.rows.subset(data.splits.train)
    return prepare(
        cfg.realtext,
        student,
        train.text,
        train.intent,
        train.risk,
        lambda embedder, texts: _encode(cache, embedder, texts, progress),
        progress,
    )


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


def _compare(
    cfg: TrainConfig,
    data: _Data,
    emb: _Embedded,
    heads: Any,
    progress: bool,
    engine: str = "local",
    workers: int | None = None,
) -> Any:
    """The same heads on teacher embeddings, on a seeded sample (training.evaluation.teacher).

    With the Ray engine the teacher's embedding of the sample runs on Ray actors, through the
    same embedding cache; its latency is still measured in this process."""
    from training.evaluation.teacher import compare_teacher
    from training.model.embed import Teacher

    def wrap(embedder: Any) -> Any:
        if engine != "ray":
            return embedder
        from training.engines.ray_embed import RayEmbedder

        return RayEmbedder(embedder, workers)

    splits = data.splits
    eval_sets = {
        name: (index, heldout.labels_of(data.rows, index))
        for name, index in (("time", splits.test_time), ("unseen", splits.test_unseen))
        if len(index)
    }
    return compare_teacher(
        cfg=cfg,
        data=data.rows,
        X_student=emb.X,
        heads_student=heads,
        train_index=splits.train,
        eval_sets=eval_sets,
        student=emb.student,
        teacher=Teacher(emb.student.window, batch_size=cfg.teacher.batch_size),
        encode=lambda embedder, texts: _encode(emb.cache, wrap(embedder), texts, progress),
    )


def _drift_reference(rows: TrainingSet, index: np.ndarray, tiers: tuple[str, ...]) -> Any:
    """The bundle's drift reference over held-out rows of its data (training.drift.reference)."""
    from training.drift.reference import first_attempt_failures, reference_stats

    texts = [rows.text[i] for i in index]
    features = [rows.feature[i] for i in index]
    failures = first_attempt_failures(rows.first_tier[index], rows.tier_ok[index], tiers)
    return lambda clf: reference_stats(clf, texts, features=features, failures=failures)
