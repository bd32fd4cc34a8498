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
    "IsReturn",
    "Title",
    "Product",
    "Brand",
    "Category",
)
# Optional mapped columns: Activity attribute -> UnifiedActivity column (text).
DESCRIPTIVE = {"title": "Title", "product": "Product", "brand": "Brand", "category": "Category"}
RETURN_WORDS = ("true", "t", "yes", "y", "1", "returned", "return")
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
        ("IsReturn", pa.bool_()),
        ("Title", pa.string()),
        ("Product", pa.string()),
        ("Brand", pa.string()),
        ("Category", pa.string()),
    ]
)


def _mapped(activity: Activity) -> dict[str, str | None]:
    """Activity attribute -> source column, for every column the activity maps."""
    return {
        "customer.foreign_key": activity.customer.foreign_key,
        "timestamp": activity.timestamp,
        "amount": activity.amount,
        "quantity": activity.quantity,
        "returns": activity.returns,
        **{key: getattr(activity, key) for key in DESCRIPTIVE},
    }


def _extra_columns(own: list[str], activity: Activity, pk: str) -> list[str]:
    # The returns column stays too: IsReturn keeps one fact of it, a status column holds more (cancelled).
    used = {pk, *(c for k, c in _mapped(activity).items() if c and k != "returns")}
    return [c for c in own if c not in used and c not in LINEAGE]


def _extra_name(column: str) -> str:
    # Source columns never shadow the standard ones (engines compare names ignoring case).
    return f"Source{column}" if column.lower() in {s.lower() for s in STANDARD} else column


def _with_parent(ctx: RunContext, index: int, activity: Activity, t: ir.Table) -> ir.Table:
    """The activity rows with their parent's columns (those the rows lack), null when the parent is missing."""
    parent = activity.parent
    if parent is None:
        return t
    if parent.key not in t.columns:
        raise ConfigError(
            ctx.config.file,
            f"activities[{index}].parent.key",
            f"column {parent.key!r} is not in {activity.table}; columns: {_columns(t)}",
        )
    source, _, table = parent.table.partition(".")
    p = ctx.engine.read(ctx.lake.raw_table(source, table))
    ppk = ctx.config.source_table(parent.table).primary_key
    borrowed = [c for c in p.columns if c not in t.columns and c not in LINEAGE]
    p = p.select(_parent_key=p[ppk].cast("string"), _has_parent=ibis.literal(True), **{c: p[c] for c in borrowed})
    j = t.left_join(p, t[parent.key].cast("string").strip() == p._parent_key)
    return j.select(*t.columns, "_has_parent", *borrowed)


def _columns(t: ir.Table) -> str:
    return ", ".join(c for c in t.columns if not c.startswith("_"))


def build_activity(ctx: RunContext, index: int, activity: Activity, keys: ir.Table) -> tuple[ir.Table, list[str]]:
    """All rows of one activity table with CustomerId (null when unknown) and a _reason for unusable rows."""
    config = ctx.config
    source, _, table = activity.table.partition(".")
    own = ctx.engine.read(ctx.lake.raw_table(source, table))
    pk = config.source_table(activity.table).primary_key
    t = _with_parent(ctx, index, activity, own)
    for key, column in _mapped(activity).items():
        if column is not None and column not in t.columns:
            where = activity.table + (f" (or its parent {activity.parent.table})" if activity.parent else "")
            raise ConfigError(
                config.file,
                f"activities[{index}].{key}",
                f"column {column!r} is not in {where}; columns: {_columns(t)}",
            )
    cust_source, _, cust_table = activity.customer.table.partition(".")
    owners = keys.filter((keys.SourceName == cust_source) & (keys.TableName == cust_table))
    owners = owners.select(o_key=owners.SourceKey, o_customer=owners.CustomerId)
    # Ingest trims surrounding whitespace from primary keys, so a foreign key is compared trimmed too.
    j = t.left_join(owners, t[activity.customer.foreign_key].cast("string").strip() == owners.o_key)
    namespace = f"custdim:{config.name}:activity"
    j = with_guid(j, "_activity_id", namespace, ibis.literal(activity.table + "|") + j[pk].cast("string"))
    ts = as_timestamp(j[activity.timestamp])
    extras = _extra_columns(own.columns, activity, pk)
    checks: list[tuple[ir.BooleanValue, ir.StringValue]] = []
    if activity.parent is not None:
        checks.append(
            (
                j._has_parent.isnull(),
                ibis.literal(f"no {activity.parent.table} row with key ")
                + j[activity.parent.key].cast("string").fill_null("(null)"),
            )
        )
    checks += [
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
    for key in ("amount", "quantity"):
        column = getattr(activity, key)
        if column is None:
            continue
        number, not_a_number = _amount(j[column])
        amount = number if key == "amount" else amount * number
        checks.append((not_a_number, ibis.literal(f"{key} {column!r} is not a number: ") + j[column].cast("string")))
    is_return = (amount < 0).fill_null(False)
    if activity.returns is not None:
        flag = j[activity.returns].cast("string").strip().lower().isin(RETURN_WORDS).fill_null(False)
        is_return = is_return | flag
    reason = ibis.cases(*checks, else_=ibis.null("string"))
    out = j.select(
        CustomerId=j.o_customer,
        ActivityId=j._activity_id,
        SourceTableName=ibis.literal(activity.table),
        SourceActivityId=j[pk].cast("string"),
        ActivityType=ibis.literal(activity.type),
        ActivityTimeStamp=ts,
        Amount=amount,
        IsReturn=is_return,
        **{
            out: (j[getattr(activity, key)].cast("string") if getattr(activity, key) else ibis.null("string"))
            for key, out in DESCRIPTIVE.items()
        },
        _reason=reason,
        _record=record_json(j, [c for c in own.columns if c not in LINEAGE]),
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
