"""The arithmetic shared by every quality metric."""

from __future__ import annotations


def ratio(part: int, whole: int) -> float:
    """part / whole, and 1.0 for an empty whole (nothing predicted is nothing wrong)."""
    return part / whole if whole else 1.0


def f1_score(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
