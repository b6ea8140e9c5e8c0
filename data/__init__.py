"""tierwise data."""
