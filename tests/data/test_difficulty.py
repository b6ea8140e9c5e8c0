"""Latent difficulty follows what the text shows: each property, alone, makes a request harder."""

from __future__ import annotations

import random
import time

import pytest

from classifier.taxonomy import RISKS, TIERS
from data.generator.difficulty import (
    NOISE_SD,
    THRESHOLDS,
    contributions,
    difficulty,
    latent,
    tier_ok,
)
from data.generator.language import guess_language
from data.generator.textprops import TextProps, text_props

BASE = "Write a note to the team about the new office hours."
FILLER = "The garden has green trees and a quiet bench by the pond. "
CODE_LINE = "    total = compute(x)\n"

# property -> (TextProps field, texts that add more and more of it to BASE, its difficulty term)
LADDERS: dict[str, tuple[str, list[str], str]] = {
    "input size": (
        "words",
        [BASE, BASE + " " + FILLER * 3, BASE + " " + FILLER * 30, BASE + " " + FILLER * 200],
        "length",
    ),
    "steps": (
        "steps",
        [
            BASE,
            BASE + " Compare the options.",
            BASE + " Compare the options and explain why.",
            BASE + " Compare the options, explain why, then plan the rollout step by step.",
        ],
        "steps",
    ),
    "numbers": (
        "numbers",
        [
            BASE,
            BASE + " We have 12 rooms.",
            BASE + " We have 12 rooms, 40 desks and 3 floors.",
            BASE + " We have 12 rooms, 40 desks, 3 floors, 150 staff, 2 shifts, 7 teams, 5 days.",
        ],
        "numbers",
    ),
    "arithmetic": (
        "arithmetic",
        [
            BASE,
            BASE + " How many desks is that?",
            BASE + " How many desks is that in total?",
            BASE + " How many desks is that in total, and the average per floor if 36 / 4 = 9?",
        ],
        "arithmetic",
    ),
    "constraints": (
        "constraints",
        [
            BASE,
            BASE + " It must mention parking.",
            BASE + " It must mention parking and include at least two examples.",
            BASE + " It must mention parking, include at least two examples, use no more than "
            "three links and do not name anyone.",
        ],
        "constraints",
    ),
    "requested output length": (
        "output_length",
        [
            BASE + " Answer in one line.",
            BASE,
            BASE + " Make it detailed.",
            BASE + " Make it a detailed essay of 2000 words.",
        ],
        "output_length",
    ),
    "structured output": (
        "structure",
        [BASE, BASE + " Return JSON.", BASE + " Return JSON and a markdown table."],
        "structure",
    ),
    "specialist terms": (
        "specialist",
        [
            BASE,
            BASE + " Mention the lease.",
            BASE + " Mention the lease, the tenant and the liability clause.",
            BASE + " Mention the lease, tenant, liability clause, HIPAA, EBITDA and patients.",
        ],
        "specialist",
    ),
    "code": (
        "code_lines",
        [
            BASE,
            BASE + "\n\n" + CODE_LINE,
            BASE + "\n\n```python\ndef f(x):\n" + CODE_LINE * 3 + "    return total\n```\n",
            BASE + "\n\n```python\ndef f(x):\n" + CODE_LINE * 40 + "    return total\n```\n",
        ],
        "code",
    ),
    "ambiguity": (
        "ambiguity",
        ["what about the lisbon office we visited?", "what about that thing we talked about?"],
        "ambiguity",
    ),
    "language": (
        "language",
        [
            "Write a short note to the team about the new office hours, please.",
            "Escribe una nota corta para el equipo sobre el nuevo horario de la oficina, porfa.",
        ],
        "non_english",
    ),
}


def _measure(props: TextProps, field: str) -> float:
    value = getattr(props, field)
    return float(value != "en") if field == "language" else float(value)


@pytest.mark.parametrize("name", sorted(LADDERS))
def test_difficulty_rises_with_each_property(name: str) -> None:
    field, texts, term = LADDERS[name]
    props = [text_props(t) for t in texts]
    measured = [_measure(p, field) for p in props]
    assert measured == sorted(measured) and measured[0] < measured[-1], (name, measured)
    shares = [contributions(p)[term] for p in props]
    assert shares == sorted(shares) and shares[0] < shares[-1], (name, shares)
    for intent in ("chat", "plan"):
        for risk in RISKS:
            d = [latent(p, intent, risk) for p in props]
            assert all(b >= a for a, b in zip(d, d[1:], strict=False)), (name, intent, d)
            assert d[-1] > d[0], (name, intent, d)


def test_risk_and_intent_are_secondary_terms() -> None:
    props = text_props(BASE)
    by_risk = [latent(props, "chat", r) for r in RISKS]
    assert by_risk == sorted(by_risk) and by_risk[0] < by_risk[-1]
    assert latent(props, "review_policy", "low") > latent(props, "classify", "low")
    # a text that shows more is harder than the intent alone can make a plain one
    heavy = text_props(LADDERS["code"][1][-1] + LADDERS["steps"][1][-1][len(BASE) :])
    assert latent(heavy, "classify", "low") > latent(props, "review_policy", "low")


def test_tier_truth_is_monotone_and_noise_is_centred() -> None:
    for d in [x / 100 for x in range(-50, 150)]:
        ok = [tier_ok(d)[t] for t in TIERS]
        assert ok == sorted(ok), d  # False..False True..True
    rng = random.Random(3)
    base = latent(text_props(BASE), "chat", "low")
    draws = [difficulty(BASE, "chat", "low", rng) - base for _ in range(4000)]
    mean = sum(draws) / len(draws)
    sd = (sum((x - mean) ** 2 for x in draws) / len(draws)) ** 0.5
    assert abs(mean) < 0.01 and abs(sd - NOISE_SD) < 0.01
    assert THRESHOLDS["nano"] < THRESHOLDS["mini"] < THRESHOLDS["full"]


def test_language_guess_catches_instructions_at_either_end() -> None:
    english = "Thanks for the update, the numbers look fine to me.\n\n"
    assert guess_language("Summarize this thread for the weekly update please.") == "en"
    assert guess_language("¿Me puedes resumir este correo, por favor?") == "es"
    assert guess_language(english * 20 + "Fasse den folgenden Text bitte kurz zusammen") == "de"
    assert guess_language("이 문서를 요약해 주세요") == "ko"
    # letters alone are a name, not a language
    assert guess_language("Order shipped to São Paulo on Monday, please confirm.") == "en"


def test_text_props_is_linear_on_hostile_input() -> None:
    start = time.perf_counter()
    for text in ("a " * 100_000, "1+" * 100_000, "\n- " * 50_000, "(" * 200_000, "ß" * 100_000):
        text_props(text)
    assert time.perf_counter() - start < 3.0  # backtracking would take minutes
