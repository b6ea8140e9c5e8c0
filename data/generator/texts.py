"""Compose one request text: frame family x domain content x register x length x noise.

The composer decides, in order: language, frame family (the `template` id), whether content is
pasted and how long it is, its genre, what sensitive material it carries, the register and the
noise, and where the instruction sits relative to the content. True risk follows from what ended
up in the text (topic stakes, personal data, forbidden advice, regulated claims).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from data.generator import i18n, sensitive
from data.generator.code import code_task
from data.generator.docs import GENRES, Composer
from data.generator.domain import Domain
from data.generator.domains_a import DOMAINS_A
from data.generator.domains_b import DOMAINS_B
from data.generator.frames import Family, fam
from data.generator.frames_a import CLASSIFY, REVIEW_POLICY, SUMMARIZE, TRANSFORM
from data.generator.frames_b import CHAT, GENERATE_CODE, PLAN
from data.generator.grammar import cumulative, pick, render, ri, weighted
from data.generator.hard import HARD
from data.generator.register import fixed, noisy, pick_register, wrap
from data.generator.vocab_misc import GENERAL_Q, misc_slots

DOMAINS: dict[str, Domain] = {d.name: d for d in DOMAINS_A + DOMAINS_B}
HIGH_STAKES_DOMAINS = ("legal", "health", "finance", "insurance")
ADVICE = (
    fam(
        "chat", "personal_advice", "!{forbidden}", "!{forbidden}?", "!hi, {forbidden}", content="no"
    ),
    fam(
        "plan",
        "personal_advice",
        "!make me a step-by-step plan to invest my {amount} [inheritance|savings|bonus]"
        " - tell me exactly what to buy",
        "!plan out my medication schedule: {forbidden}",
        content="no",
    ),
)
FAMILIES: dict[str, tuple[Family, ...]] = {}
HARD_FAMILIES: dict[str, tuple[Family, ...]] = {}
for _fam in SUMMARIZE + TRANSFORM + CLASSIFY + REVIEW_POLICY + PLAN + GENERATE_CODE + CHAT:
    FAMILIES[_fam.intent] = FAMILIES.get(_fam.intent, ()) + (_fam,)
for _fam in HARD:
    HARD_FAMILIES[_fam.intent] = HARD_FAMILIES.get(_fam.intent, ()) + (_fam,)

# Content length buckets (sentences or lines) and their weights per intent.
BUCKETS = ((1, 3), (4, 12), (13, 60), (60, 330))
BUCKET_CUM = {
    "summarize": cumulative((0.12, 0.43, 0.3, 0.15)),
    "transform": cumulative((0.45, 0.4, 0.12, 0.03)),
    "classify": cumulative((0.6, 0.3, 0.08, 0.02)),
    "review_policy": cumulative((0.28, 0.4, 0.22, 0.1)),
    "plan": cumulative((0.4, 0.45, 0.12, 0.03)),
    "generate_code": cumulative((0.5, 0.4, 0.1, 0.0)),
    "chat": cumulative((0.6, 0.35, 0.05, 0.0)),
}
THINGS = {
    "email": ("email", "message", "note", "mail"),
    "thread": ("thread", "Slack thread", "conversation", "chat"),
    "notes": ("meeting notes", "notes", "minutes"),
    "transcript": ("call transcript", "transcript", "conversation"),
    "contract": ("clause", "contract section", "terms", "agreement"),
    "bullets": ("list", "notes", "points"),
    "review": ("review", "customer review", "feedback", "comment"),
    "table": ("table", "CSV", "data", "spreadsheet"),
    "code": ("code", "function", "snippet", "script"),
    "logs": ("logs", "log excerpt", "error log"),
}
REF_FIRST = (
    "the following {thing}",
    "this {thing}",
    "the {thing} below",
    "this",
    "the text below",
    "this {thing} from {person}",
    "my {thing}",
    "the {thing}",
)
REF_LAST = ("the {thing} above", "this {thing}", "this", "that", "the above", "the {thing}")
SEP_FIRST = ("\n\n", ":\n\n", "\n\n---\n", "\n", '\n\n"""\n', "\n\nText:\n")
TONE2 = ("friendly", "formal", "apologetic", "neutral", "firm but polite", "warm")
STRUCTURED_FAMILIES = (
    "extract_struct",
    "reformat",
    "batch",
    "tagging",
    "pick_label",
    "triage",
    "yes_no",
)


@dataclass(frozen=True, slots=True)
class TextSample:
    """One request text with its ground truth and how it was composed (for slicing and tests).

    Latent difficulty is not read from these traits but from the text itself (difficulty.py).
    """

    text: str
    intent: str
    domain: str
    template: str
    language: str
    risk: str
    safety_flags: tuple[str, ...]
    register: str
    words: int
    hard: bool
    structured: bool
    has_content: bool


def _label_list(rng: random.Random, labels: tuple[str, ...]) -> str:
    style = rng.random()
    if style < 0.35:
        return ", ".join(labels[:-1]) + " or " + labels[-1]
    if style < 0.55:
        return " / ".join(labels)
    if style < 0.7:
        return "[" + ", ".join(labels) + "]"
    if style < 0.85:
        return ", ".join(f"'{x}'" for x in labels)
    return "|".join(labels)


class TextSampler:
    """Draws request texts; one instance per generator run (it caches slot tables and pools)."""

    def __init__(
        self, nonenglish_rate: float = 0.05, hard_rate: float = 0.14, max_words: int = 4000
    ) -> None:
        self.nonenglish_rate = nonenglish_rate
        self.hard_rate = hard_rate
        self.max_sentences = max(3, max_words // 12)
        self.composer = Composer()
        self._slots: dict[tuple[str, str], dict] = {}
        self._genre_cum = {
            k: ([g for g, _ in v], cumulative([w for _, w in v])) for k, v in GENRES.items()
        }

    def slots(self, domain: Domain, lang: str) -> dict:
        key = (domain.name, lang)
        table = self._slots.get(key)
        if table is None:
            table = dict(self.composer.slots(domain))
            table.update(misc_slots())
            d = domain
            table.update(
                {
                    "labels": lambda r: _label_list(r, pick(r, d.label_sets)),
                    "policy": lambda r: pick(r, d.policies),
                    "records": d.records,
                    "record": d.records.rstrip("s"),
                    "field1": lambda r: pick(r, d.fields).replace("_", " "),
                    "field2": lambda r: pick(r, d.fields).replace("_", " "),
                    "fields": lambda r: ", ".join(
                        r.sample(d.fields, min(len(d.fields), ri(r, 2, 4)))
                    ),
                    "task": lambda r: render(pick(r, d.tasks), r, table),
                    "dquestion": lambda r: render(pick(r, d.questions), r, table),
                    "question": lambda r: (
                        render(pick(r, d.questions), r, table)
                        if r.random() < 0.5
                        else pick(r, GENERAL_Q)
                    ),
                    "code_task": lambda r: code_task(r, d.records, d.fields),
                    "tone2": lambda r: pick(r, TONE2),
                    "forbidden": sensitive.forbidden_request,
                    "dname": {"hr": "HR", "general": "admin", "ops": "operations"}.get(
                        d.name, d.name
                    ),
                }
            )
            for name, values in i18n.FILL.get(lang, {}).items():
                table[name] = lambda r, v=values: pick(r, v).replace("{n}", str(ri(r, 2, 9)))
            self._slots[key] = table
        return table

    def _family(self, rng: random.Random, intent: str, domain: Domain, lang: str) -> Family:
        if lang != "en":
            options = tuple(f for f in i18n.FRAMES[lang] if f.intent == intent)
            if options:
                return pick(rng, options)
        if (
            intent in ("chat", "plan")
            and domain.name in ("finance", "health", "insurance")
            and rng.random() < 0.15
        ):
            return ADVICE[0] if intent == "chat" else ADVICE[1]
        hard = HARD_FAMILIES.get(intent, ())
        if hard and rng.random() < self.hard_rate:
            return pick(rng, hard)
        return pick(rng, FAMILIES[intent])

    def sample(self, rng: random.Random, intent: str, domain_name: str) -> TextSample:
        """Draw one text of `intent` about `domain_name`."""
        domain = DOMAINS[domain_name]
        lang = pick(rng, i18n.LANGS) if rng.random() < self.nonenglish_rate else "en"
        family = self._family(rng, intent, domain, lang)
        template = pick(rng, family.templates)
        is_fixed = template.startswith("!")
        if is_fixed:
            template = template[1:]
        inline = "{content}" in template
        want = family.content
        has_content = inline or want == "yes" or (want == "maybe" and rng.random() < 0.5)
        if "{doc}" in template or "{doc_cap}" in template:
            has_content = has_content or want != "no"
        slots = self.slots(domain, lang)
        topic, stakes = pick(rng, domain.topics)
        flags: list[str] = []
        content, thing, genre = "", pick(rng, domain.things), ""
        if has_content:
            content, thing, genre = self._content(rng, intent, family, domain, lang, topic, flags)
        position = (
            "inline" if inline else ("none" if not has_content else self._position(rng, content))
        )
        memo = {"topic": topic, "thing": thing, "content": content}
        if lang != "en":
            ref = pick(rng, i18n.DOC_REF[lang])
        elif position == "none":
            ref = (
                render("the [attached|uploaded] {thing}", rng, slots, memo)
                if family.content != "no"
                else thing
            )
        else:
            ref = render(
                pick(rng, REF_FIRST if position == "first" else REF_LAST), rng, slots, memo
            )
        memo["doc"] = ref
        memo["doc_cap"] = ref[:1].upper() + ref[1:]
        register = pick_register(rng)
        body = render(template, rng, slots, memo)
        if inline:
            head, _, tail = body.partition(content)
            instr = (
                noisy(fixed(head, register, rng, slots), register, rng) + content + tail
                if head
                else body
            )
        else:
            instr = (
                fixed(body, register, rng, slots) if is_fixed else wrap(body, register, rng, slots)
            )
            instr = noisy(instr, register, rng) if lang == "en" or rng.random() < 0.3 else instr
        if "{forbidden}" in template or family.name == "personal_advice":
            flags.append("forbidden_advice")
        if not has_content and intent in ("chat", "plan") and rng.random() < domain.pii_rate * 0.3:
            instr = f"{instr} {sensitive.pii_sentence(rng)}"
            flags.append("pii")
        text = self._arrange(rng, instr, content, position, thing, slots)
        flags = sorted(set(flags))
        risk = self._risk(intent, domain, family, topic, stakes, text, flags, has_content)
        structured = family.name in STRUCTURED_FAMILIES or intent == "classify" or "JSON" in instr
        return TextSample(
            text=text,
            intent=intent,
            domain=domain.name,
            template=family.template_id,
            language=lang,
            risk=risk,
            safety_flags=tuple(flags),
            register=register,
            words=text.count(" ") + text.count("\n") + 1,
            hard=family.hard,
            structured=structured,
            has_content=has_content,
        )

    def _content(
        self,
        rng: random.Random,
        intent: str,
        family: Family,
        domain: Domain,
        lang: str,
        topic: str,
        flags: list[str],
    ) -> tuple[str, str, str]:
        names, cum = self._genre_cum[intent]
        genre = pick(rng, family.genres) if family.genres else weighted(rng, names, cum)
        if (
            genre == "code"
            and domain.name not in ("code", "data", "ops")
            and not family.genres
            and rng.random() < 0.6
        ):
            genre = "report"
        lo, hi = weighted(rng, BUCKETS, BUCKET_CUM[intent])
        k = min(ri(rng, lo, hi), self.max_sentences)
        if lang != "en" and rng.random() < 0.6 and genre not in ("code", "table", "logs"):
            s = self.slots(domain, lang)
            content = " ".join(
                render(pick(rng, i18n.CONTENT[lang]), rng, s) for _ in range(min(k, 8))
            )
            return content, "", "native"
        content = self.composer.content(rng, domain, genre, k, topic)
        extra: list[str] = []
        if genre not in ("code", "table", "logs"):
            if rng.random() < domain.pii_rate:
                extra.append(sensitive.pii_sentence(rng))
                flags.append("pii")
            if domain.name in ("health", "finance", "insurance") and rng.random() < 0.04:
                extra.append(sensitive.forbidden_sentence(rng))
                flags.append("forbidden_advice")
            p_reg = 0.45 if family.name == "claims_check" else 0.12
            if domain.name in ("marketing", "finance", "health") and rng.random() < p_reg:
                extra.append(sensitive.regulated_sentence(rng))
                flags.append("regulated_language")
        if extra:
            lines = content.split("\n")
            for sentence in extra:
                at = ri(rng, 0, len(lines))
                lines.insert(at, sentence)
            content = "\n".join(lines)
        thing = pick(rng, THINGS.get(genre) or domain.things + ("doc", "text", "document"))
        return content, thing, genre

    def _position(self, rng: random.Random, content: str) -> str:
        r = rng.random()
        if len(content) > 4000:
            return "first" if r < 0.5 else "last"
        return "first" if r < 0.6 else ("last" if r < 0.9 else "sandwich")

    def _arrange(
        self, rng: random.Random, instr: str, content: str, position: str, thing: str, slots: dict
    ) -> str:
        if position in ("none", "inline"):
            return instr
        if position == "last":
            return content + pick(rng, ("\n\n", "\n\n---\n", "\n", "\n\n")) + instr
        if position == "sandwich":
            lead = render(
                "[Here's|Here is|Pasting] [the|my] {thing}[:|.| -]",
                rng,
                slots,
                {"thing": thing or "text"},
            )
            return f"{lead}\n\n{content}\n\n{instr}"
        if len(content) < 200 and "\n" not in content and rng.random() < 0.4:
            return f'{instr.rstrip(":")} "{content}"'
        sep = pick(rng, SEP_FIRST)
        if instr[-1:] in ":?.!" and sep.startswith(":"):
            sep = sep[1:]
        tail = '\n"""' if '"""' in sep else ""
        return f"{instr}{sep}{content}{tail}"

    def _risk(
        self,
        intent: str,
        domain: Domain,
        family: Family,
        topic: str,
        stakes: int,
        text: str,
        flags: list[str],
        has_content: bool,
    ) -> str:
        if flags:
            return "high"
        present = stakes if topic in text else 0
        high_domain = domain.name in HIGH_STAKES_DOMAINS
        if present == 2 or (intent == "review_policy" and high_domain):
            return "high"
        if (
            present == 1
            or (high_domain and has_content)
            or domain.customer_facing >= 0.8
            or family.name == "reply_draft"
        ):
            return "medium"
        return "low"
