"""Hardware cost models."""
