"""When the learned policy does not trust the model: one tier up, and the reason as a field.

Two sets of margins, checked in this order; the first that fires names the reason:

- the operator's (`Margins`, the service's TIERWISE_ABSTAIN_INTENT_MARGIN / _TIER_MARGIN): the
  top intent probability below `intent`, P(ok) of the predicted tier below `tier`; kind
  `intent`, `tier` or `intent+tier`;
- the contracts' (`decision.abstain` in contracts.yaml), only when some tier met the bar: the
  top intent probability below `min_intent_prob`, or the chosen tier's P(ok) within
  `ok_margin` of the bar; kind `decision`.

Abstention is part of the decision and runs before the switches and the tier cap
(classifier.decision), so that force_mini and a cap always have the last word.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifier.prediction import Prediction


@dataclass(frozen=True, slots=True)
class Margins:
    """The operator's abstention margins; 0 never fires (probabilities are never below 0)."""

    intent: float = 0.0
    tier: float = 0.0


NO_MARGINS = Margins()


def abstention(
    prediction: Prediction,
    margins: Margins,
    met_bar: bool,
    p_ok: float,
    bar: float,
    min_intent_prob: float,
    ok_margin: float,
) -> tuple[str, str] | None:
    """(kind, reason) when the model is not trusted, else None; `p_ok` is the chosen tier's."""
    top = prediction.intent_probs.get(prediction.intent, 0.0)
    tier_ok = prediction.tier_ok_probs.get(prediction.tier, 0.0)
    if top < margins.intent or tier_ok < margins.tier:
        kinds, reasons = [], []
        if top < margins.intent:
            kinds.append("intent")
            reasons.append(f"top intent probability {top:.3f} is below the margin {margins.intent}")
        if tier_ok < margins.tier:
            kinds.append("tier")
            reasons.append(
                f"P(ok) of tier {prediction.tier} is {tier_ok:.3f}, below the margin {margins.tier}"
            )
        return "+".join(kinds), "; ".join(reasons)
    if not met_bar:
        return None
    if top < min_intent_prob:
        return "decision", f"intent P {top:.2f} < {min_intent_prob:.2f}"
    if p_ok < bar + ok_margin:
        return "decision", f"P(ok) {p_ok:.2f} within {ok_margin:.2f} of bar"
    return None
