"""Read a YAML config file into a pydantic model, with errors that name the file and the key.

Shared by contracts, routing table and rules so that every config mistake reads the same way:
`contracts.yaml: features.doc_summary.quality_bar: must be <= 1 (got 1.5)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from classifier.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "missing": "is required",
    "extra_forbidden": "is not a known key (misspelt?)",
    "literal_error": "must be one of {expected}",
    "too_short": "needs at least {min_length} entries",
}


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _message(error: Any) -> str:
    template = _MESSAGES.get(error["type"])
    ctx = error.get("ctx") or {}
    if template is not None:
        try:
            text = template.format(**ctx)
        except KeyError:
            text = error["msg"]
    else:
        text = error["msg"]
        # pydantic prefixes errors raised in validators with "Value error, ".
        text = text.removeprefix("Value error, ")
    if error["type"] not in ("missing", "extra_forbidden") and "input" in error:
        shown = repr(error["input"])
        if len(shown) <= 60:
            text += f" (got {shown})"
    return text


def format_validation_error(path: Path, exc: ValidationError, prefix: tuple[str, ...] = ()) -> str:
    """One line per problem: `file: dotted.key: what is wrong` (`prefix`: the keys above)."""
    lines = [f"{path}: {_loc((*prefix, *e['loc']))}: {_message(e)}" for e in exc.errors()]
    return "\n".join(lines)


def load_yaml_model(
    path: Path | str, model: type[M], *, what: str, context: dict[str, Any] | None = None
) -> M:
    """Parse and validate `path` as `model`; every failure is a ConfigError naming file and key.

    `context` reaches the model's validators (e.g. `{"taxonomy": ...}` for label checks).
    """
    return validate_yaml_mapping(path, read_yaml_mapping(path, what=what), model, what=what,
                                 context=context)  # fmt: skip


def read_yaml_mapping(path: Path | str, *, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file; a ConfigError names the file otherwise."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} file {path} does not exist; pass an existing YAML file") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix the syntax") from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: (top level): must be a mapping of keys, got {type(raw).__name__}"
        )
    return raw


def validate_yaml_mapping(
    path: Path | str,
    raw: dict[str, Any],
    model: type[M],
    *,
    what: str,
    context: dict[str, Any] | None = None,
) -> M:
    """Validate an already-read mapping of `path`; errors name the file and the key."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        where = format_validation_error(Path(path), exc)
        raise ConfigError(f"{where}\n(fix these keys in the {what} file and reload)") from exc
