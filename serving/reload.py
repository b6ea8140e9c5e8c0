"""Hot reload: poll the source, load and warm a new bundle off the request path, swap atomically.

A bundle that fails to load, to warm up, or to match this server's taxonomy never replaces the
one serving. The failure is counted and logged with its reason, and the same target is retried
with exponential backoff (base, 2x base, ... up to the cap), because a registry or download error
is often transient; a new target (the source changed) is tried at once. Until it loads,
`status()` (readiness detail) and the `tierwise_model_load_failing` gauge report it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from classifier.errors import ClassifierError
from classifier.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from serving.model_store import ModelStore, load_bundle
from serving.sources import BundleSource

if TYPE_CHECKING:
    from serving.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadFailure:
    """The target that would be served but cannot be loaded, and when it is tried next."""

    signature: str
    error: str
    attempts: int
    first_failed_at: float  # wall clock, for people
    retry_at: float  # on the reloader's clock


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
        retry_base_s: float = 1.0,
        retry_max_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        taxonomy: Taxonomy = DEFAULT_TAXONOMY,
        contracts_source: str = "the packaged contracts",
    ) -> None:
        self.taxonomy = taxonomy  # the contracts': a bundle speaking another is refused
        self.contracts_source = contracts_source
        self.store = store
        self.source = source
        self.metrics = metrics
        self.intra_op_threads = intra_op_threads
        self.warmup = warmup
        self.interval_s = interval_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self._clock = clock
        self._loaded_signature: str | None = None
        self.failure: LoadFailure | None = None
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
            if signature == self._loaded_signature:
                self._clear_failure()  # the source went back to what is served
                return False
            f = self.failure
            due = f is None or f.signature != signature or self._clock() >= f.retry_at
            if not due:
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
                taxonomy=self.taxonomy,
                contracts_source=self.contracts_source,
            )
        except Exception as exc:  # a broken bundle, a disk or a registry error: all retried
            self._failed(signature, exc)
            return False
        if self.source.signature() != signature:
            # Files were still being written while we loaded; the next poll sees the final state.
            log.info("bundle at %s changed while loading; will retry", self.source.description)
            return False
        self._loaded_signature = signature
        self._clear_failure()
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
        previous = self.failure
        attempts = previous.attempts + 1 if previous and previous.signature == signature else 1
        delay = min(self.retry_base_s * 2 ** (attempts - 1), self.retry_max_s)
        reason = f"{type(exc).__name__}: {exc}"
        first = previous.first_failed_at if previous and attempts > 1 else time.time()
        self.failure = LoadFailure(signature, reason, attempts, first, self._clock() + delay)
        self.store.last_error = reason
        self.metrics.model_load_failures.inc()
        self.metrics.model_load_failing.set(1)
        self.metrics.model_load_attempts.set(attempts)
        discard = getattr(self.source, "discard", None)
        if discard is not None:
            discard(signature)  # a half-downloaded copy must not be loaded again on retry
        serving = self.store.current
        retry = f"attempt {attempts}, retrying in {delay:g} s"
        if serving is not None:
            log.error(
                "new bundle from %s refused, still serving version %s (%s): %s",
                self.source.description,
                serving.version,
                retry,
                reason,
            )
        else:
            log.error("no model loaded from %s (%s): %s", self.source.description, retry, reason)

    def _clear_failure(self) -> None:
        if self.failure is not None:
            self.failure = None
            self.metrics.model_load_failing.set(0)
            self.metrics.model_load_attempts.set(0)

    def status(self) -> dict[str, Any]:
        """For readiness: what is served, and a target that could not be loaded (if any)."""
        failure = self.failure
        pending = None
        if failure is not None:
            pending = {
                "target": failure.signature.split("|", 1)[0],
                "error": failure.error,
                "attempts": failure.attempts,
                "failing_since": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(failure.first_failed_at)
                ),
                "retry_in_s": round(max(0.0, failure.retry_at - self._clock()), 3),
            }
        return {
            "source": self.source.description,
            "source_error": self._last_source_error,
            "not_loaded": pending,
        }

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

    def _next_wait(self) -> float:
        """The poll interval, or less when a retry falls due sooner."""
        failure = self.failure
        if failure is None:
            return self.interval_s
        return max(0.01, min(self.interval_s, failure.retry_at - self._clock()))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._next_wait()):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise; the next poll tries again
                log.exception("unexpected error while checking %s", self.source.description)
