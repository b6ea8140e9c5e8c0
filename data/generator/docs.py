# ruff: noqa: E501  (vocabulary tables read better unwrapped)
"""Pasted content: emails, threads, notes, reports, tickets, transcripts, tables, code, logs.

A request's content is drawn in a genre that fits its intent and domain, at a target length of a
sentence to thousands of words. Long documents reuse a per-domain pool of rendered sentences so
that a 3,000-word paste costs list picks, not 250 template expansions.
"""

from __future__ import annotations

import random

from data.generator import common
from data.generator.code import fenced, snippet
from data.generator.domain import Domain
from data.generator.grammar import pick, render, ri

GENERIC = (
    "The team reviewed the numbers in detail and agreed to revisit them next week.",
    "Several open questions remain, mostly about ownership and timing.",
    "{first} will circulate an updated draft by {date}.",
    "Nobody objected to the proposal, but nobody signed off either.",
    "We should keep an eye on this over the coming weeks.",
    "There was a long discussion about priorities for the rest of the quarter.",
    "The previous approach worked, but it does not scale past {n} people.",
    "In short, the situation is better than last month but not yet where we want it.",
    "Feedback so far has been mixed, with strong opinions on both sides.",
    "{person} pointed out that we tried something similar in {city} two years ago.",
    "The deadline is tight but achievable if nothing else slips.",
    "Budget is not the main constraint here; people's time is.",
    "Everyone agreed the current process is too manual.",
    "We will share a summary with the wider group afterwards.",
    "It is still unclear who owns the follow-up.",
)
GREETING = ("Hi {first},", "Hello team,", "Dear {person},", "Hey all,", "Hi,", "Good morning {first},",
            "Dear Sir or Madam,", "Hi {first} and {first2},")
CLOSING = ("Best,", "Thanks,", "Kind regards,", "Cheers,", "Regards,", "Thank you,", "Speak soon,")
AGENT = ("Thanks for reaching out, let me look into that for you.", "Could you confirm the email on the account?",
         "I'm sorry to hear that.", "I've escalated this to our specialist team.",
         "Is there anything else I can help with today?", "Let me check the order status.",
         "I understand, that must be frustrating.", "I can offer a refund or a replacement.")
LOG_LEVEL = ("INFO", "WARN", "ERROR", "INFO", "DEBUG")
LOG_MSG = ("request completed in {n}{n2}ms", "retrying upstream call (attempt {n})",
           "connection reset by peer", "cache miss for key {first}", "queue depth {n}{n2}",
           "health check failed", "scaled to {n} replicas", "timeout after {n}000ms")


PROSE_SUBJ = ("The team", "{person}", "Our vendor", "The new process", "Management", "The pilot in {city}",
              "The client", "Finance", "The working group", "Legal", "{first}'s team", "The steering committee",
              "Nobody on the call", "The original proposal", "Our biggest customer", "The night shift")
PROSE_VERB = ("has raised concerns about", "is still waiting on", "wants to revisit", "signed off on",
              "pushed back on", "asked for more detail on", "will take ownership of", "underestimated",
              "flagged", "is comfortable with", "has not reviewed", "proposed changes to", "is blocked by",
              "needs a decision on", "keeps coming back to", "quietly dropped")
PROSE_OBJ = ("{topic}", "the timeline", "the budget", "the proposal", "the open action items",
             "the numbers from last quarter", "the rollout in {city}", "the second phase", "the latest draft",
             "the risks", "the handover", "the pricing change", "the staffing plan", "the vendor contract")
PROSE_TAIL = ("", "", "", " before {date}", " given the current workload", " after last week's discussion",
              ", which nobody expected", " for the third time", " until the numbers are final",
              " pending legal review", " at the next steering meeting", ", as far as I can tell",
              " without telling anyone", ", and that is fine for now")


def prose(rng: random.Random, domain: Domain, topic: str | None) -> str:
    """A connective business sentence; cheap, and different in most long documents."""
    def fill(part: str) -> str:
        if "{" not in part:
            return part
        return (part.replace("{person}", common.person(rng)).replace("{first}", common.first(rng))
                .replace("{city}", common.city(rng)).replace("{date}", common.date(rng))
                .replace("{topic}", topic or pick(rng, domain.topics)[0]))
    return (fill(pick(rng, PROSE_SUBJ)) + " " + pick(rng, PROSE_VERB) + " " + fill(pick(rng, PROSE_OBJ))
            + fill(pick(rng, PROSE_TAIL)) + ".")


class Composer:
    """Renders content for one generator run; holds per-domain slot tables and sentence pools."""

    POOL_SIZE = 160

    def __init__(self) -> None:
        self._slots: dict[str, dict] = {}
        self._pools: dict[str, list[str]] = {}

    def slots(self, domain: Domain) -> dict:
        table = self._slots.get(domain.name)
        if table is None:
            table = dict(common.COMMON_SLOTS)
            table["first2"] = common.first
            table["topic"] = lambda r, d=domain: pick(r, d.topics)[0]
            table["thing"] = lambda r, d=domain: pick(r, d.things)
            for key, values in domain.slots.items():
                table[key] = lambda r, v=values: pick(r, v)
            self._slots[domain.name] = table
        return table

    def sentence(self, rng: random.Random, domain: Domain, topic: str | None = None) -> str:
        r = rng.random()
        if r < 0.3:
            return prose(rng, domain, topic)
        memo = {"topic": topic} if topic else None
        template = pick(rng, domain.facts) if r < 0.88 else pick(rng, GENERIC)
        text = render(template, rng, self.slots(domain), memo)
        if rng.random() < 0.2 and template[0] != "{" and not text[:2].isupper():
            return pick(rng, common.CONNECTOR[3:]) + text[0].lower() + text[1:]
        return text

    def sentences(self, rng: random.Random, domain: Domain, k: int, topic: str | None) -> list[str]:
        if k <= 10:
            out: list[str] = []
            for _ in range(k):
                sent = self.sentence(rng, domain, topic)
                if sent not in out:
                    out.append(sent)
            return out
        pool = self._pools.get(domain.name)
        if pool is None:
            pool = [self.sentence(rng, domain) for _ in range(self.POOL_SIZE)]
            self._pools[domain.name] = pool
        out = [self.sentence(rng, domain, topic) for _ in range(6)]
        size = len(pool)
        while len(out) < k:
            start = int(rng.random() * size)
            out.extend(pool[start : start + 3 + int(rng.random() * 6)])
        return out[:k]

    def paragraphs(self, rng: random.Random, sents: list[str]) -> str:
        out, i = [], 0
        while i < len(sents):
            step = ri(rng, 2, 6)
            out.append(" ".join(sents[i : i + step]))
            i += step
        return "\n\n".join(out)

    def content(self, rng: random.Random, domain: Domain, genre: str, k: int,
                topic: str | None = None) -> str:
        """Render `k` sentences' worth of content in `genre` (see GENRES)."""
        s = self.slots(domain)
        if genre == "code":
            parts = []
            for _ in range(max(1, k // 8)):
                kind, code = snippet(rng)
                parts.append(fenced(rng, kind, code))
            return "\n\n".join(parts)
        if genre == "table":
            return self.table(rng, domain, max(3, k))
        if genre == "logs":
            lines = [f"2026-{ri(rng, 1, 12):02d}-{ri(rng, 1, 28):02d}T{ri(rng, 0, 23):02d}:"
                     f"{ri(rng, 0, 59):02d}:{ri(rng, 0, 59):02d}Z {pick(rng, LOG_LEVEL)} "
                     + render(pick(rng, LOG_MSG), rng, s) for _ in range(max(3, k))]
            return "\n".join(lines)
        sents = self.sentences(rng, domain, k, topic)
        if genre == "email":
            head = f"Subject: {render('{topic}', rng, s).capitalize()}\n\n" if rng.random() < 0.4 else ""
            return (f"{head}{render(pick(rng, GREETING), rng, s)}\n\n{self.paragraphs(rng, sents)}\n\n"
                    f"{pick(rng, CLOSING)}\n{common.person(rng)}")
        if genre == "thread":
            people = [common.first(rng) for _ in range(ri(rng, 2, 4))]
            stamp = rng.random() < 0.5
            return "\n".join(
                (f"[{9 + i // 6}:{(i * 7) % 60:02d}] " if stamp else "") + f"{people[i % len(people)]}: "
                + (x.lower().rstrip(".") if rng.random() < 0.4 else x) for i, x in enumerate(sents))
        if genre == "notes":
            head = f"{pick(rng, ('Meeting notes', 'Notes', 'Sync', 'Weekly', 'Call notes'))} - {common.date(rng)}"
            who = ", ".join(common.first(rng) for _ in range(ri(rng, 2, 5)))
            bullets = "\n".join(f"{pick(rng, ('-', '*', '•'))} {x}" for x in sents)
            return f"{head}\nAttendees: {who}\n\n{bullets}"
        if genre == "transcript":
            return "\n".join(f"Agent: {pick(rng, AGENT)}\nCustomer: {x}" for x in sents)
        if genre == "contract":
            return "\n".join(f"{i + 1}. {x}" for i, x in enumerate(sents))
        if genre == "bullets":
            return "\n".join(f"- {x}" for x in sents)
        if genre == "review":
            stars = "★" * ri(rng, 1, 5)
            return f"{stars}\n" + " ".join(sents) if rng.random() < 0.3 else " ".join(sents)
        if genre == "report" and k > 8:
            title = render(pick(rng, ("{Topic} - update", "Re: {topic}", "{Topic} review", "Status report: {topic}",
                                      "{org} / {topic}")), rng, {**s, "Topic": lambda r: s["topic"](r).capitalize()})
            return f"{title}\n\n{self.paragraphs(rng, sents)}"
        return " ".join(sents) if k <= 6 else self.paragraphs(rng, sents)

    def table(self, rng: random.Random, domain: Domain, rows: int) -> str:
        fields = domain.fields
        sep = pick(rng, (",", ",", "\t", " | ", ";"))
        lines = [sep.join(fields)]
        for _ in range(min(rows, 400)):
            lines.append(sep.join(self.cell(rng, f) for f in fields))
        return "\n".join(lines)

    def cell(self, rng: random.Random, field: str) -> str:
        if "date" in field or field in ("timestamp", "started_at"):
            return f"2026-{ri(rng, 1, 12):02d}-{ri(rng, 1, 28):02d}"
        if field in ("amount", "value", "price", "fare", "budget", "total"):
            return f"{ri(rng, 5, 9999)}.{ri(rng, 0, 99):02d}"
        if field in ("name", "traveler", "customer", "author", "owner", "manager", "provider", "party"):
            return common.person(rng)
        if field.endswith("_id") or field in ("sha", "sku", "policy_no"):
            return f"{field[:2].upper()}{ri(rng, 1000, 99999)}"
        if field in ("quantity", "score", "grade", "files_changed", "term"):
            return str(ri(rng, 1, 100))
        if field in ("origin", "destination", "country", "location", "governing_law"):
            return common.city(rng)
        return pick(rng, ("pending", "open", "closed", "n/a", "approved", "high", "low", "web", "mobile"))


# Genres that make sense per intent, with weights.
GENRES = {
    "summarize": (("email", 3), ("thread", 3), ("notes", 3), ("report", 4), ("transcript", 1),
                  ("contract", 1), ("code", 1), ("bullets", 1)),
    "transform": (("email", 4), ("report", 3), ("bullets", 2), ("review", 1), ("table", 1),
                  ("notes", 1), ("contract", 1), ("thread", 1)),
    "classify": (("review", 3), ("email", 3), ("report", 1), ("thread", 1), ("logs", 1), ("code", 1)),
    "plan": (("notes", 2), ("report", 2), ("bullets", 2), ("email", 1), ("table", 1)),
    "generate_code": (("code", 6), ("table", 1), ("logs", 1), ("report", 1)),
    "review_policy": (("contract", 3), ("report", 2), ("email", 2), ("review", 1), ("bullets", 1)),
    "chat": (("report", 2), ("email", 1), ("review", 1), ("thread", 1)),
}
