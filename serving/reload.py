"""Hot reload: poll the source, load and warm a new bundle off the request path, swap atomically.

A bundle that fails to load, to warm up, or to match this server's taxonomy never replaces the
one serving: the failure is counted, logged with its reason, and not retried until the source
changes again (so a broken bundle left in place does not flood the logs every interval).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from classifier.errors import ClassifierError
from serving.model_store import ModelStore, load_bundle
from serving.sources import BundleSource

if TYPE_CHECKING:
    from serving.metrics import Metrics

log = logging.getLogger(__name__)


class Reloader:
    """Owns every load of the service: the first one at start-up and each later swap."""

    def __init__(
        self,
        store: ModelStore,
        source: BundleSource,
        metrics: Metrics,
        *,
        intra_op_threads: int = 1,
        warmup: int = 20,
        interval_s: float = 5.0,
    ) -> None:
        self.store = store
        self.source = source
        self.metrics = metrics
        self.intra_op_threads = intra_op_threads
        self.warmup = warmup
        self.interval_s = interval_s
        self._loaded_signature: str | None = None
        self._failed_signature: str | None = None
        self._last_source_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Load the source if it changed since the last attempt; True when a new model went live."""
        with self.store.lock:
            try:
                signature = self.source.signature()
            except (ClassifierError, OSError) as exc:
                self._source_unavailable(exc)
                return False
            self._last_source_error = None
            if signature in (self._loaded_signature, self._failed_signature):
                return False
            return self._load(signature)

    def _load(self, signature: str) -> bool:
        try:
            path = self.source.materialize()
            model = load_bundle(
                path,
                intra_op_threads=self.intra_op_threads,
                warmup=self.warmup,
                source=self.source.description,
            )
        except (ClassifierError, OSError) as exc:
            self._failed(signature, exc)
            return False
        if self.source.signature() != signature:
            # Files were still being written while we loaded; the next poll sees the final state.
            log.info("bundle at %s changed while loading; will retry", self.source.description)
            return False
        self._loaded_signature = signature
        self._failed_signature = None
        current = self.store.current
        if current is not None and (current.bundle_hash, current.version) == (
            model.bundle_hash,
            model.version,
        ):
            return False  # same content re-written (e.g. touched): keep the warm one
        self.store.swap(model)
        self.metrics.model_loads.inc()
        self.metrics.set_model_info(model)
        return True

    def _failed(self, signature: str, exc: BaseException) -> None:
        self._failed_signature = signature
        reason = f"{type(exc).__name__}: {exc}"
        self.store.last_error = reason
        self.metrics.model_load_failures.inc()
        serving = self.store.current
        if serving is not None:
            log.error(
                "new bundle from %s refused, still serving version %s: %s",
                self.source.description,
                serving.version,
                reason,
            )
        else:
            log.error("no model loaded from %s: %s", self.source.description, reason)

    def _source_unavailable(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if reason != self._last_source_error:  # count each distinct outage once, not every poll
            self._last_source_error = reason
            self.metrics.model_load_failures.inc()
            log.error("cannot check %s for a new bundle: %s", self.source.description, reason)
        if self.store.current is None:
            self.store.last_error = reason

    # background polling -------------------------------------------------------------------

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tierwise-reload", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise; the next poll tries again
                log.exception("unexpected error while checking %s", self.source.description)
