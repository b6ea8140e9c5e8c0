"""Time and people around the router: diurnal timestamps, user corrections, review labels.

Corrections are the noisy signal DESIGN section 4 describes: within 300 s of a request they
mean the served tier failed. Users correct bad answers often but not always, sometimes only
after the window, and now and then correct a good answer anyway; labels from human review are
present on a share of records and are occasionally wrong.
"""

from __future__ import annotations

import math
import random
import time

from classifier.taxonomy import INTENTS, RISKS
from data.generator.grammar import cumulative, pick, weighted

START_EPOCH = 1790812800  # 2026-10-01T00:00:00Z
DAY = 86400.0
# Relative request volume per UTC hour: a business-day peak over Europe and the Americas.
HOUR_WEIGHTS = (
    2,
    1.5,
    1.2,
    1,
    1,
    1.3,
    2,
    3.5,
    5.5,
    7,
    7.5,
    7.5,
    7,
    7.5,
    8,
    8,
    7.5,
    6.5,
    5.5,
    4.5,
    4,
    3.5,
    3,
    2.5,
)
HOUR_CUM = cumulative(HOUR_WEIGHTS)
Kinds = tuple[tuple[str, ...], tuple[float, ...]]
KINDS_SILENT: Kinds = (
    ("edit", "regenerate", "thumbs_down", "manual_escalation"),
    cumulative((0.35, 0.3, 0.25, 0.1)),
)
KINDS_VISIBLE: Kinds = (
    ("regenerate", "manual_escalation", "thumbs_down", "edit"),
    cumulative((0.45, 0.3, 0.2, 0.05)),
)
KINDS_NOISE: Kinds = (("thumbs_down", "edit", "regenerate"), cumulative((0.4, 0.4, 0.2)))


def timestamps(rng: random.Random, n: int, days: int = 30) -> list[float]:
    """n sorted epoch seconds over `days` days, diurnal and lighter at weekends."""
    out: list[float] = []
    hours = tuple(range(24))
    while len(out) < n:
        day = int(rng.random() * days)
        weekday = (3 + day) % 7  # 2026-10-01 is a Thursday; 5 and 6 are the weekend
        if weekday >= 5 and rng.random() > 0.55:
            continue
        hour = weighted(rng, hours, HOUR_CUM)
        out.append(START_EPOCH + day * DAY + hour * 3600.0 + rng.random() * 3600.0)
    out.sort()
    return out


def rfc3339(epoch: float) -> str:
    ms = int(round(epoch * 1000)) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(epoch))) + f".{ms:03d}Z"


def corrections(
    rng: random.Random,
    request_id: str,
    ts: float,
    served_ok: bool,
    visible_failure: bool,
    feature: str,
) -> list[tuple[float, dict]]:
    """Correction events for one request as (epoch, event) pairs."""
    if served_ok:
        p, kinds, p_inside = 0.03, KINDS_NOISE, 0.5
    elif visible_failure:
        p, kinds, p_inside = 0.55, KINDS_VISIBLE, 0.85
    else:
        p, kinds, p_inside = (0.75 if feature == "inline_assist" else 0.68), KINDS_SILENT, 0.88
    if rng.random() >= p:
        return []
    events = []
    for _ in range(2 if rng.random() < 0.1 else 1):
        if rng.random() < p_inside:
            delay = min(299.0, 3.0 + math.exp(rng.gauss(3.6, 0.9)))
        else:
            delay = 301.0 + rng.random() * 7000.0
        when = ts + delay
        kind = weighted(rng, *kinds)
        if feature == "inline_assist" and not served_ok and rng.random() < 0.4:
            kind = "edit"
        events.append((when, {"request_id": request_id, "ts": rfc3339(when), "kind": kind}))
    return events


def review_labels(
    rng: random.Random, intent: str, risk: str, rate: float, noise: float
) -> dict | None:
    """Human-review labels on `rate` of records, each wrong with probability `noise`."""
    if rng.random() >= rate:
        return None
    if rng.random() < noise:
        intent = pick(rng, tuple(i for i in INTENTS if i != intent))
    if rng.random() < noise:
        rank = RISKS.index(risk)
        risk = (
            RISKS[rank + 1] if rank == 0 or (rank == 1 and rng.random() < 0.5) else RISKS[rank - 1]
        )
    return {"intent": intent, "risk": risk, "source": "human_review"}
