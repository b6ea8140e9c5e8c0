"""Real request text in training and evaluation: weak labels, baselines, the real-traffic report.

The texts come from `data.corpora` (registry packages, never committed); the hand labels from
`data/realtext/`. Nothing here is on the serving path.
"""
