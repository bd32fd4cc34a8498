"""The segments stage: SegmentMembership (SegmentName, CustomerId) and SegmentHistory.

Every segment becomes one boolean column of a single per-customer table, computed in reference order (a set
operation is OR / AND / AND NOT of the columns it names), so all segments cost one pass over the profiles plus one
aggregate per distinct activity condition. The history compares this run's members with the last published
export's and appends a row per segment: members, added, removed.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.config import ProjectConfig
from custdim.config.segments import ALL_CUSTOMERS, Condition
from custdim.contracts import (
    BRAND_AFFINITY,
    CHURN_PREDICTION,
    CLV_PREDICTION,
    CUSTOMER,
    CUSTOMER_MEASURE,
    INSIGHT_ENTITIES,
    INTEREST_AFFINITY,
    SEGMENT_HISTORY,
    SEGMENT_HISTORY_ENTITIES,
    SEGMENT_MEMBERSHIP,
    UNIFIED_ACTIVITY,
)
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.insights.asof import AsOf, resolve_as_of, window_start
from custdim.stages.insights.predicates import Where, column_of, predicate
from custdim.stages.publish.snapshots import published

MEMBERSHIP_SCHEMA = pa.schema([("SegmentName", pa.string()), ("CustomerId", pa.string())])
HISTORY_SCHEMA = pa.schema(
    [
        ("RunId", pa.string()),
        ("AsOf", pa.date32()),
        ("RunAt", pa.timestamp("us")),
        ("SegmentName", pa.string()),
        ("Members", pa.int64()),
        ("Added", pa.int64()),
        ("Removed", pa.int64()),
    ]
)
ACTIVITY_COUNT_OPS = ("=", "!=", ">", ">=", "<", "<=", "exists", "not_exists")


TOP_AFFINITY = {BRAND_AFFINITY: "TopBrand", INTEREST_AFFINITY: "TopInterest"}
"""Affinity entities and the field holding each customer's highest-affinity value (its score: the field + Score)."""
PREDICTED_FIELDS = {
    CLV_PREDICTION: ("CLVScore", "ValueBand", "ExpectedPurchases", "ProbabilityAlive"),
    CHURN_PREDICTION: ("ChurnScore", "IsChurn", "RiskBand"),
    **{entity: (field, f"{field}Score") for entity, field in TOP_AFFINITY.items()},
}
"""The prediction outputs segments can use, by entity."""


def profiles(customers: ir.Table, measures: ir.Table, predictions: dict[str, ir.Table] | None = None) -> ir.Table:
    """Every profile field, every customer measure and the predicted fields, one row per CustomerId."""
    out = customers.left_join(measures, customers.CustomerId == measures.CustomerId)
    out = out.select(*customers.columns, *[c for c in measures.columns if c != "CustomerId"])
    for name, table in (predictions or {}).items():
        if name in TOP_AFFINITY:
            top = table.filter(table.Rank == 1)
            field = TOP_AFFINITY[name]
            table = top.select("CustomerId", **{field: top.Name, f"{field}Score": top.Score})
        fields = [c for c in PREDICTED_FIELDS[name] if c in table.columns and c not in out.columns]
        p = table.select(_p_id=table.CustomerId, **{c: table[c] for c in fields})
        out = out.left_join(p, out.CustomerId == p._p_id).drop("_p_id")
    return out


class Compiler:
    """Turns condition trees into boolean expressions over the profile table with activity counts joined.

    Two passes: ``collect`` finds the activity conditions (one count column per distinct type and window), then
    ``compile`` builds the expressions over ``table()``.
    """

    def __init__(self, config: ProjectConfig, profile: ir.Table, activity: ir.Table, as_of: AsOf) -> None:
        self.config, self.profile, self.activity, self.as_of = config, profile, activity, as_of
        self.counts: dict[tuple[str, str | None], str] = {}  # (activity type, within) -> count column
        self._table: ir.Table | None = None

    def where(self, key: str) -> Where:
        return Where(self.config.file, key)

    def collect(self, c: Condition, key: str) -> None:
        for i, x in enumerate(c.all or []):
            self.collect(x, f"{key}.all[{i}]")
        for i, x in enumerate(c.any or []):
            self.collect(x, f"{key}.any[{i}]")
        if c.not_ is not None:
            self.collect(c.not_, f"{key}.not")
        if c.activity is not None:
            w = self.where(key)
            if c.op not in ACTIVITY_COUNT_OPS:
                valid = ", ".join(ACTIVITY_COUNT_OPS)
                raise w.error(f"op {c.op!r} does not apply to an activity; valid ops: {valid}")
            if c.within is not None:
                window_start(self.as_of, c.within, w)
            self.counts.setdefault((c.activity, c.within), f"_activity_{len(self.counts)}")

    def table(self) -> ir.Table:
        """The profile table with one activity count column per distinct (type, within)."""
        if self._table is not None:
            return self._table
        t = self.profile
        a = self.activity
        upto = a.ActivityTimeStamp < ibis.literal(self.as_of.end, "timestamp")
        for (kind, within), name in self.counts.items():
            test = upto
            if kind != "*":
                test = test & (a.ActivityType == kind)
            if within is not None:
                test = test & (a.ActivityTimeStamp >= ibis.literal(window_start(self.as_of, within), "timestamp"))
            hits = a.filter(test)
            counts = hits.group_by(_c=hits.CustomerId).agg(_n=hits.count())
            j = t.left_join(counts, t.CustomerId == counts._c)
            t = j.select(*t.columns, **{name: j._n.fill_null(0)})
        self._table = t
        return t

    def compile(self, c: Condition, key: str) -> ir.BooleanValue:
        if c.all is not None:
            return _fold([self.compile(x, f"{key}.all[{i}]") for i, x in enumerate(c.all)], "and")
        if c.any is not None:
            return _fold([self.compile(x, f"{key}.any[{i}]") for i, x in enumerate(c.any)], "or")
        if c.not_ is not None:
            return ~self.compile(c.not_, f"{key}.not")
        assert c.op is not None
        t = self.table()
        if c.field is not None:
            w = self.where(f"{key}.field")
            return predicate(column_of(t, c.field, w), c.op, c.value, w, self.as_of)
        w = self.where(key)
        n = t[self.counts[(c.activity or "*", c.within)]]
        if c.op in ("exists", "not_exists"):
            if c.value is not None:
                raise w.error(f"op {c.op} takes no value")
            return n > 0 if c.op == "exists" else n == 0
        if isinstance(c.value, bool) or not isinstance(c.value, int):
            raise w.error(f"op {c.op!r} on an activity compares its count: value must be a whole number")
        compare = {"=": "__eq__", "!=": "__ne__", ">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__"}
        result: ir.BooleanValue = getattr(n, compare[c.op])(c.value)
        return result


def _fold(parts: list[ir.BooleanValue], how: str) -> ir.BooleanValue:
    out = parts[0]
    for p in parts[1:]:
        out = (out & p) if how == "and" else (out | p)
    return out


def segment_flags(
    config: ProjectConfig, profile: ir.Table, activity: ir.Table, as_of: AsOf, only: str | None = None
) -> tuple[ir.Table, list[str]]:
    """CustomerId and one boolean column per segment (``_s0``, ...), and the segment names in that order.

    ``only``: just that segment and the segments it refers to (a preview must not fail on an unrelated segment).
    Pure query building: the segments stage runs it on the run's engine, ``custdim segment preview`` on the
    published views.
    """
    compiler = Compiler(config, profile, activity, as_of)
    ordered = config.segment_order()
    if only is not None:
        needed = _referenced(config, only)
        ordered = [s for s in ordered if s.name in needed]
    index = {s.name: i for i, s in enumerate(config.segments)}
    for s in ordered:
        key = f"segments[{index[s.name]}]"
        for i, c in enumerate(s.all or []):
            compiler.collect(c, f"{key}.all[{i}]")
        for i, c in enumerate(s.any or []):
            compiler.collect(c, f"{key}.any[{i}]")
    t = compiler.table()
    exprs: dict[str, ir.BooleanValue] = {ALL_CUSTOMERS: ibis.literal(True)}
    for s in ordered:
        key = f"segments[{index[s.name]}]"
        parts = [compiler.compile(c, f"{key}.all[{i}]") for i, c in enumerate(s.all or [])]
        if s.any:
            parts.append(_fold([compiler.compile(c, f"{key}.any[{i}]") for i, c in enumerate(s.any)], "or"))
        condition = _fold(parts, "and") if parts else ibis.literal(True)
        # A set operation repeats the expressions of the segments it names: one pass computes every segment.
        union = [exprs[r.removeprefix("segment:")] for r in s.union]
        out = (_fold(union, "or") if union else ibis.literal(True)) & condition
        for r in s.intersect:
            out = out & exprs[r.removeprefix("segment:")]
        for r in s.except_:
            out = out & ~exprs[r.removeprefix("segment:")]
        exprs[s.name] = out.fill_null(False)
    names = [s.name for s in ordered]
    return t.select("CustomerId", **{f"_s{i}": exprs[n] for i, n in enumerate(names)}), names


def _referenced(config: ProjectConfig, name: str) -> set[str]:
    """``name`` and every segment it refers to, directly or through others."""
    by_name = {s.name: s for s in config.segments}
    seen: set[str] = set()
    todo = [name]
    while todo:
        n = todo.pop()
        if n in seen or n not in by_name:
            continue
        seen.add(n)
        todo.extend(by_name[n].references())
    return seen


def membership(flags: ir.Table, names: list[str]) -> ir.Table | None:
    parts = [
        flags.filter(flags[f"_s{i}"]).select(SegmentName=ibis.literal(name), CustomerId=flags.CustomerId)
        for i, name in enumerate(names)
    ]
    if not parts:
        return None
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def history(
    ctx: RunContext, current: ir.Table, previous: ir.Table | None, old: ir.Table | None, as_of: AsOf
) -> ir.Table:
    """Earlier history rows plus one row per segment of this run: members, added and removed since the last run."""
    names = [s.name for s in ctx.config.segments]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    cur = current.select("SegmentName", "CustomerId", _cur=ibis.literal(1))
    if previous is None:
        counts = cur.group_by("SegmentName").agg(Members=cur.count(), Added=cur.count(), Removed=ibis.literal(0))
        counts = counts.mutate(Removed=ibis.literal(0, "int64"))
    else:
        prev = previous.filter(previous.SegmentName.isin(names)).select(
            p_name=previous.SegmentName, p_id=previous.CustomerId, _prev=ibis.literal(1)
        )
        j = cur.outer_join(prev, [cur.SegmentName == prev.p_name, cur.CustomerId == prev.p_id])
        j = j.select(name=ibis.coalesce(j.SegmentName, j.p_name), c=j._cur.notnull(), p=j._prev.notnull())
        counts = j.group_by(SegmentName=j.name).agg(
            Members=j.c.sum().cast("int64"),
            Added=(j.c & ~j.p).sum().cast("int64"),
            Removed=(~j.c & j.p).sum().cast("int64"),
        )
    # Segments with no members at all still get their row.
    rows = ctx.engine.from_arrow(pa.table({"_name": pa.array(names, pa.string())}))
    j2 = rows.left_join(counts, rows._name == counts.SegmentName)
    this_run = j2.select(
        RunId=ibis.literal(ctx.run_id),
        AsOf=ibis.literal(as_of.date, "date"),
        RunAt=ibis.literal(now, "timestamp"),
        SegmentName=j2._name,
        Members=j2.Members.fill_null(0).cast("int64"),
        Added=j2.Added.fill_null(0).cast("int64"),
        Removed=j2.Removed.fill_null(0).cast("int64"),
    )
    if old is None:
        return this_run
    earlier = old.filter(old.RunId != ctx.run_id).select(*HISTORY_SCHEMA.names)
    return ibis.union(earlier.cast(this_run.schema()), this_run)


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake = ctx.engine, ctx.lake
    activity = engine.read(lake.entity(UNIFIED_ACTIVITY))
    as_of = resolve_as_of(ctx.config.as_of, activity, engine.to_arrow)
    predictions = {name: engine.read(lake.entity(name)) for name in PREDICTED_FIELDS}
    profile = profiles(engine.read(lake.entity(CUSTOMER)), engine.read(lake.entity(CUSTOMER_MEASURE)), predictions)
    # Read before anything is written: the previous export may share files with nothing of this run, but the
    # history must compare with what readers saw.
    before = published(lake, engine, SEGMENT_HISTORY_ENTITIES)
    with ctx.steps("segments", 2) as advance:
        flags, names = segment_flags(ctx.config, profile, activity, as_of)
        members = membership(flags, names)
        table = engine.from_arrow(MEMBERSHIP_SCHEMA.empty_table()) if members is None else members
        report.rows_out[SEGMENT_MEMBERSHIP] = engine.write(table, lake.entity(SEGMENT_MEMBERSHIP))
        advance()
        current = engine.read(lake.entity(SEGMENT_MEMBERSHIP))
        rows = history(ctx, current, before.get(SEGMENT_MEMBERSHIP), before.get(SEGMENT_HISTORY), as_of)
        report.rows_out[SEGMENT_HISTORY] = engine.write(rows, lake.entity(SEGMENT_HISTORY))
        advance()
    latest = engine.to_arrow(rows.filter(rows.RunId == ctx.run_id)).to_pylist()
    found = {r["SegmentName"]: {k: r[k] for k in ("Members", "Added", "Removed")} for r in latest}
    sizes = {s.name: found[s.name] for s in ctx.config.segments}  # in the project file's order
    report.details["segments"] = sizes
    total = engine.row_count(lake.entity(CUSTOMER))
    report.rows_in[CUSTOMER] = total
    for name, size in sizes.items():
        if size["Members"] == 0:
            report.warn(f"segment {name!r} is empty")
        elif size["Members"] == total and name != ALL_CUSTOMERS:
            report.warn(f"segment {name!r} holds every customer ({total})")


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.entity(n) for n in INSIGHT_ENTITIES[2:]]


STAGE = StageSpec(
    "segments", ("measures", "predictions"), run, outputs, "build segments (SegmentMembership, SegmentHistory)"
)
