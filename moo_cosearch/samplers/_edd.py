"""Differentiable co-search (edd): to be written."""
