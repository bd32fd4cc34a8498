"""Build UnifiedActivity from the ``activities:`` tables.

Each activity row finds its CustomerId through AlternateKey (its foreign key is a key of a customer source table).
Rows whose customer is unknown, whose timestamp cannot be read or whose amount is not a number go to
work/activities/rejects with the reason. Timestamps with an offset are converted to UTC; an empty amount is null.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from custdim.config.activities import Activity
from custdim.contracts import ACTIVITIES_STAGED, ACTIVITY_ENTITIES, ACTIVITY_REJECTS, ALTERNATE_KEY, UNIFIED_ACTIVITY
from custdim.errors import ConfigError
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.exprs import as_timestamp, blank_to_null, is_finite, parse_number, record_json
from custdim.stages.unify.ids import with_guid

STANDARD = (
    "CustomerId",
    "ActivityId",
    "SourceTableName",
    "SourceActivityId",
    "ActivityType",
    "ActivityTimeStamp",
    "Amount",
)
LINEAGE = ("_ingested_at", "_run_id")
EMPTY_SCHEMA = pa.schema(
    [
        ("CustomerId", pa.string()),
        ("ActivityId", pa.string()),
        ("SourceTableName", pa.string()),
        ("SourceActivityId", pa.string()),
        ("ActivityType", pa.string()),
        ("ActivityTimeStamp", pa.timestamp("us")),
        ("Amount", pa.float64()),
    ]
)


def _extra_columns(t: ir.Table, activity: Activity, pk: str) -> list[str]:
    used = {pk, activity.customer.foreign_key, activity.timestamp, activity.amount}
    return [c for c in t.columns if c not in used and c not in LINEAGE]


def _extra_name(column: str) -> str:
    # Source columns never shadow the standard ones.
    return f"Source{column}" if column in STANDARD else column


def build_activity(ctx: RunContext, index: int, activity: Activity, keys: ir.Table) -> tuple[ir.Table, list[str]]:
    """All rows of one activity table with CustomerId (null when unknown) and a _reason for unusable rows."""
    config = ctx.config
    source, _, table = activity.table.partition(".")
    t = ctx.engine.read(ctx.lake.raw_table(source, table))
    pk = config.source_table(activity.table).primary_key
    for key, column in (
        ("customer.foreign_key", activity.customer.foreign_key),
        ("timestamp", activity.timestamp),
        ("amount", activity.amount),
    ):
        if column is not None and column not in t.columns:
            raise ConfigError(
                config.file,
                f"activities[{index}].{key}",
                f"column {column!r} is not in {activity.table}; columns: "
                f"{', '.join(c for c in t.columns if not c.startswith('_'))}",
            )
    cust_source, _, cust_table = activity.customer.table.partition(".")
    owners = keys.filter((keys.SourceName == cust_source) & (keys.TableName == cust_table))
    owners = owners.select(o_key=owners.SourceKey, o_customer=owners.CustomerId)
    # Ingest trims surrounding whitespace from primary keys, so a foreign key is compared trimmed too.
    j = t.left_join(owners, t[activity.customer.foreign_key].cast("string").strip() == owners.o_key)
    namespace = f"custdim:{config.name}:activity"
    j = with_guid(j, "_activity_id", namespace, ibis.literal(activity.table + "|") + j[pk].cast("string"))
    ts = as_timestamp(j[activity.timestamp])
    extras = _extra_columns(t, activity, pk)
    checks: list[tuple[ir.BooleanValue, ir.StringValue]] = [
        (
            j.o_customer.isnull(),
            ibis.literal(f"no customer with {activity.customer.table} key ")
            + j[activity.customer.foreign_key].cast("string").fill_null("(null)"),
        ),
        (
            ts.isnull(),
            ibis.literal(f"timestamp {activity.timestamp!r} missing or unreadable: ")
            + j[activity.timestamp].cast("string").fill_null("(null)"),
        ),
    ]
    amount: ir.FloatingValue = ibis.null("float64")
    if activity.amount:
        amount, not_a_number = _amount(j[activity.amount])
        checks.append(
            (
                not_a_number,
                ibis.literal(f"amount {activity.amount!r} is not a number: ") + j[activity.amount].cast("string"),
            )
        )
    reason = ibis.cases(*checks, else_=ibis.null("string"))
    out = j.select(
        CustomerId=j.o_customer,
        ActivityId=j._activity_id,
        SourceTableName=ibis.literal(activity.table),
        SourceActivityId=j[pk].cast("string"),
        ActivityType=ibis.literal(activity.type),
        ActivityTimeStamp=ts,
        Amount=amount,
        _reason=reason,
        _record=record_json(j, [c for c in t.columns if c not in LINEAGE]),
        **{_extra_name(c): j[c] for c in extras},
    )
    return out, [_extra_name(c) for c in extras]


def _amount(value: ir.Value) -> tuple[ir.FloatingValue, ir.BooleanValue]:
    """The amount as a double, and whether it is present but not a number (``abc``, ``1,234.50``, hex)."""
    if value.type().is_numeric():
        number = value.cast("float64")
        return number, value.notnull() & ~is_finite(number)
    text = blank_to_null(value)
    number = parse_number(text)
    return number, text.notnull() & (number.isnull() | ~is_finite(number))


def unify_columns(parts: list[tuple[ir.Table, list[str]]]) -> list[ir.Table]:
    """Give every part the same columns: extra columns missing from a part are null; type clashes become text."""
    types: dict[str, set[dt.DataType]] = {}
    for t, extras in parts:
        for c in extras:
            types.setdefault(c, set()).add(t.schema()[c])
    final = {c: next(iter(ts)) if len(ts) == 1 else dt.string for c, ts in types.items()}
    out = []
    for t, extras in parts:
        out.append(
            t.select(
                *STANDARD,
                "_reason",
                "_record",
                **{c: (t[c].cast(final[c]) if c in extras else ibis.null(final[c])) for c in final},
            )
        )
    return out


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake = ctx.engine, ctx.lake
    keys = engine.read(lake.entity(ALTERNATE_KEY))
    parts = [build_activity(ctx, i, a, keys) for i, a in enumerate(ctx.config.activities)]
    target = lake.entity(UNIFIED_ACTIVITY)
    rejects_path = lake.work_table(*ACTIVITY_REJECTS)
    if not parts:
        report.warn("no activities configured")
    staged_path = lake.work_table(*ACTIVITIES_STAGED)
    if parts:
        aligned = unify_columns(parts)
        engine.write(ibis.union(*aligned) if len(aligned) > 1 else aligned[0], staged_path)
        staged = engine.read(staged_path)
        good = staged.filter(staged._reason.isnull()).drop("_reason", "_record")
        report.rows_out[UNIFIED_ACTIVITY] = engine.write(good, target)
        bad = staged.filter(staged._reason.notnull())
        rejected = engine.write(bad.select("SourceTableName", "SourceActivityId", "_reason", "_record"), rejects_path)
        counts = engine.to_arrow(
            staged.group_by("SourceTableName").agg(rows=staged.count(), rejected=staged._reason.notnull().sum())
        )
        for row in counts.to_pylist():
            report.rows_in[row["SourceTableName"]] = row["rows"]
            if row["rejected"]:
                report.rejected[row["SourceTableName"]] = int(row["rejected"])
        if rejected:
            report.warn(
                f"{rejected} activity rows rejected (unknown customer, unreadable timestamp or amount not a number);"
                f" see {rejects_path}"
            )
        lake.remove(staged_path)
    else:
        empty = engine.from_arrow(EMPTY_SCHEMA.empty_table())
        report.rows_out[UNIFIED_ACTIVITY] = engine.write(empty, target)


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.entity(n) for n in ACTIVITY_ENTITIES]


STAGE = StageSpec("activities", ("merge",), run, outputs, "link activities to customers (UnifiedActivity)")
