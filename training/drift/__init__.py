"""Drift: the bundle's training reference, the report over decision logs, and the retrain job."""
