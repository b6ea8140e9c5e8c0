"""Request texts are varied the way real traffic is, and carry the hard cases and guard content."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from classifier.taxonomy import INTENTS
from data.generator.diversity import diversity
from data.generator.sensitive import iban_ok, luhn_ok
from data.generator.texts import DOMAINS, TextSampler

PER_INTENT = 400


@pytest.fixture(scope="module")
def stats() -> dict:
    return diversity(PER_INTENT, seed=4)


@pytest.fixture(scope="module")
def samples() -> list:
    sampler, rng = TextSampler(), random.Random(8)
    domains = tuple(DOMAINS)
    return [sampler.sample(rng, INTENTS[i % 7], rng.choice(domains)) for i in range(2800)]


@pytest.mark.parametrize("intent", INTENTS)
def test_texts_are_distinct_and_lexically_rich(stats: dict, intent: str) -> None:
    s = stats[intent]
    assert s["distinct_text_ratio"] >= 0.85, s
    assert s["distinct_trigrams"] >= 2500, s
    assert s["templates"] >= 8, s
    assert len(s["registers"]) == 6, s


def test_lengths_span_a_few_words_to_thousands(samples) -> None:
    words = [s.words for s in samples]
    assert min(words) <= 4
    assert max(words) >= 1500
    instruction_last = sum(
        1
        for s in samples
        if s.has_content and s.text.rstrip().endswith(("?", ".")) and s.words > 200
    )
    assert instruction_last > 0


def test_non_english_share_is_about_five_percent(samples) -> None:
    langs = Counter(s.language for s in samples)
    share = 1 - langs["en"] / len(samples)
    assert 0.025 < share < 0.09, langs
    assert {"es", "de", "fr", "pt"} <= set(langs)


def test_hard_cases_are_present(samples) -> None:
    hard = [s for s in samples if s.hard]
    assert 0.07 < len(hard) / len(samples) < 0.22
    intents_with_hard = {s.intent for s in hard}
    assert intents_with_hard == set(INTENTS)
    texts = " ".join(s.text.lower() for s in hard)
    assert "don't summarize" in texts or "not a tl;dr" in texts or "no summary needed" in texts
    code_summaries = [s for s in samples if s.template == "summarize.hard_code_summary"]
    assert code_summaries and all(s.intent == "summarize" for s in code_summaries)
    plan_word = [s for s in samples if s.template == "classify.hard_plan_word"]
    assert plan_word and any("plan" in s.text.lower() for s in plan_word)


def test_every_text_names_its_template_and_domain(samples) -> None:
    for s in samples:
        assert s.template.split(".")[0] == s.intent
        assert s.domain in DOMAINS
    assert len({s.domain for s in samples}) == len(DOMAINS)


def test_guard_content_is_flagged_and_well_formed(samples) -> None:
    flagged = Counter(f for s in samples for f in s.safety_flags)
    assert (
        flagged["pii"] > 50
        and flagged["forbidden_advice"] > 5
        and flagged["regulated_language"] > 5
    )
    assert all(s.risk == "high" for s in samples if s.safety_flags)
    iban_re = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
    ibans = [m for s in samples for m in iban_re.findall(s.text)]
    assert ibans and all(iban_ok(i) for i in ibans), [i for i in ibans if not iban_ok(i)]
    card_re = re.compile(r"(?<![\w-])\d{4}[ -]?\d{4,6}[ -]?\d{4,5}(?:[ -]?\d{4})?(?![\w-])")
    cards = [
        m
        for s in samples
        for m in card_re.findall(iban_re.sub(" ", s.text))
        if len(re.sub(r"\D", "", m)) in (15, 16)
    ]
    assert cards and all(luhn_ok(c) for c in cards), [c for c in cards if not luhn_ok(c)]


def test_risk_varies_within_intent(samples) -> None:
    for intent in INTENTS:
        risks = {s.risk for s in samples if s.intent == intent}
        assert len(risks) >= 2, (intent, risks)
