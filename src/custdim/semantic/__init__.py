"""Semantic types: the vocabulary that map, match and merge agree on (no I/O here)."""
