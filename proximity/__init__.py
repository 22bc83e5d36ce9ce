"""proximity."""
