"""tierwise serving."""
