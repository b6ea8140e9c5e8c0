"""tierwise's hot-path runtime: load a bundle, classify a request, decide a route.

Imports nothing heavy: no torch, no scikit-learn, no MLflow (a test checks).
"""

from __future__ import annotations

from classifier.errors import BundleError, ClassifierError, ConfigError, InputError

__all__ = ["BundleError", "ClassifierError", "ConfigError", "InputError"]
