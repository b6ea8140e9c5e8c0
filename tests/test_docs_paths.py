"""Docs follow the code: every repository path and every `package.module` named in docs/ and the
README exists, so a moved or deleted module cannot leave a page pointing at nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
_DIRS = ("classifier", "serving", "training", "data", "scripts", "tests", "docs", ".ci", "models")
_ANY_DIR = "|".join(map(re.escape, _DIRS))
PATH = re.compile(rf"(?<![\w./-])((?:{_ANY_DIR})/[\w./*-]*[\w*])")
# `data.x` is also how config keys and MLflow params are written, so only code packages here.
MODULE = re.compile(r"`((?:classifier|serving|training)(?:\.\w+)+)")


def _top_level_names(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
            if isinstance(node.value, ast.List | ast.Tuple | ast.Dict):  # __all__, lazy exports
                items = node.value.keys if isinstance(node.value, ast.Dict) else node.value.elts
                names |= {i.value for i in items if isinstance(i, ast.Constant)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _path_exists(path: str) -> bool:
    if path.startswith("models/") and path != "models/README.md":
        return True  # built bundles (models/README.md): outputs, not committed
    if "*" in path:
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def _module_exists(dotted: str) -> bool:
    """The longest prefix that is a module, and the next name defined in it (or a submodule)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:i])
        module = (
            base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        )
        if not module.is_file():
            continue
        if i == len(parts):
            return True
        rest = parts[i]
        return rest in _top_level_names(module) or (base / rest).is_dir()
    return False


def test_every_path_named_in_the_docs_exists() -> None:
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in PATH.finditer(text):
            path = match.group(1).split("::")[0].rstrip(".")
            if not _path_exists(path):
                missing.append(f"{page.relative_to(ROOT)}: {path}")
        for match in MODULE.finditer(text):
            if not _module_exists(match.group(1)):
                missing.append(f"{page.relative_to(ROOT)}: {match.group(1)}")
    assert not missing, "docs name paths that do not exist:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_path() -> None:
    assert not _path_exists("serving/decisions.py")
    assert not _module_exists("serving.decisions.Decider")
    assert not _module_exists("classifier.decision.escalate")
    assert _module_exists("classifier.decision.decide") and _module_exists("classifier.Classifier")
    assert _path_exists("data/authored/*.jsonl") and not _path_exists("data/nowhere/*.jsonl")
