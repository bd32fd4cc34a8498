"""Pairwise precision, recall and F1 of a clustering against ground truth.

A pair of records is predicted when both share a profile and true when both belong to one real person. Counting
goes through the contingency table, so no pair is ever materialized: O(records) time and memory.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from custdim.metrics.scores import f1_score, ratio


@dataclass(frozen=True)
class PairQuality:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    records: int

    @property
    def precision(self) -> float:
        return ratio(self.correct_pairs, self.predicted_pairs)

    @property
    def recall(self) -> float:
        return ratio(self.correct_pairs, self.true_pairs)

    @property
    def f1(self) -> float:
        return f1_score(self.precision, self.recall)

    def to_json(self) -> dict[str, float | int]:
        return {
            "records": self.records,
            "true_pairs": self.true_pairs,
            "predicted_pairs": self.predicted_pairs,
            "correct_pairs": self.correct_pairs,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def _pairs(sizes: np.ndarray) -> int:
    s = sizes.astype(np.int64)
    return int((s * (s - 1) // 2).sum())


K = TypeVar("K", bound=Hashable)


def pair_quality(predicted: Mapping[K, Hashable], truth: Mapping[K, Hashable]) -> PairQuality:
    """Compare two record -> cluster maps on the records present in both."""
    keys = [k for k in truth if k in predicted]
    frame = pd.DataFrame({"pred": [predicted[k] for k in keys], "true": [truth[k] for k in keys]})
    if frame.empty:
        return PairQuality(0, 0, 0, 0)
    return PairQuality(
        true_pairs=_pairs(frame.groupby("true").size().to_numpy()),
        predicted_pairs=_pairs(frame.groupby("pred").size().to_numpy()),
        correct_pairs=_pairs(frame.groupby(["pred", "true"]).size().to_numpy()),
        records=len(frame),
    )
