"""Labelling functions: structural and lexical cues that vote for an intent or a risk, or abstain.

Each cue is deliberately narrow (high precision, low coverage); `weak.py` combines their votes
with embeddings and abstains where the evidence is thin. The same cues, with a fallback when
none fires, are the keyword baseline of the real-traffic report: what a team writes by hand.
Every pattern is bounded or anchored, so a hostile text costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ABSTAIN = None


@dataclass(frozen=True)
class Cue:
    name: str
    target: str  # "intent" | "risk"
    label: str
    test: Callable[[str, str, Mapping[str, Any]], bool]  # (text, lowered head, meta)


def _rx(pattern: str) -> Callable[[str, str, Mapping[str, Any]], bool]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda text, low, meta: compiled.search(low) is not None


HEAD = 600  # most instructions sit at the start or the end of a request
TAIL = 400


def _ask(text: str) -> str:
    """Where the instruction usually is: the head and the tail, lower-cased."""
    low = text.lower()
    return low if len(low) <= HEAD + TAIL else low[:HEAD] + "\n" + low[-TAIL:]


_CODE_BLOCK = re.compile(
    r"```|^\s{0,8}(def |class |import |#include|public static|function )", re.M
)
_STUB = re.compile(
    r"^\s{0,4}def \w{1,60}\([^)]{0,200}\)[^:\n]{0,80}:\s*\n\s{0,12}(\"\"\"|''')", re.M
)
_NUMBERS = re.compile(r"\d")
_CHOICES = re.compile(r"(^|\n)\s{0,4}\(?[A-Da-d][).:]\s+\S", re.M)
_PII = re.compile(
    r"\b(?:\d{4}[ -]?){3}\d{4}\b|\b\d{3}-\d{2}-\d{4}\b|\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"
    r"|[\w.+-]{1,40}@[\w-]{1,40}\.[a-z]{2,6}"
)


def _is_code(text: str, low: str, meta: Mapping[str, Any]) -> bool:
    return bool(_CODE_BLOCK.search(text)) or bool(_STUB.search(text))


def _math(text: str, low: str, meta: Mapping[str, Any]) -> bool:
    digits = len(_NUMBERS.findall(low))
    asks = re.search(
        r"\b(how (many|much|long|far|old)|what is the (total|probability|value|sum|average)|"
        r"calculate|solve|compute|find the (value|number|sum|area)|prove that)\b",
        low,
    )
    return digits >= 2 and asks is not None


def _multiple_choice(text: str, low: str, meta: Mapping[str, Any]) -> bool:
    return len(_CHOICES.findall(text)) >= 3


def _short_chat(text: str, low: str, meta: Mapping[str, Any]) -> bool:
    return (
        len(text) < 60
        and re.search(r"^(hi|hello|hey|thanks|good (morning|night)|how are you)\b", low) is not None
    )


def _pii(text: str, low: str, meta: Mapping[str, Any]) -> bool:
    return _PII.search(text) is not None


def _source(*names: str) -> Callable[[str, str, Mapping[str, Any]], bool]:
    return lambda text, low, meta: meta.get("_source") in names


def _harm_category(text: str, low: str, meta: Mapping[str, Any]) -> bool:
    return bool(meta.get("harm_category") or meta.get("harm_categories"))


def _dna_harmful(text: str, low: str, meta: Mapping[str, Any]) -> bool:
    """Do-Not-Answer: every risk area is harmful except parts of human_chatbox (anthropomorphism)."""
    return meta.get("_source") == "donotanswer" and meta.get("area") != "human_chatbox"


INTENT_CUES: tuple[Cue, ...] = (
    Cue("code_structure", "intent", "generate_code", _is_code),
    Cue(
        "code_words",
        "intent",
        "generate_code",
        _rx(
            r"\b(write|create|implement|fix|debug|refactor|complete|optimi[sz]e) (a |an |the |this |my )?"
            r"(python |javascript |java |c\+\+ |sql |bash |shell |react |typescript |go |rust )?"
            r"(function|script|program|code|class|query|regex|regular expression|unit tests?|api|component)\b"
        ),
    ),
    Cue("math_problem", "intent", "plan", _math),
    Cue(
        "plan_words",
        "intent",
        "plan",
        _rx(
            r"\b(make|create|build|give me|draft|develop|design) (me )?(a |an )?([\w-]+ ){0,3}"
            r"(plan|itinerary|schedule|roadmap|strategy|timeline|curriculum)\b"
        ),
    ),
    Cue(
        "reasoning_words",
        "intent",
        "plan",
        _rx(r"\b(step[- ]by[- ]step|pros and cons|trade-?offs?|riddle|puzzle|logic problem)\b"),
    ),
    Cue(
        "summary_words",
        "intent",
        "summarize",
        _rx(
            r"\b(summari[sz]e|summary|summarization|tl;?dr|key (points|takeaways)|main (points|ideas)|"
            r"condense|recap|in (one|two|three|a few) sentences)\b"
        ),
    ),
    Cue(
        "rewrite_words",
        "intent",
        "transform",
        _rx(
            r"\b(rewrite|re-write|rephrase|paraphrase|translate|proofread|correct (the )?grammar|"
            r"fix (the )?(grammar|spelling|typos)|make (it|this) (more|less|shorter|longer|formal|casual)|"
            r"convert (this|the following|it) (in)?to|reformat|turn (this|the following) into)\b"
        ),
    ),
    Cue(
        "extract_words",
        "intent",
        "transform",
        _rx(r"\b(extract|pull out|parse) (the |all )?\w+.{0,40}\b(json|table|csv|list|fields)\b"),
    ),
    Cue(
        "classify_words",
        "intent",
        "classify",
        _rx(
            r"\b(classify|categori[sz]e|sentiment|which category|label (each|the following|these)|"
            r"tag (each|these)|is (this|the following) (review|text|tweet|message|email|comment) "
            r"(positive|negative|spam|toxic)|spam or not)\b"
        ),
    ),
    Cue(
        "policy_words",
        "intent",
        "review_policy",
        _rx(
            r"\b(compl(y|ies|iant|iance) with|violat(e|es|ion)|in breach of|against (the |our )?"
            r"(policy|policies|guidelines|terms)|allowed under|permitted under|gdpr|hipaa|"
            r"(review|check|audit) (this|the|our) .{0,30}(policy|contract|clause|terms|for compliance))"
        ),
    ),
    Cue("multiple_choice", "intent", "chat", _multiple_choice),
    Cue("greeting", "intent", "chat", _short_chat),
    Cue(
        "creative_words",
        "intent",
        "chat",
        _rx(
            r"^(write|compose|create|draft) (me )?(a |an )?([\w-]+ ){0,3}"
            r"(poem|story|song|essay|blog post|email|e-mail|letter|speech|tweet|joke|article|cover letter|post)\b"
        ),
    ),
    Cue(
        "question_words",
        "intent",
        "chat",
        _rx(
            r"^(what|who|why|when|where|which|is|are|can|does|do|how do i|how can i|explain|tell me)\b"
        ),
    ),
)

RISK_CUES: tuple[Cue, ...] = (
    Cue("harmful_source", "risk", "high", _source("advbench", "harmbench", "tense_rewrites")),
    Cue("dna_harmful", "risk", "high", _dna_harmful),
    Cue("harm_category", "risk", "high", _harm_category),
    Cue("small_talk_source", "risk", "low", _source("chatterbot")),
    Cue("personal_data", "risk", "high", _pii),
    Cue(
        "harm_words",
        "risk",
        "high",
        _rx(
            r"\b(bomb|explosive|weapon|poison|kill (him|her|them|someone|my|a person|people)|murder|"
            r"suicide|self[- ]harm|overdose|meth|cocaine|heroin|fentanyl|hack into|malware|ransomware|"
            r"keylogger|phishing|steal|launder|counterfeit|racist|nazi|porn|nude|sexual|child abuse|"
            r"terroris[mt])\b"
        ),
    ),
    Cue(
        "advice_words",
        "risk",
        "high",
        _rx(
            r"\b(diagnos\w*|symptoms?|dosage|dose|medication|prescri\w+|my doctor|lawsuit|sue|lawyer|"
            r"attorney|legal advice|invest(ment)? advice|tax(es)? (return|advice)|my (loan|mortgage|debt))\b"
        ),
    ),
    Cue(
        "business_words",
        "risk",
        "medium",
        _rx(
            r"\b(customers?|clients?|marketing|brand|sales|our (company|business|product|team|startup)|"
            r"business plan|landing page|newsletter|press release|product description|ad copy|"
            r"investors?|stakeholders?|linkedin|seo)\b"
        ),
    ),
    Cue(
        "casual_words",
        "risk",
        "low",
        _rx(
            r"\b(for fun|my (kid|son|daughter|friend|cat|dog)|homework|hobby|joke|poem|story|game|"
            r"recipe|movie|song|trivia|riddle)\b"
        ),
    ),
)


def votes(text: str, meta: Mapping[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """{"intent": {cue: label}, "risk": {cue: label}} for the cues that fire on `text`."""
    meta = meta or {}
    low = _ask(text)
    out: dict[str, dict[str, str]] = {"intent": {}, "risk": {}}
    for cue in (*INTENT_CUES, *RISK_CUES):
        if cue.test(text, low, meta):
            out[cue.target][cue.name] = cue.label
    return out


INTENT_PRIORITY = (
    "generate_code",
    "review_policy",
    "summarize",
    "classify",
    "transform",
    "plan",
    "chat",
)
RISK_PRIORITY = ("high", "medium", "low")


def keyword_baseline(text: str) -> tuple[str, str]:
    """The hand-written keyword router: first intent by priority, highest risk, else chat/low.

    Uses text cues only (no source metadata), as a team's keyword rules would.
    """
    fired = votes(text)
    intents = set(fired["intent"].values())
    risks = set(fired["risk"].values())
    intent = next((i for i in INTENT_PRIORITY if i in intents), "chat")
    risk = next((r for r in RISK_PRIORITY if r in risks), "low")
    return intent, risk
