"""`tierwise promote`: orchestrate one decision: registry, windows, rows, scores, checks, log."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from classifier.bundle import read_manifest
from classifier.contracts import load_contracts, load_routing_table
from classifier.errors import InputError
from classifier.rules import RuleRouter
from training import tracking
from training.config import TrainConfig
from training.ingest.windows import TrainingWindow, utc_iso
from training.promote.decision import PROMOTED, REFUSED, UNCHANGED, Decision, log_decision
from training.promote.gate import direction, run_checks
from training.promote.rows import load_gate_rows
from training.promote.scoring import Policy, score_bundle


def promote(
    version: str,
    config: TrainConfig,
    *,
    logs: Sequence[Path] = (),
    corrections: Sequence[Path] = (),
    truth: Path | None = None,
    allow_first_champion: bool = False,
    allow_unknown_window: bool = False,
) -> Decision:
    """Mark `version` challenger; move `champion` to it only if it clears every check.

    Example:
        decision = promote("7", load_config(), logs=[Path("logs/2026-12.jsonl")])
        decision.outcome, decision.message  # ("refused", "... [FAIL] intent_ece: ...")
    """
    cfg = config
    name = cfg.tracking.registered_model
    direction(cfg.promote.metric)  # refuse a metric with no direction before any work
    client = tracking.connect(cfg.tracking.tracking_uri)
    candidate = str(tracking.get_version(client, name, version).version)
    holder = tracking.get_alias(client, name, tracking.CHAMPION)
    champion = None if holder is None else str(holder.version)

    if champion == candidate:
        decision = Decision(
            UNCHANGED,
            candidate,
            champion,
            f"{name} v{candidate} is already the champion; nothing to do",
        )
    elif champion is None:
        decision = _first_champion(client, name, candidate, allow_first_champion)
    else:
        client.set_registered_model_alias(name, tracking.CHALLENGER, candidate)
        decision = _gate(
            client, cfg, candidate, champion, logs, corrections, truth, allow_unknown_window
        )
    log_decision(client, cfg, decision)
    return decision


def _first_champion(client: Any, name: str, candidate: str, allowed: bool) -> Decision:
    if not allowed:
        client.set_registered_model_alias(name, tracking.CHALLENGER, candidate)
        return Decision(
            REFUSED,
            candidate,
            None,
            f"refused: {name} has no champion, so v{candidate} cannot be compared with one; "
            "it stays challenger",
            f"check v{candidate} (its training report, `tierwise evaluate --bundle ...`), then "
            f"`tierwise promote --version {candidate} --allow-first-champion`",
        )
    client.set_registered_model_alias(name, tracking.CHAMPION, candidate)
    _drop_challenger(client, name, candidate)
    return Decision(
        PROMOTED,
        candidate,
        None,
        f"{name} v{candidate} is the first champion (--allow-first-champion)",
    )


def _gate(
    client: Any,
    cfg: TrainConfig,
    candidate: str,
    champion: str,
    logs: Sequence[Path],
    corrections: Sequence[Path],
    truth: Path | None,
    allow_unknown_window: bool,
) -> Decision:
    name, pc = cfg.tracking.registered_model, cfg.promote
    with tempfile.TemporaryDirectory(prefix="tierwise-promote-") as tmp:
        bundles = {
            who: tracking.download_bundle(name, number, Path(tmp))
            for who, number in (("candidate", candidate), ("champion", champion))
        }
        windows: dict[str, TrainingWindow | None] = {
            who: TrainingWindow.from_manifest(read_manifest(path).training_data)
            for who, path in bundles.items()
        }
        labels = {"candidate": f"candidate v{candidate}", "champion": f"champion v{champion}"}
        shown = {
            labels[w]: (win.describe() if win else "not recorded") for w, win in windows.items()
        }
        unknown = [labels[w] for w, win in windows.items() if win is None]
        if unknown and not allow_unknown_window:
            return Decision(
                REFUSED,
                candidate,
                champion,
                f"refused: the manifest of {' and '.join(unknown)} records no training window, "
                "so the gate cannot tell which rows it was trained on",
                "retrain it with `tierwise train` (manifests record training_data.window), or "
                "pass --allow-unknown-window to score it as if it had seen none of the rows",
                windows=shown,
            )
        after = _after(windows.values())
        if not logs:
            raise InputError(
                "promotion needs labelled logs that neither model was trained on: pass --logs "
                f"(and --corrections) recorded after both training windows{after}; the "
                "candidate's own held-out rows are not used, since its run chose them"
            )
        table = load_routing_table()
        rows = load_gate_rows(
            logs,
            corrections,
            truth,
            list(windows.values()),
            table,
            max_rows=pc.max_rows,
            replays=pc.replays,
            work_dir=Path(tmp),
        )
        if len(rows) < pc.min_rows:
            return Decision(
                REFUSED,
                candidate,
                champion,
                f"refused: only {len(rows)} labelled rows of the logs lie outside both "
                f"training windows; the gate needs at least {pc.min_rows} (promote.min_rows)",
                f"pass --logs with at least {pc.min_rows} labelled rows recorded{after}",
                rows=rows.describe(),
                windows=shown,
            )
        policy = Policy(load_contracts(), table, RuleRouter.default(table.tier_models))
        scores = {
            who: score_bundle(path, number, rows, policy, n_bins=cfg.calibration.n_bins).to_dict()
            for (who, path), number in zip(bundles.items(), (candidate, champion), strict=True)
        }
    checks = run_checks(scores["candidate"], scores["champion"], pc)
    failed = [c.name for c in checks if not c.passed]
    if not failed:
        client.set_registered_model_alias(name, tracking.CHAMPION, candidate)
        _drop_challenger(client, name, candidate)
        return Decision(
            PROMOTED,
            candidate,
            champion,
            f"promoted {name} v{candidate} to champion over v{champion}: every check passed",
            checks=checks,
            scores=scores,
            rows=rows.describe(),
            windows=shown,
        )
    return Decision(
        REFUSED,
        candidate,
        champion,
        f"refused: {name} v{candidate} does not clear the gate against champion v{champion} "
        f"({', '.join(failed)}); it stays challenger and the champion stays where it was",
        "improve the candidate on the failed checks and retrain; the thresholds are "
        "promote.* in training/defaults.yaml (`--set promote.<key>=...`; none may be negative)",
        checks=checks,
        scores=scores,
        rows=rows.describe(),
        windows=shown,
    )


def _drop_challenger(client: Any, name: str, version: str) -> None:
    holder = tracking.get_alias(client, name, tracking.CHALLENGER)
    if holder is not None and str(holder.version) == version:
        client.delete_registered_model_alias(name, tracking.CHALLENGER)


def _after(windows: Iterable[TrainingWindow | None]) -> str:
    """' after <end of the later window>', or '' when no window is known."""
    ends = [w.end for w in windows if w is not None]
    return f" after {utc_iso(max(ends))}" if ends else ""
