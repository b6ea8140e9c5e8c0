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

Several worker processes share the file. A change takes a lock file beside it (`filelock`), reads
what another worker may have saved meanwhile, and builds on that, so versions only go up and no
change is lost. Every worker calls `sync()` a few times a second (serving/app.py): one `stat`
when nothing changed; on a new file (each save is a new inode) it reads and applies it, so all
workers follow a change within `TIERWISE_SYNC_INTERVAL_S`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from filelock import FileLock
from filelock import Timeout as LockTimeout

from classifier.errors import ConfigError, InputError
from classifier.switches import ALL_FEATURES, Switches, SwitchState
from serving.decision_log import rfc3339
from serving.errors import ApiError
from serving.experiment import Experiment, from_override, from_settings, merge_override
from serving.service import ClassifyService
from serving.settings import ServingSettings

log = logging.getLogger(__name__)
audit_log = logging.getLogger("tierwise.audit")

FORMAT = 1
_LOCK_TIMEOUT_S = 10.0

Signature = tuple[int, int, int]  # inode, mtime_ns, size: a save is a rename, so a new inode


def _signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:  # missing, or its folder is gone: `_read` says why
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class Change:
    """What one admin call asks for, already parsed; None/empty means "leave as it is"."""

    force_mini: bool | None = None
    kill: dict[str, bool] | None = None
    caps: dict[str, Any] | None = None
    experiment: dict[str, Any] | None = None  # PATCH: keys to change
    reset_experiment: bool = False  # PUT: back to the TIERWISE_ settings, then `experiment`
    note: str | None = None
    set_residency: bool = False  # PUT /admin/residency: replace the residency override
    residency: dict[str, Any] | None = None  # None with set_residency: back to the files'


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
        self.residency: dict[str, Any] | None = None  # residency set at run time, if any
        self.sync_error: str | None = None  # the file changed but could not be applied
        self._seen: Signature | None = None  # the file as this process last read or wrote it
        self._lock = threading.Lock()
        self._file_lock = FileLock(self.path.with_name(f".{self.path.name}.lock"))

    # start-up -------------------------------------------------------------------------------

    def restore(self) -> None:
        """Put back what the file says; nothing when there is no file yet."""
        try:
            signature, data = self._read()
        except FileNotFoundError:
            log.info("no switches saved at %s yet: starting with none", self.path)
            try:  # a directory that cannot exist should stop the start, not the first change
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the folder of TIERWISE_SWITCHES_PATH={self.path}: {exc}"
                ) from exc
            return
        except OSError as exc:
            raise ConfigError(self._unreadable(exc)) from exc
        state, override, experiment = self._parse(data)
        unknown = self._unknown([*state.killed, *state.caps])
        if unknown:
            log.warning("restored switches name features without a contract: %s", unknown)
        self._install(state, override, experiment)
        self._install_residency(orjson.loads(data).get("residency"))
        self._seen = signature
        log.warning(
            "restored switches from %s: %s; experiment %s",
            self.path,
            _brief(state.to_dict()),
            self.service.experiment.describe(),
        )

    def sync(self) -> bool:
        """Apply the file if another process saved it since this one last read or wrote it.

        One `stat` when nothing changed. A file that cannot be read or parsed keeps what serves
        and is reported in `sync_error` (readiness shows it) until the file changes again.
        """
        if _signature(self.path) == self._seen:
            return False
        with self._lock:
            return self._sync_locked()

    def _sync_locked(self) -> bool:
        try:
            signature, data = self._read()
        except FileNotFoundError as exc:
            if self._seen is None:
                return False  # nothing saved yet, by anyone
            return self._sync_failed(None, exc)
        except OSError as exc:
            return self._sync_failed(_signature(self.path), exc)
        if signature == self._seen:
            return False
        try:
            state, override, experiment = self._parse(data)
            residency = orjson.loads(data).get("residency")
            moved = residency != self.residency
            self._install_residency(residency)
        except ConfigError as exc:
            return self._sync_failed(signature, exc)
        self._seen = signature
        self.sync_error = None
        current = self.service.switches.state
        if state.to_dict() == current.to_dict() and override == self.override:
            return moved  # this process wrote it, or already follows it (residency aside)
        self._install(state, override, experiment)
        log.info(
            "switches followed from %s: %s; experiment %s",
            self.path, _brief(state.to_dict()), self.service.experiment.describe(),
        )  # fmt: skip
        return True

    def _sync_failed(self, signature: Signature | None, exc: BaseException) -> bool:
        self._seen = signature  # try again when the file changes, not on every tick
        reason = (
            f"switches file {self.path} changed but cannot be applied "
            f"({type(exc).__name__}: {exc}); still serving switches version "
            f"{self.service.switches.state.version}"
        )
        if reason != self.sync_error:
            log.error("%s", reason)
        self.sync_error = reason
        return False

    def _read(self) -> tuple[Signature, bytes]:
        """The file's bytes and the signature of exactly that file (fstat of the open handle)."""
        with self.path.open("rb") as handle:
            st = os.fstat(handle.fileno())
            return (st.st_ino, st.st_mtime_ns, st.st_size), handle.read()

    def _parse(self, data: bytes) -> tuple[SwitchState, dict[str, Any] | None, Experiment | None]:
        try:
            raw = orjson.loads(data)
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                raise InputError(f"not a format-{FORMAT} switches file")
            state = self._state_from(raw["switches"])
            override = raw.get("experiment")
            experiment = self._experiment(override)
            if experiment is not None:
                self.service.ensure_rules(experiment)
        except (orjson.JSONDecodeError, InputError, AttributeError, KeyError, TypeError,
                ValueError, RuntimeError) as exc:  # fmt: skip
            raise ConfigError(self._unreadable(exc)) from exc
        return state, override, experiment

    def _install(
        self, state: SwitchState, override: dict[str, Any] | None, experiment: Experiment | None
    ) -> None:
        self.service.switches = Switches(state, tiers=self._tiers)
        if experiment is not None:
            self.service.ensure_rules(experiment)
        self.service.experiment = experiment if experiment is not None else self._configured()
        self.override = override

    @property
    def _tiers(self) -> tuple[str, ...]:
        """What a cap may name: the contracts' taxonomy's tiers."""
        return self.service.contracts.taxonomy.tiers

    def _install_residency(self, residency: dict[str, Any] | None) -> None:
        """Apply a saved residency override (ConfigError: the file's override is invalid)."""
        if residency == self.residency:
            return
        self.service.use_contracts(self.service.residency_contracts(residency))
        self.residency = residency

    def _unreadable(self, exc: BaseException) -> str:
        return (
            f"switches file {self.path} is unreadable ({type(exc).__name__}: {exc}); fix it from "
            f"the last good state in {self.audit_path} or remove it to start with no switches"
        )

    def _state_from(self, raw: dict[str, Any]) -> SwitchState:
        scratch = Switches(
            tiers=self._tiers
        )  # validates names, tiers and booleans the way updates do
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
            "residency_override": self.residency,
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
        with self._lock, self._locked_file():
            self._sync_locked()  # build on what another worker may have saved meanwhile
            self._check_features(names)
            before = self.snapshot()
            scratch = Switches(self.service.switches.state, tiers=self._tiers)
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
            residency, contracts = self.residency, None
            if change.set_residency:
                residency = change.residency
                try:  # validated before anything is audited, saved or applied
                    contracts = self.service.residency_contracts(residency)
                except ConfigError as exc:
                    raise ApiError(422, "invalid_residency", str(exc)) from exc
            after: dict[str, Any] = {
                "switches": state.to_dict(),
                "experiment": effective.describe(),
                "experiment_override": override,
                "residency_override": residency,
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
                self._save(state, override, residency)
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
            if contracts is not None:
                self.service.use_contracts(contracts)
                self.residency = residency
        audit_log.warning(
            "switches changed by %s (client %s, %s): %s -> %s; experiment %s",
            actor, client, method, _brief(before["switches"]), _brief(after["switches"]),
            after["experiment"],
        )  # fmt: skip
        return after

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[None]:
        """The lock file beside the switches file: one change at a time across processes.

        A folder where the lock cannot even be created cannot take the save either: the change
        goes on unlocked, fails at the save and is answered and audited as `switches_not_saved`.
        """
        try:
            self._file_lock.acquire(timeout=_LOCK_TIMEOUT_S)
        except LockTimeout as exc:
            raise ApiError(
                503,
                "switches_busy",
                f"another process held the lock {self._file_lock.lock_file} for "
                f"{_LOCK_TIMEOUT_S:g} s; nothing was changed, retry",
                headers={"Retry-After": "1"},
            ) from exc
        except OSError as exc:
            log.error("cannot create the switches lock %s: %s", self._file_lock.lock_file, exc)
            yield
            return
        try:
            yield
        finally:
            self._file_lock.release()

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
        return from_settings(self.settings)

    def _new_override(self, change: Change) -> dict[str, Any] | None:
        base = None if change.reset_experiment else self.override
        return merge_override(base, change.experiment, self.settings)

    def _experiment(self, override: dict[str, Any] | None) -> Experiment | None:
        return from_override(override, self.settings)

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

    def _save(
        self,
        state: SwitchState,
        override: dict[str, Any] | None,
        residency: dict[str, Any] | None = None,
    ) -> None:
        body = {"format": FORMAT, "saved_at": rfc3339(time.time()), "switches": state.to_dict(),
                "experiment": override, "residency": residency}  # fmt: skip
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
        self._seen = _signature(self.path)  # ours (the lock is held): not news to `sync`
        self.sync_error = None  # a good file replaced whatever could not be applied
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
