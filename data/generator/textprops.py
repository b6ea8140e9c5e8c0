"""Observable properties of a request text: what latent difficulty is a function of.

Everything is measured on the text alone, never on the template, domain or label that made it,
so template texts and real user texts are scored by one rule. What is *asked* (steps,
constraints, requested output, ambiguity) is read in the instruction region, the first and last
`INSTRUCTION_CHARS` characters, where a request sits around any pasted content; the *material*
(numbers, specialist terms, code) is read in a head-and-tail window of `WINDOW_HEAD` +
`WINDOW_TAIL` characters, since every count saturates long before a document ends.

Cheap by construction (about 50 µs a text here): ASCII tokens by `bytes.translate` + `split`,
cue words by set intersection, cue phrases by substring search behind a first-word check, and a
few regexes without nested quantifiers (linear time on any input). Non-ASCII letters become
separators, which splits accented words but never an (ASCII) English cue word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from data.generator.language import guess_language

INSTRUCTION_CHARS: Final = 300
WINDOW_HEAD: Final = 2000
WINDOW_TAIL: Final = 1000


def _vocab(*lines: str) -> list[str]:
    """Words of a vocabulary table written as plain lines."""
    return " ".join(lines).split()


_WORD_BYTES: Final = bytes(
    c if c < 128 and (chr(c).isalnum() or chr(c) == "_") else 32 for c in range(256)
)
_DIGIT_BYTES: Final = bytes(c if 48 <= c <= 57 else 32 for c in range(256))
# "3*4", "2 + 2", "x = 5", "10 - 3"; a bare "-" or "/" between digits is a date or a range.
_OPERATOR: Final = re.compile(r"\d ?[+*×÷^=] ?\d|\d [-/] \d")
_REQUIREMENT_LINE: Final = re.compile(r"(?m)^[ \t]{0,8}(?:[-*•]|\d{1,2}[.)])[ \t]")
_COUNTED_OUTPUT: Final = re.compile(
    r"\b(\d{1,5})[ -]?(words?|pages?|paragraphs?|sentences?|lines?|bullets?|points|items|"
    r"characters|tweets?)\b"
)
OUTPUT_UNITS: Final = frozenset(
    _vocab(
        "word words page pages paragraph paragraphs sentence sentences line lines bullet bullets "
        "points items characters tweet tweets"
    )
)

# Cue vocabularies, one per property: single words, and phrases (several words). A cue counts
# once however often it occurs: distinct cues measure how much is asked, repeats do not.
CUES: Final[dict[str, list[str]]] = {
    "steps": _vocab(
        "steps plan planning roadmap milestone milestones phase phases analyse analyze analysis "
        "tradeoff tradeoffs compare comparison evaluate assess prioritise prioritize strategy "
        "strategies why justify prove derive optimise optimize schedule recommend then finally "
        "afterwards sequence reasoning reason decide decision options alternatives"
    ) + [
        "step by step", "pros and cons", "trade offs", "trade off", "figure out", "work out",
        "break down", "walk through", "after that", "think through",
    ],
    "arithmetic": _vocab(
        "calculate compute solve total sum average mean median percent percentage probability "
        "odds ratio equation twice half cheapest fastest profit interest multiply divide "
        "subtract minus plus remainder"
    ) + [
        "how many", "how much", "how long", "per hour", "per day", "per month", "per year",
        "times as",
    ],
    "constraints": _vocab(
        "must mustn should shouldn exactly only never always without avoid ensure required "
        "require requires mandatory strictly cannot limit maximum minimum within"
    ) + [
        "at least", "at most", "no more than", "no less than", "not more than", "fewer than",
        "less than", "more than", "up to", "make sure", "do not", "don t", "need to", "has to",
        "have to", "keep it", "can t",
    ],
    "long_output": _vocab(
        "essay article blog detailed comprehensive thorough thoroughly elaborate extensive "
        "lengthy long longer whitepaper chapter novel screenplay tutorial curriculum syllabus"
    ) + [
        "in detail", "in depth", "business plan", "lesson plan", "white paper", "blog post",
    ],
    "short_output": _vocab(
        "tldr tl briefly brief short shorter concise concisely succinct succinctly oneliner"
    ) + [
        "one word", "one line", "one sentence", "one phrase", "one paragraph", "single word",
        "single sentence", "two sentences", "three sentences", "yes or no", "yes no",
        "true or false", "in a nutshell", "just the", "only the", "one liner",
    ],
    "structure": _vocab(
        "json yaml xml csv tsv table markdown schema html columns column array spreadsheet "
        "latex mermaid diagram"
    ) + [
        "key value", "bullet list", "bulleted list", "numbered list", "bullet points",
    ],
}  # fmt: skip
# Legal, medical and financial vocabulary, read in the material window.
SPECIALIST: Final = _vocab(
    # legal
    "liability liabilities indemnify indemnification indemnity jurisdiction statute statutory "
    "tort plaintiff defendant breach warranty warranties arbitration clause clauses gdpr hipaa "
    "ccpa ferpa compliance compliant regulation regulations regulatory litigation subpoena "
    "lawsuit attorney counsel trademark copyright patent nda fiduciary negligence lease tenant "
    "landlord court contract contracts statutes injunction "
    # medical
    "diagnosis diagnose diagnosed symptom symptoms dosage dose doses mg medication medications "
    "prescription prescribed patient patients clinical contraindication contraindications "
    "chronic therapy disease syndrome pathology surgery surgical insulin antibiotic "
    "antibiotics vaccine vaccination cardiac oncology pediatric paediatric comorbidity "
    # finance
    "ebitda amortization amortisation depreciation derivative derivatives portfolio irr npv "
    "dividend dividends equity liquidity hedge hedging securities mortgage tax taxes taxable "
    "audit ledger accrual accruals valuation underwriting deductible actuarial annuity "
    "annuities 401k loan loans collateral solvency"
) + [
    "side effects", "interest rate", "balance sheet", "cash flow", "capital gains",
    "credit score", "revenue recognition",
]  # fmt: skip
VAGUE_WORDS: Final = frozenset(
    _vocab(
        "it this that these those they them stuff thing things something same again above "
        "continue more another"
    )
)
BARE_VERBS: Final = frozenset(
    _vocab(
        "summarize summarise translate explain fix rewrite improve shorten expand continue redo "
        "shorter longer elaborate help check"
    )
)
CODE_STARTS: Final = (
    "def ", "class ", "return", "import ", "from ", "function ", "const ", "let ", "var ",
    "public ", "private ", "if (", "for (", "while (", "select ", "insert ", "update ",
    "#include", "package ", "fn ", "func ", "async ", "await ", "elif ", "else:", "try:",
    "except", "print(", "console.", "where ", "@", "<div", "</",
)  # fmt: skip
CODE_ENDS: Final = (";", "{", "}", "):", "=>", "*/", "[]", "();")


class _CueTable:
    """Cue words by set intersection; phrases by substring, only when their first word is there."""

    def __init__(self, cues: dict[str, list[str]]) -> None:
        self.categories = tuple(cues)
        self.words: dict[str, tuple[str, ...]] = {}
        self.phrases: dict[str, tuple[tuple[str, str], ...]] = {}
        for category, entries in cues.items():
            for entry in entries:
                if " " in entry:
                    first = entry.split()[0]
                    self.phrases[first] = self.phrases.get(first, ()) + ((f" {entry} ", category),)
                else:
                    self.words[entry] = self.words.get(entry, ()) + (category,)

    def count(self, words: set[str], joined: str) -> dict[str, int]:
        """Distinct cues per category; `joined` is " tok tok ... " of the same tokens."""
        counts = dict.fromkeys(self.categories, 0)
        for word in self.words.keys() & words:
            for category in self.words[word]:
                counts[category] += 1
        for first in self.phrases.keys() & words:
            for padded, category in self.phrases[first]:
                if padded in joined:
                    counts[category] += 1
        return counts


_ASKED: Final = _CueTable(CUES)
_MATERIAL: Final = _CueTable({"specialist": SPECIALIST})


@dataclass(frozen=True, slots=True)
class TextProps:
    """What a reader can see in a request; every field is a bounded count or a small score."""

    words: int  # size of the input (whitespace words, or chars/6 for scripts without spaces)
    steps: int  # reasoning / multi-step cues, plus every question mark after the first
    numbers: int  # runs of digits in the material window
    arithmetic: int  # arithmetic cues: "how many", "calculate", "3 * 4"
    constraints: int  # explicit constraints: must, at least, no more than, requirement bullets
    output_length: int  # requested output: -1 short (one line) ... 0 unsaid ... 2 very long
    structure: int  # structured output asked for (json, table, yaml...): distinct kinds
    specialist: int  # distinct legal / medical / finance terms in the material window
    code_lines: int  # lines that look like code, in the material window
    code_fences: int  # ``` markers
    ambiguity: float  # 0..1: a very short text with no object or a vague reference
    language: str  # guessed language of the instruction (data.generator.language)


def tokens_of(lowered: str) -> list[str]:
    """ASCII `\\w+` tokens of a lower-cased text (non-ASCII characters separate tokens)."""
    return lowered.encode("ascii", "replace").translate(_WORD_BYTES).decode("ascii").split()


def _instruction(text: str) -> str:
    n = INSTRUCTION_CHARS
    return text if len(text) <= 2 * n else f"{text[:n]}\n{text[-n:]}"


def _window(text: str) -> str:
    if len(text) <= WINDOW_HEAD + WINDOW_TAIL:
        return text
    return f"{text[:WINDOW_HEAD]}\n{text[-WINDOW_TAIL:]}"


def _output_length(long_cues: int, short_cues: int, lowered: str, words: set[str]) -> int:
    score = min(long_cues, 2) - (1 if short_cues else 0)
    if not words.isdisjoint(OUTPUT_UNITS):
        for match in _COUNTED_OUTPUT.finditer(lowered):
            n, unit = int(match.group(1)), match.group(2)
            if unit.startswith("word"):
                score += 2 if n >= 1500 else 1 if n >= 500 else -1 if n <= 60 else 0
            elif unit.startswith("page"):
                score += 2 if n >= 3 else 1
            elif unit.startswith("paragraph"):
                score += 1 if n >= 5 else 0
            elif n <= 3:
                score -= 1
    return max(-1, min(2, score))


def _code_lines(window: str) -> int:
    if not any(c in window for c in ";{}()="):
        return 0
    count = 0
    for line in window.split("\n"):
        stripped = line.strip()
        if stripped and (
            stripped.endswith(CODE_ENDS)
            or stripped.lower().startswith(CODE_STARTS)
            or (line.startswith(("    ", "\t")) and ("(" in stripped or "=" in stripped))
        ):
            count += 1
    return count


def _ambiguity(size: int, tokens: list[str]) -> float:
    """Very short requests that name no object, or open by pointing at something not there
    ("fix it", "what about that thing?"); a pronoun later on usually has its referent."""
    if size > 20 or not tokens:
        return 0.0
    vague = not VAGUE_WORDS.isdisjoint(tokens[:4])
    bare = size <= 3 and tokens[0] in BARE_VERBS
    return (1.0 if size <= 8 else 0.5) * (1.0 if vague else 0.5 if bare else 0.0)


def _operators(instruction: str) -> int:
    if (
        not any(c in instruction for c in "+*×÷^=")
        and " - " not in instruction
        and " / " not in instruction
    ):
        return 0
    return len(_OPERATOR.findall(instruction))


def text_props(text: str) -> TextProps:
    """Measure `text` (see the module doc for where each property is read)."""
    instruction = _instruction(text).lower()
    tokens = tokens_of(instruction)
    words = set(tokens)
    joined = f" {' '.join(tokens)} "
    asked = _ASKED.count(words, joined)
    window = _window(text)
    if len(text) <= 2 * INSTRUCTION_CHARS:  # the instruction region is the whole text
        material = _MATERIAL.count(words, joined)
    else:
        material_tokens = tokens_of(window.lower())
        material = _MATERIAL.count(set(material_tokens), f" {' '.join(material_tokens)} ")
    size = max(text.count(" ") + text.count("\n") + 1, len(text) // 6)
    requirement_lines = len(_REQUIREMENT_LINE.findall(instruction)) if "\n" in instruction else 0
    return TextProps(
        words=size,
        steps=asked["steps"] + max(0, instruction.count("?") - 1),
        numbers=len(window.encode("ascii", "replace").translate(_DIGIT_BYTES).split()),
        arithmetic=asked["arithmetic"] + _operators(instruction),
        constraints=asked["constraints"] + requirement_lines,
        output_length=_output_length(
            asked["long_output"], asked["short_output"], instruction, words
        ),
        structure=asked["structure"],
        specialist=material["specialist"],
        code_lines=_code_lines(window),
        code_fences=window.count("```"),
        ambiguity=_ambiguity(size, tokens),
        language=guess_language(text),
    )
