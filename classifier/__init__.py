"""tierwise's hot-path runtime: load a bundle, classify a request, decide a route.

Imports nothing heavy: no torch, no scikit-learn, no MLflow (a test checks). The runtime
(onnxruntime, tokenizers) is imported on first use of `classifier.Classifier`, so importing
the package for its taxonomy or errors stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from classifier.errors import BundleError, ClassifierError, ConfigError, InputError

if TYPE_CHECKING:
    from classifier.bundle import Manifest
    from classifier.prediction import Prediction
    from classifier.runtime import Classifier
    from classifier.textwindow import TextWindow

__all__ = [
    "BundleError",
    "Classifier",
    "ClassifierError",
    "ConfigError",
    "InputError",
    "Manifest",
    "Prediction",
    "TextWindow",
]

_LAZY = {
    "Classifier": "classifier.runtime",
    "Manifest": "classifier.bundle",
    "Prediction": "classifier.prediction",
    "TextWindow": "classifier.textwindow",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
