"""Map: stack every unify table into one records table of semantic fields, ranked by match order.

Output ``work/unify/records``: _rid (0..n-1 in match order, then key), _source, _table, _key, _rank, one column per
unified field. _rid order is the importance order merge uses, and its density lets graph steps index arrays by it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from custdim.errors import ConfigError
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.exprs import as_timestamp

RECORDS = ("unify", "records")


def field_types(ctx: RunContext) -> dict[str, ibis.expr.datatypes.DataType]:
    """One type per unified field: kept when every table agrees, text otherwise."""
    config = ctx.config
    seen: dict[str, set[ibis.expr.datatypes.DataType]] = {}
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
    return {f: next(iter(ts)) if len(ts) == 1 else ibis.dtype("string") for f, ts in seen.items()}


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


def build_records(ctx: RunContext) -> ir.Table:
    """The stacked, ranked records of all unify tables."""
    config = ctx.config
    types = field_types(ctx)
    _check_recency_columns(ctx)
    fields = config.unify.fields()
    recency = config.unify.recency_columns()
    parts = []
    for rank, ut in enumerate(config.unify.ordered_tables()):
        source, _, table = ut.table.partition(".")
        t = ctx.engine.read(ctx.lake.raw_table(source, table))
        columns = ut.field_columns()
        pk = config.source_table(ut.table).primary_key
        values = {f: (t[columns[f]].cast(types[f]) if f in columns else ibis.null(types[f])) for f in fields}
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
    n = ctx.engine.write(build_records(ctx), path)
    report.rows_out["records"] = n
    counts = ctx.engine.to_arrow(ctx.engine.read(path).group_by(["_source", "_table"]).agg(n=ibis._.count()))
    for row in counts.to_pylist():
        report.rows_in[f"{row['_source']}.{row['_table']}"] = row["n"]


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.work_table(*RECORDS)]


STAGE = StageSpec("map", ("ingest",), run, outputs, "map columns to semantic fields")
