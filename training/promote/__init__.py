"""`tierwise promote`: a candidate becomes `challenger`; it takes `champion` only past the gate.

The gate cannot be talked into a worse model:
- both models are scored on the SAME rows, taken from logs the operator passes and outside BOTH
  training windows (read from each bundle's manifest), never from a run's own held-out set;
- each metric's direction is known (a lower ECE or cost is better) and `min_delta` is >= 0;
- besides the chosen metric (mean macro-F1 by default), no head's calibration may worsen and
  the learned policy's replayed failure rate and its cost at equal failures may not rise,
  beyond the `promote.*` tolerances;
- with no champion yet, the first one needs `--allow-first-champion`.
Every decision, with both models' scores and the reason, is logged to MLflow (rows: `rows.py`,
scores: `scoring.py`, checks: `gate.py`, the record: `decision.py`).
"""

from training.promote.decision import Decision
from training.promote.run import promote

__all__ = ["Decision", "promote"]
