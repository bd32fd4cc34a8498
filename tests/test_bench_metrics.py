"""The benchmark's per-rule link quality and profile-size bands, on hand-computed cases."""

from __future__ import annotations

from bench.er_metrics import link_quality, size_distribution

TRUTH = {"a": "P1", "b": "P1", "c": "P2", "d": "P3", "e": "P3", "f": "P3", "g": "P4"}


def test_link_quality_counts_false_links_per_rule_and_skips_unknown_records() -> None:
    links = [
        ("dedupe", "email", "a", "b"),  # same person
        ("match", "email", "b", "c"),  # P1 vs P2: false
        ("match", "email", "d", "e"),
        ("match", "phone", "e", "x"),  # x is not in the truth: left out
    ]
    assert link_quality(links, TRUTH) == [
        {"stage": "match", "rule": "email", "links": 2, "false": 1, "false_share": 0.5},
        {"stage": "dedupe", "rule": "email", "links": 1, "false": 0, "false_share": 0.0},
    ]


def test_size_distribution_bands_and_mixed_profiles() -> None:
    predicted = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2, "f": 3, "g": 4}
    bands = {b["size"]: (b["profiles"], b["mixed"]) for b in size_distribution(predicted, TRUTH)}
    assert bands["1"] == (2, 0)  # f and g alone
    assert bands["2"] == (1, 0)  # d, e: one person
    assert bands["3"] == (1, 1)  # a, b, c: two people
    assert bands["50+"] == (0, 0)
