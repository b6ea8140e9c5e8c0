# ruff: noqa: E501  (vocabulary tables read better unwrapped)
"""Cross-domain fillers: people, organisations, numbers, dates, audiences, formats.

Slot fillers are functions of the rng so that every text draws fresh values; the lists are long
enough that names and numbers rarely repeat within a few thousand texts.
"""

from __future__ import annotations

import random

from data.generator.grammar import pick, ri

FIRST = (
    "Maria", "James", "Priya", "Chen", "Olusegun", "Sofia", "Lukas", "Aisha", "Mateo", "Hannah",
    "Kenji", "Fatima", "Noah", "Elena", "Dmitri", "Grace", "Omar", "Ines", "Tomasz", "Yuki",
    "Daniel", "Leila", "Marcus", "Ana", "Rahul", "Zoe", "Pedro", "Amara", "Felix", "Sara",
    "Jonas", "Mei", "Carlos", "Nadia", "Ben", "Chloe", "Arjun", "Lena", "Victor", "Isabel",
    "Tariq", "Emma", "Hugo", "Keisha", "Ravi", "Julia", "Sven", "Aylin", "Diego", "Ruth",
)
LAST = (
    "Garcia", "Smith", "Patel", "Wang", "Adeyemi", "Rossi", "Becker", "Khan", "Lopez", "Novak",
    "Tanaka", "Haddad", "Johnson", "Petrova", "Ivanov", "Okafor", "Silva", "Moreau", "Kowalski",
    "Sato", "Cohen", "Nguyen", "Brown", "Fischer", "Mendes", "Larsen", "Dubois", "Murphy",
    "Schmidt", "Ali", "Kim", "Rahman", "Costa", "Weber", "Jensen", "Sharma", "O'Brien", "Yilmaz",
)
ORG = (
    "Northwind", "Acme Corp", "Globex", "Initech", "Umbrella Health", "Blue Harbor Bank",
    "Brightline Logistics", "Kestrel Labs", "Juniper Retail", "Orbital Foods", "Tallis & Wren LLP",
    "Meridian Travel", "Papercut Studio", "Halcyon Insurance", "Redwood Analytics", "Vantage HR",
    "Cobalt Systems", "Fernhill School District", "Lumen Pharma", "Quarry Street Capital",
    "Atlas Freight", "Sunbeam Energy", "Helix Biotech", "Pinecrest Clinic", "Nimbus Cloud",
    "Riverbend Properties", "Saffron Hotels", "Stonegate Legal", "Tidewater Ports", "Willow Learning",
)
PRODUCT = (
    "the mobile app", "the Pro plan", "our checkout page", "the onboarding flow", "the API",
    "the analytics dashboard", "the starter kit", "the premium subscription", "the billing portal",
    "the desktop client", "the loyalty program", "version 4.2", "the smart thermostat",
    "the booking widget", "the invoicing module", "the reporting add-on", "the SSO integration",
    "the gift card", "the family plan", "the enterprise tier", "the search feature",
)
CITY = (
    "Lisbon", "Chicago", "Berlin", "Nairobi", "Toronto", "Singapore", "Madrid", "Austin", "Leeds",
    "Osaka", "Lyon", "Denver", "São Paulo", "Dublin", "Warsaw", "Melbourne", "Seattle", "Munich",
    "Cape Town", "Manchester", "Bogotá", "Rotterdam", "Phoenix", "Edinburgh",
)
MONTH = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
WEEKDAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
AUDIENCE = (
    "my manager", "the exec team", "a new hire", "a 10 year old", "non-technical stakeholders",
    "the board", "customers", "the engineering team", "our legal team", "investors",
    "the support team", "a busy VP", "the whole company", "my team's Slack channel", "a client",
)
TONE = (
    "more formal", "friendlier", "more concise", "more confident", "less aggressive",
    "more professional", "warmer", "more neutral", "more persuasive", "plainer", "more polite",
    "less salesy", "more empathetic", "more casual",
)
FORMAT = (
    "JSON", "a markdown table", "a CSV", "YAML", "a bulleted list", "a numbered list",
    "key: value pairs", "a JSON array", "an HTML table",
)
TARGET_LANG = (
    "Spanish", "German", "French", "Portuguese", "Japanese", "Italian", "Dutch", "Polish",
    "Korean", "Turkish", "Brazilian Portuguese", "simplified Chinese", "Hindi", "Arabic",
)
PLANG = ("Python", "TypeScript", "JavaScript", "Go", "Rust", "Java", "C#", "Bash", "SQL", "Kotlin")
CONNECTOR = (
    "", "", "", "Also, ", "However, ", "As discussed, ", "Separately, ", "For context, ",
    "To be clear, ", "In addition, ", "Note that ", "Unfortunately, ", "On top of that, ",
)


def person(rng: random.Random) -> str:
    return f"{pick(rng, FIRST)} {pick(rng, LAST)}"


def first(rng: random.Random) -> str:
    return pick(rng, FIRST)


def org(rng: random.Random) -> str:
    return pick(rng, ORG)


def product(rng: random.Random) -> str:
    return pick(rng, PRODUCT)


def city(rng: random.Random) -> str:
    return pick(rng, CITY)


def amount(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return f"${ri(rng, 12, 990)}.{ri(rng, 0, 99):02d}"
    if kind < 0.7:
        return f"${ri(rng, 1, 950):,}{pick(rng, (',000', 'k', ',500', '', ''))}"
    if kind < 0.85:
        return f"€{ri(rng, 2, 480) * 50:,}"
    return f"£{ri(rng, 1, 300) * 25:,}"


def date(rng: random.Random) -> str:
    style = rng.random()
    day = ri(rng, 1, 28)
    month = ri(rng, 1, 12)
    if style < 0.35:
        return f"{MONTH[month - 1]} {day}"
    if style < 0.55:
        return f"2026-{month:02d}-{day:02d}"
    if style < 0.75:
        return f"{day}/{month}/2026"
    if style < 0.9:
        return f"next {pick(rng, WEEKDAY)}"
    return f"end of {pick(rng, ('Q1', 'Q2', 'Q3', 'Q4', 'the month', 'the week', 'the sprint'))}"


def number(rng: random.Random) -> str:
    return str(pick(rng, (2, 3, 3, 4, 5, 5, 6, 7, 8, 10, 12, 14, 15, 20, 30, 45, 60, 90)))


def pct(rng: random.Random) -> str:
    return f"{ri(rng, 2, 95)}%" if rng.random() < 0.8 else f"{ri(rng, 1, 99)}.{ri(rng, 0, 9)}%"


def words(rng: random.Random) -> str:
    return str(pick(rng, (30, 50, 50, 80, 100, 100, 120, 150, 200, 250, 300)))


COMMON_SLOTS = {
    "person": person, "person2": person, "first": first, "last": lambda r: pick(r, LAST), "org": org, "org2": org,
    "product": product, "city": city, "amount": amount, "amount2": amount, "date": date,
    "date2": date, "n": number, "n2": number, "pct": pct, "words": words,
    "audience": lambda r: pick(r, AUDIENCE), "tone": lambda r: pick(r, TONE),
    "format": lambda r: pick(r, FORMAT), "lang": lambda r: pick(r, TARGET_LANG),
    "plang": lambda r: pick(r, PLANG),
    "order": lambda r: f"#{ri(r, 10000, 999999)}",
}
