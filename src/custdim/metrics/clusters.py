"""Exact-cluster precision, recall and F1 of a clustering against ground truth.

A predicted cluster counts only when it equals one real person's record set exactly (singletons included):
precision = exact clusters / predicted clusters, recall = exact clusters / true clusters. Counting goes through the
contingency table, so it is O(records).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd

from custdim.metrics.scores import f1_score, ratio

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class ClusterQuality:
    true_clusters: int
    predicted_clusters: int
    exact_clusters: int

    @property
    def precision(self) -> float:
        return ratio(self.exact_clusters, self.predicted_clusters)

    @property
    def recall(self) -> float:
        return ratio(self.exact_clusters, self.true_clusters)

    @property
    def f1(self) -> float:
        return f1_score(self.precision, self.recall)

    def to_json(self) -> dict[str, float | int]:
        return {
            "true_clusters": self.true_clusters,
            "predicted_clusters": self.predicted_clusters,
            "exact_clusters": self.exact_clusters,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def cluster_quality(predicted: Mapping[K, Hashable], truth: Mapping[K, Hashable]) -> ClusterQuality:
    """Compare two record -> cluster maps on the records present in both."""
    keys = [k for k in truth if k in predicted]
    frame = pd.DataFrame({"pred": [predicted[k] for k in keys], "true": [truth[k] for k in keys]})
    if frame.empty:
        return ClusterQuality(0, 0, 0)
    pred_size = frame.groupby("pred").size().rename("pred_size")
    true_size = frame.groupby("true").size().rename("true_size")
    both = frame.groupby(["pred", "true"]).size().rename("both").reset_index()
    both = both.join(pred_size, on="pred").join(true_size, on="true")
    exact = int(((both["both"] == both["pred_size"]) & (both["both"] == both["true_size"])).sum())
    return ClusterQuality(true_clusters=len(true_size), predicted_clusters=len(pred_size), exact_clusters=exact)
