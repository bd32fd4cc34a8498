"""Measures and segments: what the unified profiles and activities say about each customer."""
