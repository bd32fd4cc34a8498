"""Map: stack every unify table into one records table of semantic fields, ranked by match order.

Output ``work/unify/records``: _rid (0..n-1 in match order, then key), _source, _table, _key, _rank, one column per
unified field. _rid order is the importance order merge uses, and its density lets graph steps index arrays by it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from custdim.config.unify import UnifyTable
from custdim.contracts import NORMALIZED, RECORDS
from custdim.errors import ConfigError
from custdim.report import StageReport
from custdim.semantic.dates import (
    DATE_TYPES,
    FORMAT_NAMES,
    MONTH_FIRST_COUNTRIES,
    DateOrder,
    country_code,
    decide_order,
    default_order,
    parse_date,
    parse_date_by_country,
)
from custdim.semantic.dates import profile_metrics as date_metrics
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.exprs import as_timestamp

# Share of non-empty values of a date column that may fail to parse before the run report warns.
UNPARSEABLE_WARN_SHARE = 0.02


def field_types(ctx: RunContext) -> dict[str, ibis.expr.datatypes.DataType]:
    """One type per unified field: kept when every table agrees, text otherwise; dates (see ``date_fields``) are
    dates."""
    config = ctx.config
    seen: dict[str, set[ibis.expr.datatypes.DataType]] = {}
    dates = date_fields(ctx)
    for index, ut in enumerate(config.unify.tables):
        source, _, table = ut.table.partition(".")
        schema = ctx.engine.read(ctx.lake.raw_table(source, table)).schema()
        available = ", ".join(c for c in schema.names if not c.startswith("_"))
        for field, column in ut.field_columns().items():
            if column not in schema:
                raise ConfigError(
                    config.file,
                    f"unify.tables[{index}].fields.{column}",
                    f"column {column!r} is not in {ut.table}; columns: {available}",
                )
            seen.setdefault(field, set()).add(schema[column])
    return {
        f: ibis.dtype("date") if f in dates else next(iter(ts)) if len(ts) == 1 else ibis.dtype("string")
        for f, ts in seen.items()
    }


def date_fields(ctx: RunContext) -> set[str]:
    """Unified fields held as dates: date semantic types, and fields mapped from a date or timestamp column."""
    out: set[str] = set()
    for ut in ctx.config.unify.tables:
        source, _, table = ut.table.partition(".")
        schema = ctx.engine.read(ctx.lake.raw_table(source, table)).schema()
        for field, column in ut.field_columns().items():
            dtype = schema.get(column, None)
            if ut.field_types()[field] in DATE_TYPES or (
                dtype is not None and (dtype.is_date() or dtype.is_timestamp())
            ):
                out.add(field)
    return out


def _check_max_days(ctx: RunContext, dates: set[str]) -> None:
    for field, where in ctx.config.unify.max_days_uses():
        if field not in dates:
            raise ConfigError(
                ctx.config.file,
                f"{where}.max_days",
                f"max_days needs a date field; {field} is neither a date type nor mapped from a date column",
            )


DateOrders = dict[tuple[str, str], tuple[DateOrder, DateOrder | None]]


def plan_dates(ctx: RunContext, report: StageReport) -> DateOrders:
    """Decide each text date column's day/month order (one aggregate query per table) and report what was seen.

    Returns (unify table, field) -> (order, the order of values impossible in it, for mixed columns);
    ``report.details["dates"]`` gets one entry per table and field.
    """
    unify = ctx.config.unify
    dates = date_fields(ctx)
    _check_max_days(ctx, dates)
    orders: DateOrders = {}
    details: dict[str, dict[str, object]] = {}
    for index, ut in enumerate(unify.tables):
        source, _, table = ut.table.partition(".")
        t = ctx.engine.read(ctx.lake.raw_table(source, table))
        text = {}
        for field, column in ut.field_columns().items():
            if field not in dates:
                continue
            dtype = t[column].type()
            if dtype.is_date() or dtype.is_timestamp():
                details[f"{ut.table}.{column}"] = {"field": field, "reason": f"{dtype} column, used as it is"}
            else:
                text[field] = column
        if not text:
            continue
        override = {f: ut.date_order_for(c) for f, c in text.items()}
        metrics: dict[str, ir.Value] = {}
        for i, (field, column) in enumerate(text.items()):
            wanted: tuple[DateOrder, ...] = (override[field],) if override[field] else ("mdy", "dmy")  # type: ignore[assignment]
            metrics.update(date_metrics(t[column], f"c{i}_", wanted, unify.two_digit_year_pivot))
        by_country = _country_column(ctx, index, ut, t)
        if by_country is not None:
            metrics.update(_country_metrics(t, text, by_country, unify.two_digit_year_pivot))
        row = ctx.engine.to_arrow(t.aggregate(**metrics)).to_pylist()[0]
        for i, (field, column) in enumerate(text.items()):
            m = {k.removeprefix(f"c{i}_"): v for k, v in row.items() if k.startswith(f"c{i}_")}
            decision = decide_order(m["dmy"], m["mdy"], m["short"], unify.default_country, override[field])
            orders[(ut.table, field)] = (decision.order, decision.then)
            nonempty = m["nonempty"]
            parsed = m["ok_either"] if decision.then else m[f"ok_{decision.order}"]
            reason = decision.reason
            if by_country is not None:
                parsed = m["ok_by_country"]
                reason = (
                    f"per row, by the country in {by_country}: {row['month_first_rows']} month-first rows, "
                    f"{row['day_first_rows']} day-first rows, {row['no_country_rows']} without a two-letter code "
                    f"(read as {decision.order}: {decision.reason})"
                )
            name = f"{ut.table}.{column}"
            details[name] = {
                "field": field,
                "order": decision.order if by_country is None else "by country",
                "reason": reason,
                "rows": m["rows"],
                "empty": m["rows"] - nonempty,
                "parsed": parsed,
                "unparseable": nonempty - parsed,
                "day_first_values": m["dmy"],
                "month_first_values": m["mdy"],
                "formats": {fmt: m[f"fmt{k}"] for k, fmt in enumerate(FORMAT_NAMES) if m[f"fmt{k}"]},
            }
            if decision.mixed and by_country is None:
                report.warn(
                    f"{name} ({field}) mixes day-first and month-first dates: {decision.reason}; "
                    f"set unify.tables[{index}].date_order to choose, or date_country to read each row in the "
                    "order of a country column (a store's)"
                )
            if nonempty and (nonempty - parsed) > UNPARSEABLE_WARN_SHARE * nonempty:
                report.warn(
                    f"{name} ({field}): {nonempty - parsed} of {nonempty} values are not dates "
                    f"(read as {decision.order}); they compare as missing"
                )
    report.details["dates"] = details
    return orders


def _country_column(ctx: RunContext, index: int, ut: UnifyTable, t: ir.Table) -> str | None:
    """The table's ``date_country`` column, checked to exist."""
    column = ut.date_country
    if column is not None and column not in t.columns:
        columns = ", ".join(c for c in t.columns if not c.startswith("_"))
        raise ConfigError(
            ctx.config.file,
            f"unify.tables[{index}].date_country",
            f"{column!r} is not a column of {ut.table}; columns: {columns}",
        )
    return column


def _country_metrics(t: ir.Table, text: dict[str, str], country: str, pivot: int) -> dict[str, ir.Value]:
    """Rows per country order, and per date column the values that parse in their row's order."""
    code = country_code(t[country])
    month_first = code.isin(sorted(MONTH_FIRST_COUNTRIES))
    out: dict[str, ir.Value] = {
        "month_first_rows": code.count(where=month_first),
        "day_first_rows": code.count(where=~month_first),
        "no_country_rows": t.count() - code.count(),
    }
    for i, column in enumerate(text.values()):
        # The fallback order does not change which values parse: any order parses what the other cannot.
        out[f"c{i}_ok_by_country"] = parse_date_by_country(t[column], t[country], "mdy", pivot, then="dmy").count()
    return out


def recency_column(name: str) -> str:
    """Records' column holding the source column ``name`` that policies rank recency by."""
    return f"_by__{name}"


def _check_recency_columns(ctx: RunContext) -> None:
    unify = ctx.config.unify
    present: set[str] = set()
    for ut in unify.tables:
        source, _, table = ut.table.partition(".")
        present.update(ctx.engine.read(ctx.lake.raw_table(source, table)).columns)
    for col in unify.recency_columns():
        if col not in present:
            columns = ", ".join(sorted(c for c in present if not c.startswith("_")))
            raise ConfigError(
                ctx.config.file,
                "unify",
                f"recency column {col!r} (a `by:` of dedupe or merge) is in none of the unify tables; "
                f"columns: {columns}",
            )


def build_records(ctx: RunContext, date_orders: DateOrders | None = None) -> ir.Table:
    """The stacked, ranked records of all unify tables; text dates are parsed in ``date_orders`` (from
    ``plan_dates``; the default country's order where it has none)."""
    config = ctx.config
    types = field_types(ctx)
    orders = date_orders or {}
    fallback = default_order(config.unify.default_country)
    pivot = config.unify.two_digit_year_pivot
    _check_recency_columns(ctx)
    fields = config.unify.fields()
    recency = config.unify.recency_columns()
    parts = []
    for rank, ut in enumerate(config.unify.ordered_tables()):
        source, _, table = ut.table.partition(".")
        t = ctx.engine.read(ctx.lake.raw_table(source, table))
        columns = ut.field_columns()
        pk = config.source_table(ut.table).primary_key
        values: dict[str, ir.Value] = {}
        for f in fields:
            if f not in columns:
                values[f] = ibis.null(types[f])
            elif types[f].is_date():
                order, then = orders.get((ut.table, f), (fallback, None))
                if ut.date_country is not None and (ut.table, f) in orders:
                    # Rows without a code read an impossible value the other way too, as rows with one do (and as
                    # the plan counted them).
                    other: DateOrder = "dmy" if order == "mdy" else "mdy"
                    values[f] = parse_date_by_country(t[columns[f]], t[ut.date_country], order, pivot, then or other)
                else:
                    values[f] = parse_date(t[columns[f]], order, pivot, then)
            else:
                values[f] = t[columns[f]].cast(types[f])
        filled = ibis.literal(0, "int32")
        for f in columns:
            filled = filled + values[f].notnull().cast("int32")
        parts.append(
            t.select(
                _source=ibis.literal(source),
                _table=ibis.literal(table),
                _key=t[pk].cast("string"),
                _rank=ibis.literal(rank, "int32"),
                _filled=filled.cast("int32"),
                **{
                    recency_column(c): (as_timestamp(t[c]) if c in t.columns else ibis.null("timestamp"))
                    for c in recency
                },
                **values,
            )
        )
    stacked = ibis.union(*parts) if len(parts) > 1 else parts[0]
    rid = (ibis.row_number().over(order_by=[stacked._rank, stacked._key])).cast("int64")
    return stacked.mutate(_rid=rid).relocate("_rid")


def run(ctx: RunContext, report: StageReport) -> None:
    path = ctx.lake.work_table(*RECORDS)
    n = ctx.engine.write(build_records(ctx, plan_dates(ctx, report)), path)
    report.rows_out["records"] = n
    counts = ctx.engine.to_arrow(ctx.engine.read(path).group_by(["_source", "_table"]).agg(n=ibis._.count()))
    for row in counts.to_pylist():
        report.rows_in[f"{row['_source']}.{row['_table']}"] = row["n"]
    from custdim.stages.unify.conditions import normalized_table
    from custdim.stages.unify.profile import profile_records

    # The comparison columns are computed once, here: the value profile counts what each normalizer changed from
    # them, and the match stage reads them instead of normalizing again.
    records = ctx.engine.read(path)
    unify = ctx.config.unify
    normalized_path = ctx.lake.work_table(*NORMALIZED)
    ctx.engine.write(
        normalized_table(unify.all_rules(), records, str(ctx.config.root), unify.default_country), normalized_path
    )
    normalized = ctx.engine.read(normalized_path)
    report.details["profile"] = profile = profile_records(ctx.engine, records, ctx.config, normalized)
    for warning in profile["warnings"]:
        report.warn(warning)


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.work_table(*RECORDS), ctx.lake.work_table(*NORMALIZED)]


STAGE = StageSpec("map", ("ingest",), run, outputs, "map columns to semantic fields")
