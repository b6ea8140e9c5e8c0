# ruff: noqa: E501  (vocabulary tables read better unwrapped)
"""Fillers for frames that are not tied to one domain: math, puzzles, concepts, actions."""

from __future__ import annotations

import random

from data.generator.common import CITY
from data.generator.grammar import pick, ri

CONCEPTS = (
    "inflation", "machine learning", "the blockchain", "compound interest", "photosynthesis",
    "a mortgage", "DNS", "quantum computing", "supply and demand", "the stock market", "a VPN",
    "climate change", "how airplanes fly", "the difference between weather and climate",
    "an API", "recursion", "the electoral college", "a credit score", "time zones", "entropy",
    "the placebo effect", "a Roth IRA", "containerization", "carbon offsets", "GDP",
)
THEMES = (
    "a cat who runs a bakery", "Mondays", "the ocean", "a robot learning to paint", "coffee",
    "autumn in {city}", "a lost umbrella", "friendship", "the last day of school", "a haunted printer",
    "spreadsheets", "a penguin on vacation", "the first snow", "deadlines", "a time-travelling intern",
)
OCCASIONS = (
    "a team offsite", "my sister's wedding", "a product launch party", "a retirement card",
    "a kids' birthday party", "a podcast about cooking", "a company hackathon", "a book club",
    "a coffee shop name", "a fantasy football team name", "a hiking trip", "a charity bake sale",
)
LIFE = (
    "public speaking", "time management", "staying focused", "giving feedback", "saying no at work",
    "sleeping better", "learning to cook", "networking", "burnout", "a difficult coworker",
    "job interviews", "saving money", "learning a language", "running a meeting",
)
SMALLTALK = (
    "how's your day going", "do you ever get bored", "good morning!", "what's up", "are you a robot",
    "I'm bored, entertain me", "thanks, that was helpful", "lol that's funny", "you're awesome",
    "what can you do", "who made you", "tell me something interesting",
)
GENERAL_Q = (
    "what's the tallest mountain in Europe", "why is the ocean salty", "who invented the telephone",
    "how far is the moon", "what should I watch tonight", "is it going to be a cold winter",
    "how many languages are there in the world", "what's the best way to learn guitar",
    "why do we dream", "what's a good name for a goldfish", "how does a rainbow form",
)
ACTIONS = (
    "email customers who unsubscribed last year", "share a patient's test results with their employer",
    "store full credit card numbers in the CRM", "use customer photos in our ads",
    "record sales calls without telling the customer", "keep rejected candidates' CVs for five years",
    "promise guaranteed returns in the newsletter", "ask candidates how old they are",
    "send our user list to a vendor in another country", "skip the second approval for refunds under $500",
    "edit customer reviews before posting them", "give a discount only to new customers in {city}",
    "text customers at 11pm about overdue invoices", "say our supplement boosts immunity",
    "let contractors access the production database", "post employee birthdays on the website",
    "reuse a competitor's slogan with small changes", "offer a loan without a credit check",
)
ACTORS = ("a manager", "HR", "support agents", "our marketing team", "a contractor", "the sales team")
SYMPTOMS = (
    "returns None", "hangs forever", "throws a KeyError", "is really slow on big inputs",
    "returns duplicates", "crashes on empty input", "gives the wrong total", "leaks memory",
    "fails only on CI", "breaks with unicode",
)
SHELL = (
    "find all files larger than 1GB", "kill whatever is running on port 8080",
    "rename every .jpeg to .jpg in a folder", "count lines in all python files",
    "tail the last 100 lines of a log and follow it", "compress a folder into a tar.gz",
    "list the 10 biggest directories", "replace foo with bar in every file recursively",
    "check which process is using the most memory", "download a file and verify its sha256",
)
GIT = ("undo my last commit but keep the changes", "squash my last 3 commits", "delete a remote branch",
       "see who changed a line", "move a commit to another branch", "remove a file from history")
REGEX = ("email addresses", "UK postcodes", "ISO dates", "US phone numbers", "hex colors", "IPv4 addresses",
         "order numbers like A-12345", "semantic versions")
PLANS = ("Basic, Pro or Enterprise", "monthly or annual", "starter, team or business", "free or paid")
PUZZLES = (
    "If all bloops are razzies and all razzies are lazzies, are all bloops definitely lazzies?",
    "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much is the ball?",
    "Three friends split a bill of {amount} but one pays double. How much does each pay?",
    "I have {n} meetings that each need a different room and only 3 rooms, each free for two slots. Can they all fit?",
    "Alice is older than Bob, Bob is older than Carol, Dan is younger than Carol. Who is second youngest?",
    "You have two ropes that each burn in an hour, unevenly. How do you measure 45 minutes?",
    "What is the next number: 2, 6, 12, 20, 30, ?",
)


def math_problem(rng: random.Random) -> str:
    a, b, c = ri(rng, 2, 90), ri(rng, 2, 60), ri(rng, 2, 12)
    forms = (
        f"A train travels {a * 10} km in {c} hours. How long does it take to travel {b * 10} km at the same speed?",
        f"If a subscription costs ${a} a month and rises {c}% a year, what does it cost after 3 years?",
        f"We have {a} engineers and each ships {c} tickets a week. How many weeks for {a * b} tickets?",
        f"Solve for x: {c}x + {a} = {a + c * b}",
        f"What is {a}% of {b * 100}, and what is that as a fraction?",
        f"A loan of ${a * 1000} at {c}% simple interest for {ri(rng, 2, 9)} years: total repaid?",
        f"If {a} people share {b} pizzas with 8 slices each, how many slices does each person get?",
        f"The probability of rain is {c * 5}% each day. What's the chance of at least one dry day in 3 days?",
    )
    return pick(rng, forms)


def math_question(rng: random.Random) -> str:
    a, b = ri(rng, 3, 40), ri(rng, 2, 9)
    return pick(rng, (
        f"how many {b}-person teams we can make from {a} people",
        f"the break-even point if fixed costs are ${a * 1000} and margin is ${b} per unit",
        f"the monthly payment on a ${a * 1000} loan over {b} years at 6%",
        f"how much we save if {a}% of {b * 100} tickets get deflected",
    ))


def misc_slots() -> dict:
    return {
        "concept": lambda r: pick(r, CONCEPTS),
        "theme": lambda r: pick(r, THEMES).replace("{city}", pick(r, CITY)),
        "occasion": lambda r: pick(r, OCCASIONS), "life_thing": lambda r: pick(r, LIFE),
        "smalltalk": lambda r: pick(r, SMALLTALK), "action": lambda r: pick(r, ACTIONS).replace("{city}", pick(r, CITY)),
        "actor": lambda r: pick(r, ACTORS), "symptom": lambda r: pick(r, SYMPTOMS),
        "shell_task": lambda r: pick(r, SHELL), "git_task": lambda r: pick(r, GIT),
        "regex_target": lambda r: pick(r, REGEX), "plans": lambda r: pick(r, PLANS),
        "puzzle": lambda r: pick(r, PUZZLES).replace("{amount}", f"${ri(r, 30, 400)}").replace(
            "{n}", str(ri(r, 4, 9))),
        "math": math_problem, "math_q": math_question, **CHAT_SLOTS,
    }

ACTIVITIES = (
    "learn to swim as an adult", "keep basil alive indoors", "make friends in a new city", "get my toddler to sleep",
    "clean a cast iron pan", "stay motivated to exercise", "write a wedding speech", "train my dog to stop barking",
    "learn to draw", "save for a trip to Japan", "fix a squeaky door", "start journaling", "meal prep for a week",
    "stop doomscrolling", "pick a good watermelon", "get better at small talk", "learn chess openings",
    "grow tomatoes on a balcony", "read more books", "wake up earlier", "learn to touch type", "brew better coffee",
    "plan a budget wedding", "get rid of fruit flies", "improve my handwriting", "start running",
)
CONSTRAINTS = (
    "I only have 20 minutes a day", "I'm on a tight budget", "I live in a small apartment", "I work night shifts",
    "I have two kids under five", "I'm a total beginner", "it's the middle of winter", "I travel a lot for work",
    "I'm over 60", "I keep giving up after a week",
)
MEDIA = ("book", "podcast", "documentary", "movie", "YouTube channel", "novel", "board game")
SUBJECTS = ("space", "the Roman empire", "cooking", "startups", "psychology", "ocean life", "jazz", "climate",
            "World War II", "philosophy", "mountaineering", "AI", "architecture", "mushrooms", "the brain")
CHAT_SLOTS = {
    "activity": lambda r: pick(r, ACTIVITIES), "constraint": lambda r: pick(r, CONSTRAINTS),
    "media": lambda r: pick(r, MEDIA), "subject": lambda r: pick(r, SUBJECTS),
}
