"""Item-to-item recommendations: similarity and ranks by hand, repeats, the popularity fill, the hit rate."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from custdim.stages.predictions.recommendations import eligible, hit_rate, purchases, recommend


def lines(rows: list[tuple[str, str]], when: str = "2025-05-01 10:00:00", returned: bool = False) -> pa.Table:
    """UnifiedActivity-shaped order lines: (customer, product)."""
    n = len(rows)
    return pa.table(
        {
            "CustomerId": [r[0] for r in rows],
            "ActivityType": ["SalesOrderLine"] * n,
            "ActivityTimeStamp": pa.array([dt.datetime.fromisoformat(when)] * n, pa.timestamp("us")),
            "IsReturn": [returned] * n,
            "Product": [r[1] for r in rows],
        }
    )


END = dt.datetime(2025, 7, 1)
BOUGHT = [("u1", "A"), ("u1", "B"), ("u2", "A"), ("u2", "B"), ("u3", "A"), ("u3", "C"), ("u4", "B"), ("u5", "D")]


def recs(engine, rows: list[tuple[str, str]], items: int, allow_repeat: bool) -> dict[str, list[tuple[str, float]]]:  # type: ignore[no-untyped-def]
    t = engine.from_arrow(pa.concat_tables([lines(rows), lines([("u1", "Z")], returned=True)]))
    out = engine.to_arrow(recommend(engine, purchases(t, "SalesOrderLine", None, END), items, allow_repeat)).to_pylist()
    got: dict[str, list[tuple[str, float]]] = {}
    for r in sorted(out, key=lambda r: (r["CustomerId"], r["Rank"])):
        got.setdefault(r["CustomerId"], []).append((r["ProductId"], r["Score"]))
    return got


def test_scores_are_summed_cosine_similarities(engine) -> None:  # type: ignore[no-untyped-def]
    got = recs(engine, BOUGHT, items=1, allow_repeat=False)
    ab, ac = 2 / math.sqrt(3 * 3), 1 / math.sqrt(3 * 1)  # A and B: 3 buyers each, 2 shared; C: 1 buyer, shared with A
    assert got["u4"] == [("A", pytest.approx(ab))]  # bought B: A is its neighbour
    assert got["u3"] == [("B", pytest.approx(ab))]  # bought A and C: B via A (C has no link to B)
    assert got["u1"] == [("C", pytest.approx(ac))]  # bought A and B: only C is left
    # u5's D was bought by nobody else: no neighbours, the most popular product fills (A before B on the tie).
    assert got["u5"] == [("A", 0.0)]
    assert "Z" not in {p for v in got.values() for p, _ in v}  # a returned product is not a purchase


def test_repeats_and_the_number_of_items(engine) -> None:  # type: ignore[no-untyped-def]
    no_repeat = recs(engine, BOUGHT, items=3, allow_repeat=False)
    assert [p for p, _ in no_repeat["u1"]] == ["C", "D"]  # only two products u1 has not bought
    assert all(p not in {"A", "B"} for p, _ in no_repeat["u2"])
    repeat = recs(engine, BOUGHT, items=3, allow_repeat=True)
    # u4 may get B again; B has no similarity to itself, so it ranks after A by popularity.
    assert [p for p, _ in repeat["u4"]] == ["A", "B", "C"]


def test_hit_rate_counts_customers_with_a_new_purchase(engine) -> None:  # type: ignore[no-untyped-def]
    earlier = engine.from_arrow(lines(BOUGHT))
    later_rows = [("u4", "A"), ("u3", "D"), ("u1", "A"), ("new", "A")]
    later = engine.from_arrow(lines(later_rows, when="2025-06-15 10:00:00"))
    e, lt = purchases(earlier, "SalesOrderLine", None, END), purchases(later, "SalesOrderLine", None, END)
    r = recommend(engine, e, 1, allow_repeat=False)
    # Eligible: u4 (A is new to them) and u3 (D); u1 re-bought A (not new), "new" had no earlier purchase.
    # u4 was recommended A (a hit), u3 was recommended B (a miss).
    assert hit_rate(engine, r, eligible(lt, e, allow_repeat=False)) == {"customers": 2, "hits": 1, "hit_rate": 0.5}
    assert hit_rate(engine, r, eligible(lt, e, allow_repeat=True))["customers"] == 3
    # Recommending only for some customers gives them what they get when everyone is recommended for.
    some = recommend(engine, e, 1, allow_repeat=False, targets=engine.from_arrow(pa.table({"CustomerId": ["u3"]})))
    everyone = engine.to_arrow(r).to_pylist()
    assert engine.to_arrow(some).to_pylist() == [row for row in everyone if row["CustomerId"] == "u3"]
