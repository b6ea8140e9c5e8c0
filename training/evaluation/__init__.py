"""Scores of one trained model: held-out metrics, the teacher comparison, the training report."""
