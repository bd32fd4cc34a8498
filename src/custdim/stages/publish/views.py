"""The logical data warehouse's derived views, as engine-neutral Ibis expressions over the exported entities.

``dim_customer`` is the enhanced customer dimension; ``fact_activity`` and ``dim_date`` complete a star schema
around it (facts keyed by CustomerId and DateKey). Every view is plain Ibis, with no engine's SQL in it, so that
the same definition compiles for DuckDB (the catalog) and for the engines :mod:`custdim.ldw.ddl` writes DDL for.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from custdim.contracts import (
    BRAND_AFFINITY,
    CHURN_PREDICTION,
    CLV_PREDICTION,
    CUSTOMER,
    CUSTOMER_MEASURE,
    INTEREST_AFFINITY,
    SEGMENT_MEMBERSHIP,
    UNIFIED_ACTIVITY,
)

PREDICTED_COLUMNS = {CLV_PREDICTION: ("CLVScore", "ValueBand"), CHURN_PREDICTION: ("ChurnScore", "RiskBand")}
"""The per-customer prediction columns dim_customer carries, by entity."""
TOP_AFFINITIES = {BRAND_AFFINITY: "TopBrands", INTEREST_AFFINITY: "TopInterests"}
"""The affinity entities whose top names dim_customer lists, and the list column's name."""
TOP = 3
DATE_DIGITS = 5
"""dim_date counts days with this many decimal digits: it spans at most 10**5 days (about 273 years)."""
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def dim_customer(
    customer: ir.Table,
    activity: ir.Table | None,
    measures: ir.Table | None = None,
    membership: ir.Table | None = None,
    predictions: dict[str, ir.Table] | None = None,
) -> ir.Table:
    """The enhanced customer dimension: one row per CustomerId, profile fields plus activity facts, every customer
    measure, ``CLVScore``/``ValueBand`` and ``ChurnScore``/``RiskBand`` (null without the model or a purchase),
    ``TopBrands``/``TopInterests`` (up to three names, highest affinity first) and ``Segments`` (the names of the
    customer's segments, sorted; null when none).

    An export without activities, measures, segments or predictions (an older one, or ``export.entities`` leaving
    them out) lacks their tables: the view then lacks their columns.
    """
    out = customer
    if activity is not None:
        facts = activity.group_by("CustomerId").agg(
            FirstActivityAt=activity.ActivityTimeStamp.min(),
            LastActivityAt=activity.ActivityTimeStamp.max(),
            ActivityCount=activity.count(),
            TotalAmount=activity.Amount.sum(),
        )
        j = customer.left_join(facts, customer.CustomerId == facts.CustomerId)
        out = j.select(
            *[customer[c] for c in customer.columns],
            facts.FirstActivityAt,
            facts.LastActivityAt,
            ActivityCount=facts.ActivityCount.fill_null(0),
            TotalAmount=facts.TotalAmount.fill_null(0.0),
        )
    if measures is not None:
        columns = [c for c in measures.columns if c != "CustomerId" and c not in out.columns]
        m = measures.select(_m_id=measures.CustomerId, **{c: measures[c] for c in columns})
        out = out.left_join(m, out.CustomerId == m._m_id).drop("_m_id")
    for name, table in (predictions or {}).items():
        if name in PREDICTED_COLUMNS:
            p = table.select(_p_id=table.CustomerId, **{c: table[c] for c in PREDICTED_COLUMNS[name]})
        elif name in TOP_AFFINITIES:
            top = table.filter(table.Rank <= TOP)
            p = top.group_by(_p_id=top.CustomerId).agg(**{TOP_AFFINITIES[name]: top.Name.collect(order_by=top.Rank)})
        else:
            continue
        out = out.left_join(p, out.CustomerId == p._p_id).drop("_p_id")
    if membership is not None:
        lists = membership.group_by(_s_id=membership.CustomerId).agg(
            Segments=membership.SegmentName.collect(order_by=membership.SegmentName)
        )
        out = out.left_join(lists, out.CustomerId == lists._s_id).drop("_s_id")
    return out


def date_key(date: ir.DateValue) -> ir.IntegerValue:
    """The yyyymmdd integer of a date (2026-03-05 -> 20260305), the key joining facts to dim_date."""
    return (date.year() * 10000 + date.month() * 100 + date.day()).cast("int32")


def fact_activity(activity: ir.Table) -> ir.Table:
    """One row per UnifiedActivity row: ``ActivityId``, ``CustomerId``, ``ActivityType``, ``DateKey`` (yyyymmdd of
    the activity's date, dim_date's key) and ``ActivityDate``, then every other UnifiedActivity column (but a
    source column that happens to be named DateKey or ActivityDate)."""
    day = activity.ActivityTimeStamp.date()
    keys = ("ActivityId", "CustomerId", "ActivityType")
    computed = ("DateKey", "ActivityDate")
    return activity.select(
        *[activity[c] for c in keys],
        DateKey=date_key(day),
        ActivityDate=day,
        **{c: activity[c] for c in activity.columns if c not in (*keys, *computed)},
    )


def _day_numbers() -> ir.Table:
    """0 .. 10**DATE_DIGITS - 1 in column ``n``, from constant rows only.

    A cross join of decimal digits rather than ``ibis.range``/unnest: T-SQL has no arrays, and the digit table
    (``SELECT 0 AS d UNION ALL ...``) compiles for every engine without reading any table.
    """
    digits = ibis.union(*[ibis.literal(i, "int32").name("d").as_table() for i in range(10)])
    places = [digits.select(**{f"d{p}": digits.d * 10**p}) for p in range(DATE_DIGITS)]
    joined = places[0]
    for place in places[1:]:
        joined = joined.cross_join(place)
    total: ir.IntegerValue = joined.d0
    for p in range(1, DATE_DIGITS):
        total = total + joined[f"d{p}"]
    return joined.select(n=total)


def dim_date(activity: ir.Table) -> ir.Table:
    """One row per calendar date from the first to the last activity date, without gaps (no rows without
    activities): ``DateKey`` (yyyymmdd), ``Date``, ``Year``, ``Quarter``, ``Month``, ``MonthName``, ``Day``,
    ``DayOfWeek`` (ISO: 1 = Monday .. 7 = Sunday), ``DayName``, ``WeekOfYear`` (ISO week) and ``IsWeekend``.

    Names are English whatever the engine's locale, and the weekday is counted from a known Monday (1900-01-01)
    rather than with engine functions whose first day depends on settings (T-SQL's DATEFIRST). Spans longer than
    10**DATE_DIGITS days are cut at that many days.
    """
    day = activity.ActivityTimeStamp.date()
    bounds = activity.aggregate(_first=day.min(), _last=day.max())
    numbers = _day_numbers()
    days = bounds.cross_join(numbers)
    days = days.filter(days.n <= days._last.delta(days._first, unit="day"))
    # DuckDB adds an interval to a date as a timestamp; Ibis types the sum as a date and would drop a plain
    # .cast("date"), so the cast is spelled as its operation.
    dates = days.select(Date=ops.Cast(days._first + days.n.as_interval("D"), dt.date).to_expr())
    d = dates.Date
    weekday = ((d.delta(ibis.date(1900, 1, 1), unit="day") % 7) + 7) % 7 + 1
    month = d.month()
    return dates.select(
        DateKey=date_key(d),
        Date=d,
        Year=d.year(),
        Quarter=d.quarter(),
        Month=month,
        MonthName=month.cases(*[(i, name) for i, name in enumerate(MONTH_NAMES, start=1)]),
        Day=d.day(),
        DayOfWeek=weekday,
        DayName=weekday.cases(*[(i, name) for i, name in enumerate(DAY_NAMES, start=1)]),
        WeekOfYear=d.week_of_year(),
        IsWeekend=weekday >= 6,
    )


def derived_views(schemas: dict[str, pa.Schema]) -> dict[str, ir.Table]:
    """Derived views over unbound tables named like the exported entities: ``dim_customer``, and the star schema's
    ``fact_activity`` and ``dim_date``, each only when the entities it reads are in ``schemas``."""
    tables = {name: ibis.table(ibis.schema(schema), name=name) for name, schema in schemas.items()}
    view = dim_customer(
        tables[CUSTOMER],
        tables.get(UNIFIED_ACTIVITY),
        tables.get(CUSTOMER_MEASURE),
        tables.get(SEGMENT_MEMBERSHIP),
        {n: tables[n] for n in (*PREDICTED_COLUMNS, *TOP_AFFINITIES) if n in tables},
    )
    views = {"dim_customer": view}
    if UNIFIED_ACTIVITY in tables:
        views["fact_activity"] = fact_activity(tables[UNIFIED_ACTIVITY])
        views["dim_date"] = dim_date(tables[UNIFIED_ACTIVITY])
    return views
