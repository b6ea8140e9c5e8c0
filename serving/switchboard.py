"""Operator switches and the run-time policy mode: validated, audited, saved, then applied.

A change goes through four steps and stops at the first that fails, leaving what serves as it was:
1. validate: tiers, booleans, experiment values, and feature names against the contracts (a
   typo is a 422 listing the known features, not a kill switch that silently matches nothing);
2. audit: one JSON line appended (and fsynced) to the audit log, naming the token's identity;
3. save: the whole state written to TIERWISE_SWITCHES_PATH atomically (temp file, fsync,
   rename), so a crash leaves either the old file or the new one;
4. apply: one reference swap each for the switches and the experiment.
At start-up the file is read back, so a restart keeps force_mini, kill switches, caps and the
policy mode. An unreadable file stops the start: silently dropping an emergency switch is worse.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from classifier.errors import ConfigError, InputError
from classifier.switches import ALL_FEATURES, Switches, SwitchState
from serving.decision_log import rfc3339
from serving.errors import ApiError
from serving.experiment import Experiment
from serving.service import ClassifyService
from serving.settings import ServingSettings

log = logging.getLogger(__name__)
audit_log = logging.getLogger("tierwise.audit")

FORMAT = 1
_EXPERIMENT_KEYS = ("mode", "shadow_serve", "ab_learned_share")


@dataclass(frozen=True)
class Change:
    """What one admin call asks for, already parsed; None/empty means "leave as it is"."""

    force_mini: bool | None = None
    kill: dict[str, bool] | None = None
    caps: dict[str, Any] | None = None
    experiment: dict[str, Any] | None = None  # PATCH: keys to change
    reset_experiment: bool = False  # PUT: back to the TIERWISE_ settings, then `experiment`
    note: str | None = None


class SwitchBoard:
    """The one writer of `service.switches` and `service.experiment` after start-up."""

    def __init__(self, settings: ServingSettings, service: ClassifyService) -> None:
        if settings.switches_path is None:
            raise ConfigError("SwitchBoard needs TIERWISE_SWITCHES_PATH")
        self.path = settings.switches_path
        self.audit_path = settings.audit_path or self.path.with_name("switches-audit.jsonl")
        self.settings = settings
        self.service = service
        self.override: dict[str, Any] | None = None  # experiment set at run time, if any
        self._lock = threading.Lock()

    # start-up -------------------------------------------------------------------------------

    def restore(self) -> None:
        """Put back what the file says; nothing when there is no file yet."""
        try:
            raw = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            log.info("no switches saved at %s yet: starting with none", self.path)
            try:  # a directory that cannot exist should stop the start, not the first change
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the folder of TIERWISE_SWITCHES_PATH={self.path}: {exc}"
                ) from exc
            return
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(self._unreadable(exc)) from exc
        try:
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                raise InputError(f"not a format-{FORMAT} switches file")
            state = self._state_from(raw["switches"])
            override = raw.get("experiment")
            experiment = self._experiment(override)
        except (InputError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(self._unreadable(exc)) from exc
        unknown = self._unknown([*state.killed, *state.caps])
        if unknown:
            log.warning("restored switches name features without a contract: %s", unknown)
        self.service.switches = Switches(state)
        if experiment is not None:
            self.service.ensure_rules(experiment)
            self.service.experiment = experiment
        self.override = override
        log.warning(
            "restored switches from %s: %s; experiment %s",
            self.path,
            _brief(state.to_dict()),
            self.service.experiment.describe(),
        )

    def _unreadable(self, exc: BaseException) -> str:
        return (
            f"switches file {self.path} is unreadable ({type(exc).__name__}: {exc}); fix it from "
            f"the last good state in {self.audit_path} or remove it to start with no switches"
        )

    def _state_from(self, raw: dict[str, Any]) -> SwitchState:
        scratch = Switches()  # validates names, tiers and booleans the way updates do
        killed = raw.get("killed") or []
        checked = scratch.update(
            force_mini=raw.get("force_mini", False),
            kill=dict.fromkeys(killed, True),
            caps=raw.get("caps") or {},
        )
        return SwitchState(
            force_mini=checked.force_mini,
            killed=checked.killed,
            caps=checked.caps,
            version=int(raw.get("version", 0)),
            updated_at=raw.get("updated_at"),
            updated_by=raw.get("updated_by"),
        )

    # reading --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "switches": self.service.switches.snapshot(),
            "experiment": self.service.experiment.describe(),
            "experiment_override": self.override,
            "saved_to": str(self.path),
        }

    # changing -------------------------------------------------------------------------------

    def apply(
        self, change: Change, *, actor: str, client: str, method: str, names: list[str]
    ) -> dict[str, Any]:
        """Validate, audit, save, apply; ApiError (422, 503) leaves everything as it was.

        `names` are the features the caller named; each must have a contract (or be '*'),
        unless it is already switched (so a feature dropped from the contracts can be cleared).
        """
        with self._lock:
            self._check_features(names)
            before = self.snapshot()
            scratch = Switches(self.service.switches.state)
            try:
                state = scratch.update(
                    force_mini=change.force_mini, kill=change.kill, caps=change.caps, by=actor
                )
            except InputError as exc:
                raise ApiError(422, "invalid_switches", str(exc)) from exc
            override = self._new_override(change)
            try:
                experiment = self._experiment(override)
                if experiment is not None:
                    self.service.ensure_rules(experiment)
            except (ValueError, RuntimeError) as exc:
                raise ApiError(422, "invalid_experiment", str(exc)) from exc
            effective = experiment or self._configured()
            after: dict[str, Any] = {
                "switches": state.to_dict(),
                "experiment": effective.describe(),
                "experiment_override": override,
                "saved_to": str(self.path),
            }
            entry = {
                "ts": rfc3339(time.time()),
                "actor": actor,
                "client": client,
                "method": method,
                "note": change.note,
                "before": _auditable(before),
                "after": _auditable(after),
            }
            self._append_audit(entry)
            try:
                self._save(state, override)
            except OSError as exc:
                self._append_audit({**entry, "event": "not_saved", "error": str(exc)}, quiet=True)
                raise ApiError(
                    503,
                    "switches_not_saved",
                    f"could not save the switches to {self.path} ({exc}); nothing was changed",
                ) from exc
            self.service.switches = scratch
            self.service.experiment = effective
            self.override = override
        audit_log.warning(
            "switches changed by %s (client %s, %s): %s -> %s; experiment %s",
            actor, client, method, _brief(before["switches"]), _brief(after["switches"]),
            after["experiment"],
        )  # fmt: skip
        return after

    def _check_features(self, names: list[str]) -> None:
        state = self.service.switches.state
        unknown = [n for n in self._unknown(names) if n not in state.killed and n not in state.caps]
        if unknown:
            known = sorted(self.service.known_features)
            raise ApiError(
                422,
                "unknown_feature",
                f"no contract for feature(s) {unknown}; use one of {known} or '*' for every "
                "feature (nothing was changed)",
            )

    def _unknown(self, names: list[str]) -> list[str]:
        known = self.service.known_features
        if not known:  # no contracts loaded: nothing to check against
            return []
        return sorted({n for n in names if n != ALL_FEATURES and n not in known})

    def _configured(self) -> Experiment:
        s = self.settings
        return Experiment(s.policy_mode, shadow_serve=s.shadow_serve,
                          learned_share=s.ab_learned_share, salt=s.ab_salt)  # fmt: skip

    def _new_override(self, change: Change) -> dict[str, Any] | None:
        if change.reset_experiment:
            base: dict[str, Any] | None = None
        else:
            base = self.override
        if not change.experiment:
            return base
        s = self.settings
        merged = base or {"mode": s.policy_mode, "shadow_serve": s.shadow_serve,
                          "ab_learned_share": s.ab_learned_share}  # fmt: skip
        return {**merged, **{k: v for k, v in change.experiment.items() if v is not None}}

    def _experiment(self, override: dict[str, Any] | None) -> Experiment | None:
        if override is None:
            return None
        unknown = set(override) - set(_EXPERIMENT_KEYS)
        if unknown:
            raise ValueError(f"unknown experiment keys {sorted(unknown)}")
        return Experiment(
            override["mode"],
            shadow_serve=override["shadow_serve"],
            learned_share=float(override["ab_learned_share"]),
            salt=self.settings.ab_salt,
        )

    # files ----------------------------------------------------------------------------------

    def _append_audit(self, entry: dict[str, Any], *, quiet: bool = False) -> None:
        """Append one line and fsync it; a change that cannot be audited is not made."""
        try:
            self.audit_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, orjson.dumps(entry) + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("could not append to the audit log %s: %s", self.audit_path, exc)
            if quiet:
                return
            raise ApiError(
                503,
                "audit_unavailable",
                f"could not write the audit log {self.audit_path} ({exc}); nothing was changed",
            ) from exc

    def _save(self, state: SwitchState, override: dict[str, Any] | None) -> None:
        body = {"format": FORMAT, "saved_at": rfc3339(time.time()),
                "switches": state.to_dict(), "experiment": override}  # fmt: skip
        data = orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)


def _auditable(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "saved_to"}


def _brief(snapshot: dict[str, Any]) -> str:
    return (
        f"force_mini={snapshot['force_mini']} killed={snapshot['killed']} "
        f"caps={snapshot['caps']} v{snapshot['version']}"
    )
