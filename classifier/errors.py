"""One small error hierarchy; every message says what the user should do next."""

from __future__ import annotations


class ClassifierError(Exception):
    """Base class of every error tierwise raises on purpose."""


class BundleError(ClassifierError):
    """A model bundle is missing, incomplete, or does not match its manifest."""


class ConfigError(ClassifierError):
    """A contracts, routing-table or rules file is invalid; the message names file and key."""


class InputError(ClassifierError):
    """A request text or log record cannot be used as given."""


class ClassifierUnavailable(ClassifierError):
    """The classifier did not answer (timeout, 5xx, connection error) and the policy fails closed.

    `reason` says what went wrong, so the caller can refuse the request with it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"tierwise classifier unavailable ({reason}) and the failure policy fails closed; "
            "retry later, or configure FailurePolicy.fail_open(tier) to route anyway"
        )
        self.reason = reason
