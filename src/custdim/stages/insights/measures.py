"""The measures stage: CustomerMeasure (one row per profile, one column per customer measure) and BusinessMeasure.

Every sum, average, count, minimum, maximum and day count is computed in one aggregate over the activities, each
with its own filter (types, window, ``where``): one pass however many measures there are. first/last and
argmax/argmin need a ranking and get one query each; expressions are evaluated last, over the
joined columns, in the order their references need. Activities after ``as_of`` are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.config.measures import TIME_GROUPS, Measure
from custdim.contracts import BUSINESS_MEASURE, CUSTOMER, CUSTOMER_MEASURE, INSIGHT_ENTITIES, UNIFIED_ACTIVITY
from custdim.errors import ConfigError
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.insights.asof import AsOf, in_window, resolve_as_of
from custdim.stages.insights.expression import compile_expression, references
from custdim.stages.insights.predicates import Where, column_of, predicate

# template -> (aggregate, of, default); every template reads SalesOrder activities unless `from` says otherwise.
TEMPLATES: dict[str, tuple[str, str | None, float | None]] = {
    "average_transaction_value": ("avg", "Amount", None),
    "total_transaction_value": ("sum", "Amount", 0.0),
    "transaction_count": ("count", None, None),
    "days_since_last_purchase": ("days_since_last", "ActivityTimeStamp", None),
    "active_lifespan": ("lifespan_days", "ActivityTimeStamp", None),
}
BUSINESS_SCHEMA = pa.schema(
    [("MeasureName", pa.string()), ("GroupBy", pa.string()), ("GroupKey", pa.string()), ("Value", pa.float64())]
)
SIMPLE = ("sum", "avg", "count", "count_distinct", "min", "max", "days_since_last", "lifespan_days")


@dataclass(frozen=True)
class Plan:
    """One measure resolved: templates expanded, its position in the project file kept for errors."""

    index: int
    measure: Measure
    aggregate: str | None
    of: str | None
    types: tuple[str, ...] | None
    default: object

    @property
    def name(self) -> str:
        return self.measure.column


def plan(measures: list[Measure]) -> list[Plan]:
    out = []
    for i, m in enumerate(measures):
        if m.template is not None:
            aggregate, of, default = TEMPLATES[m.template]
            types = tuple(m.from_types or ["SalesOrder"])
            out.append(Plan(i, m, aggregate, of, types, m.default if m.default is not None else default))
        else:
            out.append(Plan(i, m, m.aggregate, m.of, tuple(m.from_types) if m.from_types else None, m.default))
    return out


def selection(ctx: RunContext, p: Plan, activity: ir.Table, as_of: AsOf) -> ir.BooleanValue:
    """Whether an activity row is one the measure reads: its types, window and ``where`` conditions."""
    where = Where(ctx.config.file, f"measures[{p.index}]")
    test = in_window(activity.ActivityTimeStamp, as_of, p.measure.window)
    if p.types is not None:
        test = test & activity.ActivityType.isin(list(p.types))
    for k, f in enumerate(p.measure.where):
        w = Where(where.file, f"{where.key}.where[{k}]")
        test = test & predicate(column_of(activity, f.field, w, "activity column"), f.op, f.value, w, as_of)
    return test


def selected(ctx: RunContext, p: Plan, activity: ir.Table, as_of: AsOf) -> ir.Table:
    """The activity rows a measure reads."""
    return activity.filter(selection(ctx, p, activity, as_of))


def _check_columns(ctx: RunContext, p: Plan, activity: ir.Table) -> None:
    for key in ("of", "by"):
        name = p.of if key == "of" else p.measure.by
        if name is not None:
            column_of(activity, name, Where(ctx.config.file, f"measures[{p.index}].{key}"), "activity column")


def _simple(p: Plan, t: ir.Table, as_of: AsOf, where: ir.BooleanValue | None = None) -> ir.Value:
    """The aggregate of one measure over ``t``, over the rows where ``where`` holds (all rows when None)."""
    of = t[p.of] if p.of else None
    match p.aggregate:
        case "sum":
            return of.sum(where=where)  # type: ignore[union-attr]
        case "avg":
            return of.mean(where=where)  # type: ignore[union-attr]
        case "count":
            n = t.count(where=where) if of is None else of.count(where=where)
            # With a default, a customer with nothing counted gets the default, as one with no activity at all does.
            return n.nullif(0) if p.default is not None else n
        case "count_distinct":
            n = of.nunique(where=where)  # type: ignore[union-attr]
            return n.nullif(0) if p.default is not None else n
        case "min":
            return of.min(where=where)  # type: ignore[union-attr]
        case "max":
            return of.max(where=where)  # type: ignore[union-attr]
        case "days_since_last":
            last = t.ActivityTimeStamp.max(where=where).date()
            return ibis.literal(as_of.date, "date").delta(last, unit="day").cast("int64")
        case "lifespan_days":
            ts = t.ActivityTimeStamp
            first, last = ts.min(where=where).date(), ts.max(where=where).date()
            return last.delta(first, unit="day").cast("int64")
    raise AssertionError(p.aggregate)


def _ranked(p: Plan, t: ir.Table) -> ir.Table:
    """first/last: ``of`` at the earliest/latest activity; argmax/argmin: the ``by`` value with the largest/smallest
    total of ``of`` (or number of activities). Ties go to the earlier activity id / the smaller value."""
    m = p.measure
    if p.aggregate in ("first", "last"):
        order = t.ActivityTimeStamp.asc() if p.aggregate == "first" else t.ActivityTimeStamp.desc()
        key = ibis.row_number().over(group_by=t.CustomerId, order_by=[order, t.ActivityId.asc()])
        ranked = t.select("CustomerId", value=t[p.of], _k=key)
    else:
        assert m.by is not None
        kept = t.filter(t[m.by].notnull())
        score = kept[p.of].sum() if p.of else kept.count()
        totals = kept.group_by(["CustomerId", m.by]).agg(_score=score)
        best = totals._score.desc() if p.aggregate == "argmax" else totals._score.asc()
        key = ibis.row_number().over(group_by=totals.CustomerId, order_by=[best, totals[m.by].asc()])
        ranked = totals.select("CustomerId", value=totals[m.by], _k=key)
    top = ranked.filter(ranked._k == 0)
    return top.select("CustomerId", **{p.name: top.value})


def customer_measures(ctx: RunContext, customers: ir.Table, activity: ir.Table, as_of: AsOf) -> ir.Table:
    """CustomerId and one column per customer measure, for every profile."""
    plans = [p for p in plan(ctx.config.measures) if p.measure.scope == "customer"]
    out = customers.select("CustomerId")
    parts: list[ir.Table] = []
    simple: list[Plan] = []
    for p in plans:
        if p.measure.expression is not None:
            continue
        _check_columns(ctx, p, activity)
        if p.aggregate in SIMPLE:
            simple.append(p)
        else:
            parts.append(_ranked(p, selected(ctx, p, activity, as_of)))
    if simple:
        # One pass for every simple measure: each aggregate filters its own rows (its types, window and `where`),
        # over the rows that any of them can read.
        t = activity.filter(activity.ActivityTimeStamp < ibis.literal(as_of.end, "timestamp"))
        if all(p.types is not None for p in simple):
            t = t.filter(t.ActivityType.isin(sorted({k for p in simple for k in p.types or ()})))
        aggregates = {}
        for p in simple:
            test = selection(ctx, p, t, as_of)
            aggregates[p.name] = _simple(p, t, as_of, test)
        parts.append(t.group_by("CustomerId").agg(**aggregates))
    for part in parts:
        out = out.left_join(part, out.CustomerId == part.CustomerId).drop("CustomerId_right")
    values: dict[str, ir.Value] = {}
    for p in plans:
        if p.measure.expression is not None:
            continue
        v = out[p.name]
        if p.aggregate in ("count", "count_distinct") and p.default is None:
            v = v.fill_null(0)  # nothing counted is zero
        elif p.default is not None:
            v = v.fill_null(ibis.literal(p.default).cast(v.type()))
        values[p.name] = v
    for p in _expression_order(ctx, plans):
        assert p.measure.expression is not None
        values[p.name] = compile_expression(
            p.measure.expression, dict(values), ctx.config.file, f"measures[{p.index}].expression"
        )
    return out.select("CustomerId", **{p.name: values[p.name] for p in plans})


def _expression_order(ctx: RunContext, plans: list[Plan]) -> list[Plan]:
    """Expression measures after the measures they use; a cycle or an unknown name is a ConfigError."""
    names = {p.name for p in plans}
    pending = {p.name: p for p in plans if p.measure.expression is not None}
    done = {p.name for p in plans if p.measure.expression is None}
    ordered: list[Plan] = []
    while pending:
        progressed = False
        for name, p in list(pending.items()):
            key = f"measures[{p.index}].expression"
            refs = references(p.measure.expression or "", ctx.config.file, key)
            unknown = [r for r in refs if r not in names]
            if unknown:
                raise ConfigError(
                    ctx.config.file,
                    key,
                    f"unknown measure {unknown[0]!r}; valid names: {', '.join(sorted(names - {name}))}",
                )
            if all(r in done for r in refs):
                ordered.append(p)
                done.add(name)
                del pending[name]
                progressed = True
        if not progressed:
            p = next(iter(pending.values()))
            raise ConfigError(
                ctx.config.file,
                f"measures[{p.index}].expression",
                f"expressions refer to each other in a cycle: {', '.join(sorted(pending))}",
            )
    return ordered


def business_measures(ctx: RunContext, activity: ir.Table, as_of: AsOf) -> ir.Table | None:
    """MeasureName, GroupBy, GroupKey, Value: one row per business measure and group (None without any)."""
    parts = []
    for p in plan(ctx.config.measures):
        if p.measure.scope != "business":
            continue
        _check_columns(ctx, p, activity)
        t = selected(ctx, p, activity, as_of)
        keys: dict[str, ir.Value] = {}
        for k, g in enumerate(p.measure.group_by):
            if g in TIME_GROUPS:
                unit = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}[g]
                keys[f"_g{k}"] = t.ActivityTimeStamp.truncate(unit).date().cast("string")
            else:
                where = Where(ctx.config.file, f"measures[{p.index}].group_by[{k}]")
                keys[f"_g{k}"] = column_of(t, g, where, "activity column or " + "/".join(TIME_GROUPS)).cast("string")
        t = t.mutate(**keys)
        value = _simple(p, t, as_of).cast("float64")
        agg = t.group_by(list(keys)).agg(_v=value) if keys else t.aggregate(_v=value)
        key = ibis.literal("")
        for k in range(len(keys)):
            key = (key + ibis.literal(" | ") if k else key) + agg[f"_g{k}"].fill_null("(none)")
        parts.append(
            agg.select(
                MeasureName=ibis.literal(p.name),
                GroupBy=ibis.literal(", ".join(p.measure.group_by)),
                GroupKey=key,
                Value=agg._v,
            )
        )
    if not parts:
        return None
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake = ctx.engine, ctx.lake
    activity = engine.read(lake.entity(UNIFIED_ACTIVITY))
    customers = engine.read(lake.entity(CUSTOMER))
    report.rows_in[UNIFIED_ACTIVITY] = engine.row_count(lake.entity(UNIFIED_ACTIVITY))
    report.rows_in[CUSTOMER] = engine.row_count(lake.entity(CUSTOMER))
    as_of = resolve_as_of(ctx.config.as_of, activity, engine.to_arrow)
    after = engine.count(activity.filter(activity.ActivityTimeStamp >= ibis.literal(as_of.end, "timestamp")))
    report.details["as_of"] = {"date": as_of.date.isoformat(), "reason": as_of.reason, "activities_after": after}
    if after:
        report.warn(f"{after} activities after as_of {as_of.date} are left out of measures and segments")
    with ctx.steps("measures", 2) as advance:
        measures = customer_measures(ctx, customers, activity, as_of)
        report.rows_out[CUSTOMER_MEASURE] = engine.write(measures, lake.entity(CUSTOMER_MEASURE))
        advance()
        business = business_measures(ctx, activity, as_of)
        if business is None:
            business = engine.from_arrow(BUSINESS_SCHEMA.empty_table())
        report.rows_out[BUSINESS_MEASURE] = engine.write(business, lake.entity(BUSINESS_MEASURE))
        advance()
    report.details["measures"] = [p.name for p in plan(ctx.config.measures)]


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.entity(n) for n in INSIGHT_ENTITIES[:2]]


STAGE = StageSpec("measures", ("activities",), run, outputs, "compute measures (CustomerMeasure, BusinessMeasure)")
