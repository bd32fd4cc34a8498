"""Measures: every aggregate, window, filter, template and expression against hand-computed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from custdim.errors import ConfigError
from custdim.project import Project
from custdim.report import RunReport
from tests.insights.projects import by_key, shop

MEASURES = """measures:
  - {name: SumAll, aggregate: sum, of: Amount, from: SalesOrder}
  - {name: SumAllOr0, aggregate: sum, of: Amount, from: SalesOrder, default: 0}
  - {name: AvgAll, aggregate: avg, of: Amount, from: SalesOrder}
  - {name: CountAll, aggregate: count, from: SalesOrder}
  - {name: CountAny, aggregate: count}
  - {name: Categories, aggregate: count_distinct, of: Category, from: SalesOrder}
  - {name: MinAmount, aggregate: min, of: Amount, from: SalesOrder}
  - {name: MaxAmount, aggregate: max, of: Amount, from: SalesOrder}
  - {name: FirstAmount, aggregate: first, of: Amount, from: SalesOrder}
  - {name: LastAmount, aggregate: last, of: Amount, from: SalesOrder}
  - {name: LastCategory, aggregate: last, of: Category, from: SalesOrder}
  - {name: TopCategory, aggregate: argmax, of: Amount, by: Category, from: SalesOrder}
  - {name: BottomCategory, aggregate: argmin, of: Amount, by: Category, from: SalesOrder}
  - {name: MostOftenCategory, aggregate: argmax, by: Category, from: SalesOrder}
  - {name: Sum30d, aggregate: sum, of: Amount, from: SalesOrder, window: 30d}
  - {name: Count90d, aggregate: count, from: SalesOrder, window: 90d}
  - {name: Sum12m, aggregate: sum, of: Amount, from: SalesOrder, window: 12m}
  - {name: Count2w, aggregate: count, from: [SalesOrder, WebVisit], window: 2w}
  - {name: SumQ1, aggregate: sum, of: Amount, from: SalesOrder, window: {from: 2025-01-01, to: 2025-03-31}}
  - {name: SumSince, aggregate: sum, of: Amount, window: {from: 2025-05-01}}
  - {name: ShoeOrders, aggregate: count, from: SalesOrder, where: [{field: Category, op: "=", value: shoes}]}
  - {name: Returns, aggregate: count, where: [{field: IsReturn, op: is_true}]}
  - {name: BigOrOutdoor, aggregate: count, where: [{field: Amount, op: ">=", value: 50}, {field: Category, op: in,
     value: [outdoor, shoes]}]}
  - {template: total_transaction_value}
  - {template: transaction_count}
  - {template: average_transaction_value}
  - {template: days_since_last_purchase}
  - {template: active_lifespan}
  - {name: AvgFromParts, expression: "SumAll / nullif(CountAll, 0)"}
  - {name: Doubled, expression: "round(AvgFromParts * 2 + 1, 1)"}
  - {name: RevenueByMonth, scope: business, aggregate: sum, of: Amount, from: SalesOrder, group_by: [month]}
  - {name: RevenueByCategory, scope: business, aggregate: sum, of: Amount, from: SalesOrder, window: 12m,
     group_by: [Category]}
  - {name: Orders, scope: business, aggregate: count, from: SalesOrder}
"""


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, RunReport]:
    p = shop(tmp_path_factory.mktemp("shop"), MEASURES)
    return p, p.run()


def measures(shop_run: tuple[Project, RunReport]) -> dict[str, dict[str, object]]:
    return by_key(shop_run[0], "SELECT * FROM CustomerMeasure")


# (measure, A, B, C), worked out by hand from the table in tests/insights/projects.py. Order 5 is after as_of.
EXPECTED: list[tuple[str, object, object, object]] = [
    ("SumAll", 160.0, 30.0, None),
    ("SumAllOr0", 160.0, 30.0, 0.0),
    ("AvgAll", 40.0, 15.0, None),
    ("CountAll", 4, 2, 0),
    ("CountAny", 5, 3, 0),  # orders and visits
    ("Categories", 2, 2, 0),
    ("MinAmount", -20.0, 10.0, None),
    ("MaxAmount", 100.0, 20.0, None),
    ("FirstAmount", -20.0, 10.0, None),
    ("LastAmount", 100.0, 20.0, None),
    ("LastCategory", "shoes", "beauty", None),
    # A: shoes 100 - 20 = 80, outdoor 50 + 30 = 80: a tie goes to the smaller value.
    ("TopCategory", "outdoor", "beauty", None),
    ("BottomCategory", "outdoor", "home", None),
    ("MostOftenCategory", "outdoor", "beauty", None),  # A: 2 and 2 (tie), B: 1 and 1 (tie)
    # 30d = 2025-06-01 00:00 .. 2025-06-30 24:00: A's orders 1 and 2.
    ("Sum30d", 150.0, None, None),
    # 90d starts 2025-04-02: B's order of 2025-04-01 is out, the one of 2025-05-01 in.
    ("Count90d", 2, 1, 0),
    # 12m starts 2024-07-01: A's return of 2024-03-01 is out.
    ("Sum12m", 180.0, 30.0, None),
    # 2w starts 2025-06-17: A's order 1, B's visit.
    ("Count2w", 1, 1, 0),
    ("SumQ1", 30.0, None, None),
    ("SumSince", 150.0, 20.0, None),  # from 2025-05-01 to as_of, every type (visits have no amount)
    ("ShoeOrders", 2, 0, 0),
    ("Returns", 1, 0, 0),
    ("BigOrOutdoor", 2, 0, 0),  # Amount >= 50 and outdoor or shoes: A's orders 1 and 2
    ("TotalTransactionValue", 160.0, 30.0, 0.0),
    ("TransactionCount", 4, 2, 0),
    ("AverageTransactionValue", 40.0, 15.0, None),
    ("DaysSinceLastPurchase", 0, (dt.date(2025, 6, 30) - dt.date(2025, 5, 1)).days, None),
    ("ActiveLifespan", (dt.date(2025, 6, 30) - dt.date(2024, 3, 1)).days, 30, None),
    ("AvgFromParts", 40.0, 15.0, None),
    ("Doubled", 81.0, 31.0, None),
]


@pytest.mark.parametrize(("name", "a", "b", "c"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_customer_measure(shop_run: tuple[Project, RunReport], name: str, a: object, b: object, c: object) -> None:
    got = measures(shop_run)
    assert (got["A"][name], got["B"][name], got["C"][name]) == (a, b, c)


def test_business_measures(shop_run: tuple[Project, RunReport]) -> None:
    p, _ = shop_run
    rows = p.sql("SELECT MeasureName, GroupBy, GroupKey, Value FROM BusinessMeasure ORDER BY 1, 3").to_pylist()
    got = {(r["MeasureName"], r["GroupKey"]): r["Value"] for r in rows}
    assert got == {
        ("Orders", ""): 6.0,
        ("RevenueByCategory", "beauty"): 20.0,
        ("RevenueByCategory", "home"): 10.0,
        ("RevenueByCategory", "outdoor"): 80.0,
        ("RevenueByCategory", "shoes"): 100.0,
        ("RevenueByMonth", "2024-03-01"): -20.0,
        ("RevenueByMonth", "2025-01-01"): 30.0,
        ("RevenueByMonth", "2025-04-01"): 10.0,
        ("RevenueByMonth", "2025-05-01"): 20.0,
        ("RevenueByMonth", "2025-06-01"): 150.0,
    }
    assert {r["GroupBy"] for r in rows if r["MeasureName"] == "RevenueByMonth"} == {"month"}


def test_as_of_and_later_activities_are_reported(shop_run: tuple[Project, RunReport]) -> None:
    _, report = shop_run
    stage = report.stage("measures")
    assert stage is not None
    assert stage.details["as_of"] == {"date": "2025-06-30", "reason": "configured (as_of)", "activities_after": 1}
    assert any("1 activities after as_of 2025-06-30" in w for w in stage.warnings)


def test_dim_customer_carries_the_measures(shop_run: tuple[Project, RunReport]) -> None:
    got = by_key(shop_run[0], "SELECT CustomerId, TotalTransactionValue, TopCategory FROM dim_customer")
    assert (got["A"]["TotalTransactionValue"], got["A"]["TopCategory"]) == (160.0, "outdoor")


def test_activity_columns_mapped(shop_run: tuple[Project, RunReport]) -> None:
    rows = (
        shop_run[0]
        .sql(
            "SELECT SourceActivityId, Category, IsReturn FROM UnifiedActivity WHERE ActivityType = "
            "'SalesOrder' ORDER BY 1"
        )
        .to_pylist()
    )
    assert [(r["Category"], r["IsReturn"]) for r in rows][:4] == [
        ("shoes", False),
        ("outdoor", False),
        ("outdoor", False),
        ("shoes", True),
    ]


def test_default_as_of_is_the_latest_activity(tmp_path: Path) -> None:
    p = shop(tmp_path, "measures:\n  - {name: Sum30d, aggregate: sum, of: Amount, window: 30d}\n", as_of=None)
    report = p.run()
    stage = report.stage("measures")
    assert stage is not None
    assert stage.details["as_of"] == {"date": "2025-07-02", "reason": "the latest activity", "activities_after": 0}
    got = by_key(p, "SELECT * FROM CustomerMeasure")
    assert (got["A"]["Sum30d"], got["B"]["Sum30d"]) == (1099.0, None)  # from 2025-06-03: orders 1 and 5


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ("- {name: X, aggregate: sum, of: Amont}", "measures[0].of", "unknown activity column 'Amont'; valid names:"),
        (
            "- {name: X, aggregate: count, where: [{field: Category, op: '>', value: 3}]}",
            "measures[0].where[0]",
            "op '>' does not apply to a string field; valid ops:",
        ),
        (
            "- {name: X, aggregate: count, where: [{field: Amount, op: '>', value: lots}]}",
            "measures[0].where[0]",
            "value 'lots' does not fit",
        ),
        ("- {name: X, expression: Y * 2}", "measures[0].expression", "unknown measure 'Y'"),
        (
            '- {name: X, aggregate: count}\n  - {name: Y, expression: "X; drop table Customer"}',
            "measures[1].expression",
            "",
        ),
        (
            "- {name: X, aggregate: count}\n  - {name: Y, expression: upper(X)}",
            "measures[1].expression",
            "upper is not allowed",
        ),
        (
            "- {name: X, expression: Y + 1}\n  - {name: Y, expression: X + 1}",
            "measures[0].expression",
            "cycle",
        ),
    ],
)
def test_run_time_errors_name_the_key(tmp_path: Path, body: str, key: str, message: str) -> None:
    p = shop(tmp_path, "measures:\n  " + body + "\n")
    with pytest.raises(ConfigError) as err:
        p.run()
    assert key in str(err.value) and message in str(err.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- {name: X, aggregate: sum}", "needs `of`"),
        ("- {name: X, aggregate: argmax, of: Amount}", "needs `by`"),
        ("- {name: X, aggregate: count, window: 30 days}", "is not a duration"),
        ("- {name: X, aggregate: median, of: Amount}", "'count_distinct', 'min', 'max', 'first', 'last', 'argmax'"),
        ("- {name: X, aggregate: count, group_by: [month]}", "group_by is for scope: business"),
        ("- {name: X, expression: a + 1, window: 30d}", "no from/of/by/window/where"),
        ("- {aggregate: count}", "name is required"),
        ("- {name: X, aggregate: count}\n  - {name: X, aggregate: count}", "defined twice"),
    ],
)
def test_config_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match="measures") as err:
        shop(tmp_path, "measures:\n  " + body + "\n")
    assert message in str(err.value)
