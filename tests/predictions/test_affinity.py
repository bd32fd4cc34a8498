"""Brand and interest affinity: the smoothed lift by hand, levels, ranks, and what is left out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from custdim.errors import ConfigError
from custdim.stages.insights.asof import AsOf
from custdim.stages.predictions.affinity import scores
from tests.insights.projects import by_key, members, shop

AS_OF = AsOf(dt.date(2025, 6, 30), "project")


def lines(rows: list[tuple[str, str, float, str, bool]]) -> pa.Table:
    """UnifiedActivity-shaped order lines: (customer, brand, amount, timestamp, is return)."""
    return pa.table(
        {
            "CustomerId": [r[0] for r in rows],
            "ActivityType": ["SalesOrderLine"] * len(rows),
            "ActivityTimeStamp": pa.array([dt.datetime.fromisoformat(r[3]) for r in rows], pa.timestamp("us")),
            "Amount": pa.array([r[2] for r in rows], pa.float64()),
            "IsReturn": [r[4] for r in rows],
            "Brand": [r[1] for r in rows],
        }
    )


def test_scores_are_the_documented_smoothed_lift(engine) -> None:  # type: ignore[no-untyped-def]
    day = "2025-05-01 10:00:00"
    rows = [
        ("A", "X", 90.0, day, False),
        ("A", "Y", 10.0, day, False),
        ("B", "Y", 100.0, day, False),
        ("C", "Z", 300.0, day, False),
        # Left out: a return, a zero amount, an activity after as_of, a line without a brand.
        ("A", "Z", 500.0, day, True),
        ("B", "Z", 0.0, day, False),
        ("B", "Z", 800.0, "2025-07-01 00:00:00", False),
        ("C", None, 50.0, day, False),
    ]
    t = engine.from_arrow(lines(rows))  # type: ignore[arg-type]
    got = {
        (r["CustomerId"], r["Name"]): r
        for r in engine.to_arrow(scores(t, "SalesOrderLine", t.Brand, AS_OF)).to_pylist()
    }
    assert set(got) == {("A", "X"), ("A", "Y"), ("B", "Y"), ("C", "Z")}
    # Everyone spent 500 over 3 buyers: k = 166.67; population shares X 0.18, Y 0.22, Z 0.6.
    # A/X: share (90 + 30) / (100 + 166.67) = 0.45, lift 2.5, score 100 * 2.5 / 3.5 = 71.
    k = 500 / 3
    for (c, v), s, S, P in ((("A", "X"), 90, 100, 0.18), (("A", "Y"), 10, 100, 0.22), (("B", "Y"), 100, 100, 0.22),
                            (("C", "Z"), 300, 300, 0.6)):  # fmt: skip
        lift = (s + k * P) / (S + k) / P
        assert got[(c, v)]["Score"] == round(100 * lift / (lift + 1))
        assert got[(c, v)]["PopulationShare"] == pytest.approx(P)
        assert got[(c, v)]["Share"] == pytest.approx(s / S)
    assert [got[k_]["Score"] for k_ in (("A", "X"), ("A", "Y"), ("B", "Y"), ("C", "Z"))] == [71, 44, 70, 59]
    assert [got[k_]["Level"] for k_ in (("A", "X"), ("A", "Y"), ("B", "Y"), ("C", "Z"))] == [
        "High", "Medium", "High", "Medium",
    ]  # fmt: skip
    assert (got[("A", "X")]["Rank"], got[("A", "Y")]["Rank"], got[("B", "Y")]["Rank"]) == (1, 2, 1)


def test_levels_follow_the_customer_insights_scale(engine) -> None:  # type: ignore[no-untyped-def]
    # 40 customers spend on a common brand; one niche brand is bought by few: its buyers have a very high lift.
    day = "2025-05-01 10:00:00"
    rows = [(f"c{i}", "Common", 100.0, day, False) for i in range(40)]
    rows += [("n1", "Niche", 400.0, day, False), ("n2", "Niche", 5.0, day, False), ("n2", "Common", 395.0, day, False)]
    t = engine.from_arrow(lines(rows))  # type: ignore[arg-type]
    got = engine.to_arrow(scores(t, "SalesOrderLine", t.Brand, AS_OF)).to_pylist()
    assert all(1 <= r["Score"] <= 100 for r in got)
    levels = {(r["CustomerId"], r["Name"]): r["Level"] for r in got}
    assert levels[("n1", "Niche")] == "Very high"
    # 1 % of n2's spend went to Niche, 8 % of everyone's: below the population, so Low.
    assert levels[("n2", "Niche")] == "Low"
    assert levels[("c0", "Common")] == "Medium"  # buys like everyone: lift about 1, score about 50
    for r in got:
        s = r["Score"]
        want = "Very high" if s >= 85 else "High" if s >= 70 else "Medium" if s >= 35 else "Low"
        assert r["Level"] == want


def test_a_project_gets_interest_affinity_on_dim_customer_and_in_segments(tmp_path: Path) -> None:
    body = """predictions:
  affinity: {activity: SalesOrder, brand_field: null, interest_field: Category}
segments:
  - name: loves-beauty
    all: [{field: TopInterest, op: "=", value: beauty}, {field: TopInterestScore, op: ">=", value: 70}]
"""
    p = shop(tmp_path, body)
    assert p.run().status == "succeeded"
    rows = by_key(p, "SELECT CustomerId, TopInterests FROM dim_customer")
    # A spends like the population (both scores 52-53; shoes first on more spend); B spends on the small
    # categories (both lift 2.33: score 70, High; beauty first on more spend); C bought nothing.
    assert rows["A"]["TopInterests"] == ["shoes", "outdoor"]
    assert rows["B"]["TopInterests"] == ["beauty", "home"]
    assert rows["C"]["TopInterests"] is None
    levels = by_key(p, "SELECT CustomerId, Level, Name FROM InterestAffinity WHERE Rank = 1")
    assert (levels["A"]["Level"], levels["B"]["Level"]) == ("Medium", "High")
    assert members(p) == {"loves-beauty": {"B"}}
    assert p.sql("SELECT count(*) FROM BrandAffinity")[0][0].as_py() == 0  # brand_field: null


def test_an_unknown_field_names_the_key_and_the_valid_columns(tmp_path: Path) -> None:
    p = shop(tmp_path, "predictions:\n  affinity: {activity: SalesOrder, brand_field: Maker}\n")
    with pytest.raises(ConfigError) as err:
        p.run()
    text = str(err.value)
    assert "predictions.affinity.brand_field" in text and "'Maker'" in text and "Category" in text
