# ruff: noqa: E501  (vocabulary tables read better unwrapped)
"""Register and noise: the same request typed by a busy engineer, a polite customer, a rambler.

`wrap` turns a verb-phrase frame into an utterance in one register; `noisy` adds what real
keyboards add (typos, lost capitals, missing punctuation, chat abbreviations). Noise touches the
instruction, not the pasted content, as it does when people paste a document and type a line.
"""

from __future__ import annotations

import random

from data.generator.grammar import cumulative, pick, render, ri, weighted

REGISTERS = ("imperative", "polite", "question", "terse", "chat", "rambling")
REGISTER_CUM = cumulative((0.27, 0.2, 0.2, 0.12, 0.13, 0.08))

WRAPS = {
    "imperative": ("{Vp}.", "{Vp}", "{Vp}:", "{Vp}. Thanks.", "I need you to {vp}.", "Task: {vp}.", "{Vp} for me."),
    "polite": ("Please {vp}.", "Could you please {vp}?", "Hi! Could you {vp}? Thank you!",
               "I'd [really |]appreciate it if you could {vp}.", "Would you be able to {vp}? Thanks in advance.",
               "Hello, please {vp}. Many thanks.", "Kindly {vp}.", "Hi there, would you mind if I asked you to {vp}?",
               "Good morning! When you have a moment, please {vp}."),
    "question": ("Can you {vp}?", "Could you {vp}?", "Any chance you could {vp}?", "Is it possible to {vp}?",
                 "Would you {vp}?", "Are you able to {vp}?", "Can you help me {vp}?", "How quickly can you {vp}?"),
    "terse": ("{vp}", "{vp} pls", "pls {vp}", "{vp}!", "{vp} asap", "{vp} - short"),
    "chat": ("hey can u {vp} pls", "yo {vp}", "{vp} pls thx", "hiii, {vp}? 🙏", "ok so {vp}", "can u {vp} real quick",
             "hey! {vp} :)", "{vp} plz", "hmm can you {vp}"),
}
PREAMBLES = (
    "So I just got this from {person} and honestly I'm not sure what to make of it.",
    "Long day, bear with me.", "Okay, this is a bit of a mess, sorry in advance.",
    "My manager asked me to deal with this before {date} and I'm running out of time.",
    "I'm not a native speaker so sorry for any mistakes.", "This is for a project at {org}.",
    "Context: I work in {dname} at a mid-sized company and this landed on my desk.",
    "I've been going back and forth on this all morning.", "Not sure if this is the right place to ask, but",
    "Quick background: we're a small team and nobody owns this.", "Following up on what we discussed earlier -",
    "Ugh, Mondays.", "I tried doing this myself and it took forever, so",
)
AFTERTHOUGHTS = (
    "Thanks so much in advance!", "Let me know if anything is unclear.", "No rush, but today would be ideal.",
    "You're a lifesaver.", "Sorry if this is a dumb question.", "I owe you one.", "Appreciate it!",
    "If you need more context just ask.", "Honestly whatever you think is best.", "Thx!!",
)
ABBREV = ((" you ", " u "), (" please", " pls"), (" thanks", " thx"), (" are ", " r "), (" because ", " bc "),
          (" with ", " w/ "), (" before ", " b4 "), (" tomorrow", " tmrw"), (" really ", " rly "))
KEYS = "qwertyuiopasdfghjklzxcvbnm"


def pick_register(rng: random.Random) -> str:
    return weighted(rng, REGISTERS, REGISTER_CUM)


def wrap(vp: str, register: str, rng: random.Random, slots: dict) -> str:
    """Turn a verb phrase into an utterance in `register`."""
    if register == "rambling":
        inner = wrap(vp, pick(rng, ("polite", "question", "imperative")), rng, slots)
        pre = render(pick(rng, PREAMBLES), rng, slots)
        post = " " + pick(rng, AFTERTHOUGHTS) if rng.random() < 0.6 else ""
        return f"{pre} {inner}{post}"
    return render(pick(rng, WRAPS[register]), rng, {"vp": vp, "Vp": vp[:1].upper() + vp[1:]})


def fixed(utterance: str, register: str, rng: random.Random, slots: dict) -> str:
    """Complete utterances keep their words; register still shows in casing and extras."""
    out = utterance[:1].upper() + utterance[1:] if register in ("polite", "imperative", "question") else utterance
    if register == "polite" and rng.random() < 0.5:
        lead = pick(rng, ("Hi, ", "Hello! ", "Hi there - ", ""))
        if lead and not out.startswith(("I ", "I'")):
            out = out[:1].lower() + out[1:]
        out = lead + out + pick(rng, (" Thanks!", " Thank you.", ""))
    elif register == "rambling":
        out = render(pick(rng, PREAMBLES), rng, slots) + " " + out
        if rng.random() < 0.5:
            out += " " + pick(rng, AFTERTHOUGHTS)
    elif register == "chat" and rng.random() < 0.5:
        out = pick(rng, ("hey ", "yo ", "ok ", "hi! ")) + out.lower()
    return out


def typo(word: str, rng: random.Random) -> str:
    i = ri(rng, 1, len(word) - 2)
    kind = rng.random()
    if kind < 0.3:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 0.55:
        return word[:i] + word[i + 1 :]
    if kind < 0.75:
        return word[:i] + word[i] + word[i:]
    return word[:i] + pick(rng, KEYS) + word[i + 1 :]


def noisy(text: str, register: str, rng: random.Random) -> str:
    """Keyboard noise, heavier in terse and chat registers. Leaves short texts readable."""
    informal = register in ("terse", "chat")
    p_typo = 0.35 if informal else 0.12
    if rng.random() < p_typo:
        toks = text.split(" ")
        for _ in range(ri(rng, 1, 3)):
            j = rng.randrange(len(toks))
            if len(toks[j]) > 3 and toks[j].isalpha():
                toks[j] = typo(toks[j], rng)
        text = " ".join(toks)
    r = rng.random()
    if r < (0.5 if informal else 0.1):
        text = text.lower()
    elif r > 0.992:
        text = text.upper()
    if informal and rng.random() < 0.5:
        padded = f" {text} "
        for full, short in ABBREV:
            if full in padded and rng.random() < 0.7:
                padded = padded.replace(full, short)
        text = padded[1:-1]
    if rng.random() < (0.45 if informal else 0.15):
        text = text.rstrip(".!?")
    elif rng.random() < 0.04:
        text = text.rstrip(".!?") + pick(rng, ("??", "!!", "?!", "..."))
    if rng.random() < 0.03:
        text = text.replace(" ", "  ", 1)
    return text
