"""The star schema's derived views (fact_activity, dim_date), run on DuckDB and Spark over small activity tables."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from custdim.stages.publish.views import derived_views

ACTIVITY = pa.table(
    {
        "CustomerId": ["c1", "c1", "c2", "c3"],
        "ActivityId": ["a1", "a2", "a3", "a4"],
        "ActivityType": ["SalesOrder", "SalesOrder", "WebVisit", "SalesOrder"],
        "ActivityTimeStamp": pa.array(
            [
                dt.datetime(2025, 12, 30, 23, 59),
                dt.datetime(2026, 1, 2, 10, 0),
                dt.datetime(2026, 1, 2, 0, 0),
                dt.datetime(2026, 3, 1, 8, 30),
            ],
            pa.timestamp("us"),
        ),
        "Amount": [10.0, 20.0, None, 5.5],
        "status": ["done", "done", None, "returned"],
    }
)
CUSTOMER = pa.table({"CustomerId": ["c1", "c2", "c3"], "FirstName": ["Ann", "Bo", "Cy"]})
FIRST, LAST = dt.date(2025, 12, 30), dt.date(2026, 3, 1)
DIM_DATE_COLUMNS = [
    "DateKey",
    "Date",
    "Year",
    "Quarter",
    "Month",
    "MonthName",
    "Day",
    "DayOfWeek",
    "DayName",
    "WeekOfYear",
    "IsWeekend",
]


def views(activity: pa.Table = ACTIVITY) -> dict[str, ibis.Table]:
    return derived_views({"Customer": CUSTOMER.schema, "UnifiedActivity": activity.schema})


def run_duckdb(name: str, activity: pa.Table = ACTIVITY) -> list[dict[str, object]]:
    con = ibis.duckdb.connect()
    try:
        con.con.register("Customer", CUSTOMER)
        con.con.register("UnifiedActivity", activity)
        return list(con.con.sql(ibis.to_sql(views(activity)[name], dialect="duckdb")).to_arrow_table().to_pylist())
    finally:
        con.disconnect()


def by_date(rows: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {r["Date"]: r for r in rows}


def check_dim_date(rows: list[dict[str, object]]) -> None:
    assert list(rows[0]) == DIM_DATE_COLUMNS
    dates = sorted(by_date(rows))
    assert len(rows) == len(dates) == (LAST - FIRST).days + 1  # one row per day, first to last inclusive
    assert dates == [FIRST + dt.timedelta(days=i) for i in range(len(dates))]  # no gaps
    new_year = by_date(rows)[dt.date(2026, 1, 1)]  # a Thursday, in ISO week 1 of 2026
    assert new_year == {
        "DateKey": 20260101,
        "Date": dt.date(2026, 1, 1),
        "Year": 2026,
        "Quarter": 1,
        "Month": 1,
        "MonthName": "January",
        "Day": 1,
        "DayOfWeek": 4,
        "DayName": "Thursday",
        "WeekOfYear": 1,
        "IsWeekend": False,
    }
    # 2025-12-28 is a Sunday in ISO week 52 of 2025; the 29th a Monday that already belongs to week 1 of 2026.
    first = by_date(rows)[FIRST]
    assert (first["DayOfWeek"], first["DayName"], first["WeekOfYear"], first["Quarter"]) == (2, "Tuesday", 1, 4)
    sunday = by_date(rows)[dt.date(2026, 3, 1)]
    assert (sunday["DayOfWeek"], sunday["DayName"], sunday["IsWeekend"], sunday["MonthName"]) == (
        7,
        "Sunday",
        True,
        "March",
    )
    assert sum(1 for r in rows if r["IsWeekend"]) == sum(1 for d in dates if d.isoweekday() >= 6)
    assert all(r["DayOfWeek"] == r["Date"].isoweekday() for r in rows)  # type: ignore[attr-defined]
    assert all(r["WeekOfYear"] == r["Date"].isocalendar().week for r in rows)  # type: ignore[attr-defined]


def check_fact_activity(rows: list[dict[str, object]]) -> None:
    assert list(rows[0])[:5] == ["ActivityId", "CustomerId", "ActivityType", "DateKey", "ActivityDate"]
    assert set(rows[0]) == {*ACTIVITY.column_names, "DateKey", "ActivityDate"}
    got = {r["ActivityId"]: (r["CustomerId"], r["DateKey"], r["ActivityDate"], r["status"]) for r in rows}
    assert got == {
        "a1": ("c1", 20251230, dt.date(2025, 12, 30), "done"),
        "a2": ("c1", 20260102, dt.date(2026, 1, 2), "done"),
        "a3": ("c2", 20260102, dt.date(2026, 1, 2), None),
        "a4": ("c3", 20260301, dt.date(2026, 3, 1), "returned"),
    }


def test_the_views_exist_only_with_activities() -> None:
    assert set(views()) == {"dim_customer", "fact_activity", "dim_date"}
    # dim_customer is unchanged by the star schema's views.
    assert views()["dim_customer"].columns[:2] == ("CustomerId", "FirstName")


def test_dim_date_on_duckdb_is_one_row_per_day_without_gaps() -> None:
    check_dim_date(run_duckdb("dim_date"))


def test_fact_activity_on_duckdb_keys_every_activity_by_customer_and_date() -> None:
    check_fact_activity(run_duckdb("fact_activity"))


def test_every_fact_finds_its_date() -> None:
    facts, dates = run_duckdb("fact_activity"), run_duckdb("dim_date")
    assert {r["DateKey"] for r in facts} <= {r["DateKey"] for r in dates}


def test_dim_date_of_one_day_and_of_no_activities() -> None:
    one = ACTIVITY.slice(1, 1)
    assert [r["DateKey"] for r in run_duckdb("dim_date", one)] == [20260102]
    assert run_duckdb("dim_date", ACTIVITY.slice(0, 0)) == []


def test_dim_date_spans_years() -> None:
    # 2000-02-29 .. 2003-01-01: leap day, year ends, ISO week 53 of 2002 is absent (2002 has 52 weeks).
    stamps = pa.array([dt.datetime(2000, 2, 29), dt.datetime(2003, 1, 1)], pa.timestamp("us"))
    activity = ACTIVITY.slice(0, 2).set_column(3, "ActivityTimeStamp", stamps)
    rows = run_duckdb("dim_date", activity)
    assert len(rows) == (dt.date(2003, 1, 1) - dt.date(2000, 2, 29)).days + 1
    assert all(r["DateKey"] == int(r["Date"].strftime("%Y%m%d")) for r in rows)  # type: ignore[attr-defined]
    assert all(r["WeekOfYear"] == r["Date"].isocalendar().week for r in rows)  # type: ignore[attr-defined]


@pytest.mark.spark
def test_the_views_on_spark(spark_session: object) -> None:
    spark = spark_session
    _ = ibis.pyspark  # loads the backend, which registers the options its SQL compiler reads
    for name, table in (("Customer", CUSTOMER), ("UnifiedActivity", ACTIVITY)):
        spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)  # type: ignore[attr-defined]
    out = {}
    for name in ("fact_activity", "dim_date"):
        frame = spark.sql(ibis.to_sql(views()[name], dialect="pyspark"))  # type: ignore[attr-defined]
        out[name] = [row.asDict() for row in frame.collect()]
    check_fact_activity(out["fact_activity"])
    check_dim_date(out["dim_date"])
