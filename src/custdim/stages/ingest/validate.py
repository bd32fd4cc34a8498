"""Engine-neutral checks on a landed table: declared types, null keys and duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from custdim.stages.exprs import record_json
from custdim.stages.ingest.readers import ROW

_IBIS_TYPES = {
    "string": "string",
    "int": "int32",
    "bigint": "int64",
    "double": "float64",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


def ibis_type(declared: str) -> str:
    """A declared column type as an Ibis type string."""
    return _IBIS_TYPES.get(declared, declared)


@dataclass(frozen=True)
class Checked:
    """The split of a staged table into rows to land and rows to reject."""

    good: ir.Table
    rejects: ir.Table


def check_table(t: ir.Table, primary_key: str, declared: dict[str, str], run_id: str, ingested_at: str) -> Checked:
    """Cast declared columns, then route rows with an unusable key or value to rejects (first reason wins)."""
    source_columns = [c for c in t.columns if c != ROW]
    casts: dict[str, ir.Value] = {}
    problems: list[tuple[ir.BooleanValue, ir.StringValue]] = []
    for col, declared_type in declared.items():
        target = ibis_type(declared_type)
        if t[col].type() == ibis.dtype(target):
            continue
        value = t[col]
        if value.type().is_string():
            # An empty or blank value is missing, not malformed.
            value = ibis.ifelse(value.strip() == "", ibis.null("string"), value.strip())
        cast = value.try_cast(target)
        casts[col] = cast
        problems.append(
            (
                value.notnull() & cast.isnull(),
                ibis.literal(f"column {col!r}: cannot parse ") + t[col].cast("string") + f" as {declared_type}",
            )
        )
    key = t[primary_key]
    key_missing = key.isnull() | (key.cast("string").strip() == "")
    first_row = t[ROW].min().over(group_by=key)
    dup_rank = ibis.row_number().over(group_by=key, order_by=t[ROW])

    reason: ir.StringValue = ibis.null("string")
    for cond, text in reversed(problems):
        reason = ibis.ifelse(cond, text, reason)
    reason = ibis.ifelse(
        dup_rank > 0,
        ibis.literal("duplicate primary key ") + key.cast("string") + ", first seen at row " + first_row.cast("string"),
        reason,
    )
    reason = ibis.ifelse(key_missing, ibis.literal(f"primary key {primary_key!r} is null or empty"), reason)

    flagged = t.mutate(_reason=reason, **{f"__cast_{c}": v for c, v in casts.items()})
    good = flagged.filter(flagged._reason.isnull())
    good = good.select(
        *[good[f"__cast_{c}"].name(c) if c in casts else good[c] for c in source_columns],
        _ingested_at=ibis.literal(ingested_at).cast("timestamp"),
        _run_id=ibis.literal(run_id),
    )
    bad = flagged.filter(flagged._reason.notnull())
    rejects = bad.select(bad[ROW], bad._reason, _record=record_json(bad, source_columns))
    return Checked(good=good, rejects=rejects)
