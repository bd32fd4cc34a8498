"""First-party brand and interest affinity: how much more of their spend a customer gives a brand (or category) than
the population does, as a score 1-100 with a level; writes ``BrandAffinity`` and ``InterestAffinity``.

For customer ``c`` and value ``v`` (a brand or an interest) over the non-return rows of the affinity activity before
the end of ``as_of`` with a positive amount:

- ``s`` = c's spend on v, ``S`` = c's spend on all values, ``P`` = v's share of everyone's spend;
- smoothed share = (s + k·P) / (S + k), with k = everyone's spend / number of buying customers (the mean
  customer's spend): a customer who spent little is pulled towards the population's mix, so one small purchase is
  not a "Very high" affinity;
- lift = smoothed share / P (1 = buys v exactly like everyone else);
- Score = round(100 · lift / (lift + 1)), kept in 1..100: lift 1 scores 50, lift 2.33 scores 70, lift 5.67
  scores 85, lift 0.5 scores 33;
- Level: Very high 85-100, High 70-84, Medium 35-69, Low 1-34 (the Customer Insights scale).

Only values the customer bought get a row; ``Rank`` orders a customer's values by Score, then spend, then name.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.config.predictions import Affinity
from custdim.contracts import BRAND_AFFINITY, INTEREST_AFFINITY, UNIFIED_ACTIVITY
from custdim.report import StageReport
from custdim.stages.context import RunContext
from custdim.stages.insights.asof import AsOf, resolve_as_of
from custdim.stages.insights.predicates import Where, column_of
from custdim.stages.predictions.clv import purchase_rows

SCHEMA = pa.schema(
    [
        ("CustomerId", pa.string()),
        ("Name", pa.string()),
        ("Score", pa.int64()),
        ("Level", pa.string()),
        ("Rank", pa.int64()),
        ("Spend", pa.float64()),
        ("Share", pa.float64()),
        ("PopulationShare", pa.float64()),
    ]
)
LEVELS = ((85, "Very high"), (70, "High"), (35, "Medium"), (1, "Low"))
"""Lowest score of each level."""
TOP = 3
"""How many of each customer's values dim_customer lists."""


def scores(activity: ir.Table, kind: str, column: ir.Column, as_of: AsOf) -> ir.Table:
    """The affinity rows (SCHEMA) of every customer over the values of ``column`` (a column of ``activity``)."""
    a = purchase_rows(activity.mutate(_v=column.cast("string")), kind, None, as_of.end)
    a = a.filter(a._v.notnull() & (a.Amount > 0))
    spend = a.group_by(CustomerId=a.CustomerId, Name=a._v).agg(s=a.Amount.sum().cast("float64"))
    per_customer = spend.group_by(_cid=spend.CustomerId).agg(S=spend.s.sum())
    per_value = spend.group_by(_name=spend.Name).agg(V=spend.s.sum())
    totals = per_customer.aggregate(total=per_customer.S.sum(), buyers=per_customer.count())
    j = spend.join(per_customer, spend.CustomerId == per_customer._cid)
    j = j.join(per_value, j.Name == per_value._name).cross_join(totals)
    population = j.V / j.total
    k = j.total / j.buyers.cast("float64")
    share = (j.s + k * population) / (j.S + k)
    lift = share / population
    raw = (lift * 100 / (lift + 1)).round().cast("int64")
    score = ibis.greatest(ibis.least(raw, 100), 1)
    t = j.select("CustomerId", "Name", Score=score, Spend=j.s, Share=j.s / j.S, PopulationShare=population)
    level = ibis.cases(*((t.Score >= low, name) for low, name in LEVELS[:-1]), else_=LEVELS[-1][1])
    w = ibis.window(group_by=t.CustomerId, order_by=[t.Score.desc(), t.Spend.desc(), t.Name])
    t = t.mutate(Level=level, Rank=(ibis.row_number().over(w) + 1).cast("int64"))
    return t.select(*SCHEMA.names).cast(ibis.schema(SCHEMA))


def write_empty(ctx: RunContext, entity: str) -> int:
    """An empty affinity table (affinity off, or the field left out): the export keeps its shape."""
    return int(ctx.engine.write(ctx.engine.from_arrow(SCHEMA.empty_table()), ctx.lake.entity(entity)))


def run(ctx: RunContext, report: StageReport, settings: Affinity) -> dict[str, Any]:
    """Write BrandAffinity and InterestAffinity; returns what the run report keeps (rows, customers, values)."""
    engine, lake = ctx.engine, ctx.lake
    activity = engine.read(lake.entity(UNIFIED_ACTIVITY))
    as_of = resolve_as_of(ctx.config.as_of, activity, engine.to_arrow)
    summary: dict[str, Any] = {"activity": settings.activity, "as_of": as_of.date.isoformat()}
    for entity, field, key in (
        (BRAND_AFFINITY, settings.brand_field, "brand_field"),
        (INTEREST_AFFINITY, settings.interest_field, "interest_field"),
    ):
        if field is None:
            report.rows_out[entity] = write_empty(ctx, entity)
            continue
        where = Where(ctx.config.file, f"predictions.affinity.{key}")
        column = column_of(activity, field, where, "UnifiedActivity column")
        rows = engine.write(scores(activity, settings.activity, column, as_of), lake.entity(entity))
        report.rows_out[entity] = rows
        written = engine.read(lake.entity(entity))
        facts = engine.to_arrow(
            written.aggregate(customers=written.CustomerId.nunique(), values=written.Name.nunique())
        ).to_pylist()[0]
        summary[entity] = {"field": field, "rows": int(rows), **facts}
        if rows == 0:
            report.warn(
                f"{entity}: no {settings.activity} rows with a {field} and a positive amount before "
                f"{as_of.date}; the table is empty"
            )
    return summary
