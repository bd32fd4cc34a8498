"""Quality metrics against ground truth: pairwise and exact-cluster precision, recall and F1."""

from __future__ import annotations

import pytest

from custdim.metrics.clusters import cluster_quality
from custdim.metrics.pairs import pair_quality

TRUTH = {"a": "P1", "b": "P1", "c": "P1", "d": "P2", "e": "P3"}


def test_perfect_clustering() -> None:
    predicted = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 3}
    assert pair_quality(predicted, TRUTH).f1 == 1.0
    q = cluster_quality(predicted, TRUTH)
    assert (q.exact_clusters, q.predicted_clusters, q.true_clusters, q.f1) == (3, 3, 3, 1.0)


def test_a_split_and_a_merge() -> None:
    # {a,b} | {c, d} | {e}: P1 is split, and c is merged with the stranger d.
    predicted = {"a": 1, "b": 1, "c": 2, "d": 2, "e": 3}
    p = pair_quality(predicted, TRUTH)
    assert (p.true_pairs, p.predicted_pairs, p.correct_pairs) == (3, 2, 1)
    assert p.precision == 0.5 and p.recall == pytest.approx(1 / 3)
    c = cluster_quality(predicted, TRUTH)
    assert (c.exact_clusters, c.predicted_clusters, c.true_clusters) == (1, 3, 3)  # only {e} is exact
    assert c.f1 == pytest.approx(1 / 3)


def test_records_missing_from_either_side_are_ignored_and_empty_is_perfect() -> None:
    assert pair_quality({"x": 1}, TRUTH).records == 0
    assert cluster_quality({}, TRUTH).precision == 1.0
