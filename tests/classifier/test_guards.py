"""Guards: each detector fires on what it is for and stays quiet on look-alikes."""

from __future__ import annotations

import re

import pytest

from classifier.guards import CLEAN, detector_names, iban_ok, luhn_ok, scan
from classifier.words import words_of

POSITIVES = [
    ("pii.email", "Please reply to jane.doe+billing@example.co.uk by Friday."),
    ("pii.email", "contact: OPS@corp-mail.io"),
    ("pii.phone", "Call me on +44 20 7946 0958 after six."),
    ("pii.phone", "My number is +49 30 901820."),
    ("pii.phone", "Reach the desk at 0033 1 70 18 99 00."),
    ("pii.phone", "US office: (415) 555-2671"),
    ("pii.phone", "cell 415-555-2671, text first"),
    ("pii.phone", "call +1 212.555.0199 tomorrow"),
    ("pii.card", "Card 4111 1111 1111 1111 exp 12/29"),
    ("pii.card", "charge 5500-0000-0000-0004 please"),
    ("pii.card", "amex 378282246310005"),
    ("pii.iban", "Wire it to GB82 WEST 1234 5698 7654 32 today."),
    ("pii.iban", "IBAN: DE89370400440532013000"),
    ("pii.ssn", "my SSN is 123-45-6789"),
    ("pii.ssn", "Social Security Number: 123456789"),
    ("pii.uk_nino", "NI number AB 12 34 56 C on the form"),
    ("pii.uk_nino", "nino=ab123456c"),
    ("forbidden_advice.investment", "Should I buy more Tesla stock before earnings?"),
    ("forbidden_advice.investment", "How much of my savings should I invest in an index fund?"),
    ("forbidden_advice.investment", "I want to put my 401k into bitcoin, is that smart?"),
    ("forbidden_advice.investment", "Which crypto should I buy this month?"),
    ("forbidden_advice.tax", "How can I avoid paying capital gains tax on my house sale?"),
    ("forbidden_advice.tax", "Can I deduct my dog as a business expense on my taxes?"),
    ("forbidden_advice.tax", "best way to hide income from the IRS"),
    ("forbidden_advice.medical_dosage", "How much ibuprofen should I give my 4 year old son?"),
    ("forbidden_advice.medical_dosage", "how many mg of melatonin can I take at once"),
    ("forbidden_advice.medical_dosage", "Should I double my dose of insulin tonight?"),
    ("forbidden_advice.medical_dosage", "what dosage of amoxicillin for my dog"),
    ("forbidden_advice.legal_strategy", "How can I win my custody case against my ex?"),
    ("forbidden_advice.legal_strategy", "Should I sue my landlord over the deposit?"),
    ("forbidden_advice.legal_strategy", "What should I tell the judge at my hearing?"),
    ("forbidden_advice.legal_strategy", "how do I beat a speeding ticket"),
    ("regulated_language.guaranteed_returns", "Write an ad: guaranteed 12% annual returns!"),
    ("regulated_language.guaranteed_returns", "Profits are guaranteed with our plan."),
    ("regulated_language.guaranteed_returns", "Double your money in 30 days."),
    ("regulated_language.risk_free", "A completely risk-free investment for retirees"),
    ("regulated_language.risk_free", "This is 100% risk free, sign up now"),
    ("regulated_language.medical_claim", "Our tea cures type 2 diabetes naturally."),
    ("regulated_language.medical_claim", "The first FDA-approved supplement for focus"),
    ("regulated_language.medical_claim", "clinically proven to reduce wrinkles"),
    (
        "regulated_language.credit_decision",
        "Decide whether to approve the loan for this applicant.",
    ),
    ("regulated_language.credit_decision", "Reject this mortgage application if income < 40k"),
    ("regulated_language.credit_decision", "Assess the creditworthiness of the customer below."),
]

NEGATIVES = [
    # Numbers that look like personal data but are not.
    "Order 4155552671 shipped on 2026-03-04.",
    "Your order number is #415-555-2671.",
    "Invoice 1234567890123456 is overdue",  # 16 digits, fails Luhn
    "ticket 4111 1111 1111 1112 was duplicated",  # Visa-shaped, fails Luhn
    "Tracking: 1Z999AA10123456784",
    "Version 10.2.33.4455 released",
    "GB82 WEST 1234 5698 7654 33",  # IBAN shape, wrong mod-97
    "The build id is 000-12-3456",  # not a valid SSN area
    "call extension 4521",
    "NI number QQ 12 34 56 C",  # Q is never a NINO's first letter
    "Meeting at 10:30-11:45 in room 2.14",
    "email me later, not now",  # no address
    "The results were in 2024 and 2025: 1.2% then 3.4%",
    # Topics, not personalised advice or claims.
    "Summarize this article about stock market trends in 2025.",
    "Translate: the tax office is closed on Monday.",
    "Write a python function that computes compound interest.",
    "Summarize the dosage section of this medication leaflet for pharmacists.",
    "Classify this ticket: the login page throws a 500 error.",
    "Explain the risk-free rate used in the CAPM formula.",
    "Let the epoxy cure overnight before sanding.",
    "Draft a reply: we guarantee delivery within two days.",
    "How can I win more customers with better onboarding?",
    "The credit card on file expired; ask the customer to update it.",
    "The court case summary is attached; condense it to five bullets.",
    "Plan a team offsite for 12 people in Lisbon.",
]


@pytest.mark.parametrize(("detector", "text"), POSITIVES)
def test_detector_fires(detector: str, text: str) -> None:
    result = scan(text)
    assert detector in result.detectors, result
    assert result.risk_floor == "high"
    assert detector.split(".")[0] in result.flags


@pytest.mark.parametrize("text", NEGATIVES)
def test_lookalikes_are_clean(text: str) -> None:
    result = scan(text)
    assert result.clean, result
    assert result is CLEAN
    assert result.risk_floor == "low"


def test_every_detector_has_a_positive_example() -> None:
    assert {name for name, _ in POSITIVES} == set(detector_names())


def test_several_detectors_are_all_named_in_a_stable_order() -> None:
    text = (
        "Customer bob@example.com (card 4111-1111-1111-1111) asks: should I invest in gold? "
        "Our flyer says guaranteed returns."
    )
    result = scan(text)
    assert result.detectors == (
        "pii.email",
        "pii.card",
        "forbidden_advice.investment",
        "regulated_language.guaranteed_returns",
    )
    assert result.flags == ("pii", "forbidden_advice", "regulated_language")


def test_pii_in_the_tail_of_a_long_text_is_found() -> None:
    text = "lorem ipsum " * 5000 + " reach me at someone@example.org"
    assert scan(text).detectors == ("pii.email",)


def test_luhn_and_iban_checksums() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert luhn_ok("79927398713")
    assert iban_ok("GB82WEST12345698765432")
    assert iban_ok("gb82 west 1234 5698 7654 32")
    assert not iban_ok("GB82WEST12345698765433")
    assert not iban_ok("GB82")


def test_result_serialises() -> None:
    assert scan("x@y.io is mine").to_dict() == {
        "detectors": ["pii.email"],
        "flags": ["pii"],
        "risk_floor": "high",
    }


@pytest.mark.parametrize(
    "text",
    [
        "plain words, with punctuation: (sql/regex) & trade-off_x!",
        "tabs\tand\nnewlines\x00nul \x7f del",
        "naïve café “quoted” — dash 東京 tokens",
        "",
    ],
)
def test_fast_word_split_equals_the_regex(text: str) -> None:
    assert words_of(text) == frozenset(re.findall(r"\w+", text))


def test_non_ascii_text_still_scanned() -> None:
    assert (
        "forbidden_advice.investment" in scan("“Should I buy more bitcoin?” — asked José").detectors
    )


def test_fast_luhn_agrees_with_stdnum() -> None:
    from stdnum import luhn

    for number in ("4111111111111111", "4111111111111112", "79927398713", "378282246310005"):
        for variant in (number, number[:-1], number[1:]):
            assert luhn_ok(variant) == luhn.is_valid(variant), variant
