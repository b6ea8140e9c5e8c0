"""tierwise training."""
