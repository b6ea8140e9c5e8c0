"""The "Difficulty model" table of docs/generator.md: tier success per binned text property.

    python -m data.generator.difficulty_table --n 20000 [--seed 0] [--real-share 0.3]

Generates `n` records as `tierwise generate` would (same default real share), measures every
text again with `textprops.text_props`, and reports, per property bin, the share of requests
each tier answers. Bins are marginal (a bin mixes intents), so they show how success moves with
a property in the traffic, not the property's own weight (see WEIGHTS in difficulty.py). It also
measures what the noise alone does: how often two noise draws for the same text agree.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from classifier.taxonomy import INTENTS, RISKS, TIERS
from data.generator.difficulty import (
    INTENT_ADJ,
    NOISE_SD,
    RISK_ADJ,
    THRESHOLDS,
    contributions,
    latent,
    tier_ok,
)
from data.generator.textprops import TextProps, text_props
from data.generator.writer import Knobs, iter_records

CLI_REAL_SHARE = 0.3  # what `tierwise generate` uses by default

Binner = Callable[[TextProps, dict], str]


def _bins(value: float, edges: Sequence[tuple[float, str]], last: str) -> str:
    for upper, label in edges:
        if value <= upper:
            return label
    return last


PROPERTIES: dict[str, Binner] = {
    "words (input size)": lambda p, t: _bins(
        p.words, ((10, "<= 10"), (40, "11-40"), (150, "41-150"), (600, "151-600")), "> 600"
    ),
    "steps (multi-step cues)": lambda p, t: _bins(p.steps, ((0, "0"), (1, "1"), (2, "2")), ">= 3"),
    "numbers": lambda p, t: _bins(p.numbers, ((0, "0"), (3, "1-3"), (15, "4-15")), ">= 16"),
    "arithmetic cues": lambda p, t: _bins(p.arithmetic, ((0, "0"), (1, "1")), ">= 2"),
    "constraints": lambda p, t: _bins(p.constraints, ((0, "0"), (1, "1"), (3, "2-3")), ">= 4"),
    "requested output length": lambda p, t: {-1: "short", 0: "unsaid", 1: "long"}.get(
        p.output_length, "very long"
    ),
    "structured output": lambda p, t: _bins(p.structure, ((0, "0"), (1, "1")), ">= 2"),
    "specialist terms": lambda p, t: _bins(p.specialist, ((0, "0"), (1, "1"), (3, "2-3")), ">= 4"),
    "code lines": lambda p, t: _bins(p.code_lines, ((0, "0"), (5, "1-5"), (30, "6-30")), "> 30"),
    "ambiguity": lambda p, t: _bins(p.ambiguity, ((0, "0"), (0.5, "0.5")), "1"),
    "language": lambda p, t: "en" if p.language == "en" else "not en",
    "intent (secondary)": lambda p, t: t["intent"],
    "risk (secondary)": lambda p, t: t["risk"],
}
# which term of d (difficulty.contributions, or the intent / risk adjustment) each row moves
TERM = {
    "words (input size)": "length",
    "steps (multi-step cues)": "steps",
    "numbers": "numbers",
    "arithmetic cues": "arithmetic",
    "constraints": "constraints",
    "requested output length": "output_length",
    "structured output": "structure",
    "specialist terms": "specialist",
    "code lines": "code",
    "ambiguity": "ambiguity",
    "language": "non_english",
    "intent (secondary)": "intent",
    "risk (secondary)": "risk",
}
ORDER = {
    "requested output length": ("short", "unsaid", "long", "very long"),
    "intent (secondary)": INTENTS,
    "risk (secondary)": RISKS,
}


@dataclass
class Measured:
    """One run, measured: per record its truth, bins and each property's share of difficulty."""

    n: int = 0
    difficulty: list[float] = field(default_factory=list)
    ok: dict[str, list[bool]] = field(default_factory=lambda: {t: [] for t in TIERS})
    bins: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in PROPERTIES})
    terms: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in PROPERTIES})
    figures: dict[str, float] = field(default_factory=dict)


def measure(n: int, seed: int = 0, knobs: Knobs | None = None) -> Measured:
    """Generate and measure `n` records; also how often two noise draws agree."""
    out = Measured()
    noise = random.Random(seed + 1)
    agree_smallest = 0
    agree_tier = dict.fromkeys(TIERS, 0)
    for record, truth, _ in iter_records(n, seed, knobs):
        props = text_props(record["text"])
        share = contributions(props)
        share["intent"] = INTENT_ADJ[truth["intent"]]
        share["risk"] = RISK_ADJ[truth["risk"]]
        out.n += 1
        out.difficulty.append(truth["difficulty"])
        for tier in TIERS:
            out.ok[tier].append(truth["tier_ok"][tier])
        for name, binner in PROPERTIES.items():
            out.bins[name].append(binner(props, truth))
            out.terms[name].append(share[TERM[name]])
        base = latent(props, truth["intent"], truth["risk"])
        a = tier_ok(base + noise.gauss(0.0, NOISE_SD))
        b = tier_ok(base + noise.gauss(0.0, NOISE_SD))
        agree_smallest += _smallest(a) == _smallest(b)
        for tier in TIERS:
            agree_tier[tier] += a[tier] == b[tier]
    total = max(out.n, 1)
    out.figures = {f"ok_{t}": sum(out.ok[t]) / total for t in TIERS}
    out.figures["redraw_agree_smallest_tier"] = agree_smallest / total
    out.figures.update({f"redraw_agree_{t}": agree_tier[t] / total for t in TIERS})
    return out


def _smallest(ok: dict[str, bool]) -> str:
    return next((t for t in TIERS if ok[t]), "none")


def _rates(ok: Sequence[Sequence[bool]]) -> str:
    return " / ".join(f"{sum(col) / max(len(col), 1):.0%}" for col in ok)


def render(m: Measured) -> str:
    """The markdown table (and a line of noise figures) that docs/generator.md shows.

    "measured": success among the requests in the bin. "this property alone": success of every
    request of the run if only this property's term of d took the bin's mean value, its noise
    and every other term kept (a partial-dependence view, free of what the bin is mixed with).
    """
    lines = [
        "| property | bin | requests | ok nano / mini / full, measured "
        "| same, this property alone |",
        "| --- | --- | ---: | --- | --- |",
        f"| all | | {m.n:,} | {_rates([m.ok[t] for t in TIERS])} | |",
    ]
    for name in PROPERTIES:
        labels, terms = m.bins[name], m.terms[name]
        order = ORDER.get(name) or _natural(set(labels))
        first = True
        for label in order:
            rows = [i for i, x in enumerate(labels) if x == label]
            if not rows:
                continue
            measured = _rates([[m.ok[t][i] for i in rows] for t in TIERS])
            level = sum(terms[i] for i in rows) / len(rows)
            moved = [d - term + level for d, term in zip(m.difficulty, terms, strict=True)]
            alone = _rates([[d < THRESHOLDS[t] for d in moved] for t in TIERS])
            lines.append(
                f"| {name if first else ''} | {label} | {len(rows):,} | {measured} | {alone} |"
            )
            first = False
    f = m.figures
    lines += [
        "",
        f"Noise alone (sd {NOISE_SD}): two draws for the same text agree on the smallest viable "
        f"tier {f['redraw_agree_smallest_tier']:.0%} of the time; on nano / mini / full ok "
        + " / ".join(f"{f[f'redraw_agree_{t}']:.0%}" for t in TIERS)
        + f". Thresholds: {', '.join(f'{t} {v}' for t, v in THRESHOLDS.items())}.",
    ]
    return "\n".join(lines)


def _natural(labels: set[str]) -> list[str]:
    """Bins in the order the binner's labels imply ("0" < "1" < "2-3" < ">= 4")."""

    def key(label: str) -> tuple[float, str]:
        digits = "".join(c if c.isdigit() or c == "." else " " for c in label).split()
        bump = 0.5 if label.startswith((">", "> ")) else 0.0
        return (float(digits[0]) + bump if digits else float("inf"), label)

    return sorted(labels, key=key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--real-share",
        type=float,
        default=CLI_REAL_SHARE,
        help=f"share of labelled real texts (default {CLI_REAL_SHARE}, as `tierwise generate`)",
    )
    args = parser.parse_args(argv)
    sys.stdout.write(render(measure(args.n, args.seed, Knobs(real_share=args.real_share))) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
