"""Engine-neutral checks on a landed table: declared types, null keys and duplicate keys.

Declared types are strict: a value either converts exactly or the row is rejected with the reason. Nothing is
rounded, truncated or read in another base, and timestamps with an offset are converted to UTC, not cut off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from custdim.stages.exprs import (
    DATE_RE,
    DECIMAL_RE,
    INTEGER_RE,
    as_timestamp,
    blank_to_null,
    is_finite,
    parse_number,
    parse_timestamp,
    record_json,
)
from custdim.stages.ingest.changes import BATCH, CHANGE
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
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
# Spelled out rather than left to each engine's cast, which accept different words.
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def ibis_type(declared: str) -> str:
    """A declared column type as an Ibis type string."""
    return _IBIS_TYPES.get(declared, declared)


@dataclass(frozen=True)
class Checked:
    """The split of a staged table into rows to land and rows to reject."""

    good: ir.Table
    rejects: ir.Table
    # One row, column ``n``: how many primary key values lost surrounding whitespace (None: the key is not text).
    trimmed_keys: ir.Table | None
    # A change folder's table (``modified`` given): one row, columns ``superseded`` (rows a later modification of
    # their key replaced) and ``deleted`` (keys whose latest change is a delete); None otherwise.
    changes: ir.Table | None = None


@dataclass(frozen=True)
class _Parsed:
    value: ir.Value
    # Given the converted value: null when the value is fine (or missing); otherwise why the row is rejected.
    problem: Callable[[ir.Value], ir.StringValue]


def check_table(
    t: ir.Table,
    primary_key: str,
    declared: dict[str, str],
    run_id: str,
    ingested_at: str,
    modified: str | None = None,
    base: ir.Table | None = None,
    keep: Callable[[str, ir.Table], ir.Table] = lambda _name, table: table,
) -> Checked:
    """Cast declared columns, then route rows with an unusable key or value to rejects (first reason wins).

    Text primary keys lose surrounding whitespace, so ``" 4 "`` and ``"4"`` are one key (the second is a duplicate).
    ``modified``: the table is a change folder (columns CHANGE and BATCH): a key may have many rows, and the one
    modified last (then the later hour, then the later row) is its current state, or its deletion. ``base``: the
    table landed by an earlier run, whose rows take part as full data (a run reading only new hours). ``keep``
    computes a table once and returns a table reading the result (the engine's ``materialize``): the checked rows
    feed the landed table, the rejects and the counts, which would each compute the checks again otherwise.
    """
    source_columns = [c for c in t.columns if c not in (ROW, CHANGE, BATCH)]
    # Each step below is a column of its own, computed once: written as one expression, every value would be
    # spelled out again inside every check and reason that uses it, and engines evaluate each copy.
    to_parse = {c: d for c, d in declared.items() if t[c].type() != ibis.dtype(ibis_type(d))}
    t = t.mutate(**{f"__text_{c}": blank_to_null(t[c]) for c in to_parse if t[c].type().is_string()})
    parsed = {c: _parse(t, c, d) for c, d in to_parse.items()}
    t = t.mutate(**{f"__cast_{c}": p.value for c, p in parsed.items()})
    t = t.mutate(**{f"__problem_{c}": parsed[c].problem(t[f"__cast_{c}"]) for c in parsed})

    key_is_text = t[primary_key].type().is_string()
    if primary_key not in parsed and key_is_text:
        t = t.mutate(**{f"__cast_{primary_key}": t[primary_key].strip()})
    cast_key = f"__cast_{primary_key}"
    key = t[cast_key] if cast_key in t.columns else t[primary_key]
    raw_key = t[primary_key]
    t = t.mutate(
        __first_row=t[ROW].min().over(group_by=key),
        __dup_rank=ibis.row_number().over(group_by=key, order_by=t[ROW]),
        __key_missing=raw_key.isnull() | (raw_key.cast("string").strip() == ""),
        __trimmed=(raw_key != raw_key.strip()) if key_is_text else ibis.literal(False),
    )
    key = t[cast_key] if cast_key in t.columns else t[primary_key]
    raw_key = t[primary_key]
    dup_reason = ibis.literal("duplicate primary key ") + key.cast("string") + ", first seen at row "
    dup_reason = dup_reason + t.__first_row.cast("string")
    dup_reason = ibis.ifelse(
        t.__trimmed,
        dup_reason + " (surrounding whitespace trimmed from '" + raw_key.cast("string") + "')",
        dup_reason,
    )
    reason: ir.StringValue = ibis.null("string")
    for c in reversed(list(parsed)):
        reason = t[f"__problem_{c}"].fill_null(reason)
    if modified is None:
        reason = ibis.ifelse(key.notnull() & (t.__dup_rank > 0), dup_reason, reason)
    else:
        when = t[f"__cast_{modified}"] if f"__cast_{modified}" in t.columns else t[modified]
        missing = ibis.literal(f"column {modified!r}: the last-modified value is missing (it orders a key's changes)")
        reason = ibis.ifelse(when.isnull() & reason.isnull(), missing, reason)
    reason = ibis.ifelse(t.__key_missing, ibis.literal(f"primary key {primary_key!r} is null or empty"), reason)

    flagged = keep("checked", t.mutate(_reason=reason))
    good = flagged.filter(flagged._reason.isnull())
    kept = [CHANGE, BATCH, ROW] if modified is not None else []
    good = good.select(
        *[good[f"__cast_{c}"].name(c) if f"__cast_{c}" in good.columns else good[c] for c in source_columns],
        *kept,
        _ingested_at=ibis.literal(ingested_at).cast("timestamp"),
        _run_id=ibis.literal(run_id),
    )
    changes = None
    if modified is not None:
        good, changes = _latest_changes(good, primary_key, modified, base, keep)
    bad = flagged.filter(flagged._reason.notnull())
    rejects = bad.select(bad[ROW], bad._reason, _record=record_json(bad, source_columns))
    trimmed_keys = flagged.aggregate(n=flagged.__trimmed.cast("int64").sum().fill_null(0)) if key_is_text else None
    return Checked(good=good, rejects=rejects, trimmed_keys=trimmed_keys, changes=changes)


def _latest_changes(
    candidates: ir.Table,
    key: str,
    modified: str,
    base: ir.Table | None,
    keep: Callable[[str, ir.Table], ir.Table],
) -> tuple[ir.Table, ir.Table]:
    """Each key's latest change among ``candidates`` (and ``base``, the rows landed before): the rows to land, and
    one row counting what the ranking retired (``superseded``, ``deleted``) and carried over (``carried``)."""
    columns = [c for c in candidates.columns if c not in (CHANGE, BATCH, ROW)]
    if base is not None:
        carried = base.select(
            *[
                (base[c].cast(candidates[c].type()) if c in base.columns else ibis.null(candidates[c].type())).name(c)
                for c in columns
            ],
            **{CHANGE: ibis.literal("full"), BATCH: ibis.literal(""), ROW: ibis.literal(0).cast("int64")},
        )
        candidates = candidates.select(*carried.columns).union(carried)
    ranked = candidates.mutate(
        __latest=ibis.row_number().over(
            group_by=candidates[key],
            order_by=[candidates[modified].desc(), candidates[BATCH].desc(), candidates[ROW].desc()],
        )
    )
    ranked = keep("ranked", ranked)
    counts = ranked.aggregate(
        superseded=(ranked.__latest > 0).cast("int64").sum().fill_null(0),
        deleted=((ranked.__latest == 0) & (ranked[CHANGE] == "delete")).cast("int64").sum().fill_null(0),
        carried=(ranked[ROW] == 0).cast("int64").sum().fill_null(0),
    )
    latest = ranked.filter((ranked.__latest == 0) & (ranked[CHANGE] != "delete"))
    return latest.select(*columns), counts


def _parse(t: ir.Table, col: str, declared: str) -> _Parsed:
    """Column ``col`` of ``t`` converted to its declared type, and the reason for each value that does not convert
    exactly (a function of the converted value, so that it is computed once). A text column's blank-trimmed text
    is the column ``__text_<col>`` of ``t``."""
    column = t[col]
    target = ibis_type(declared)
    raw = column.cast("string")

    def says(*parts: str | ir.StringValue) -> ir.StringValue:
        out: ir.StringValue = ibis.literal(f"column {col!r}: ")
        for p in parts:
            out = out + p
        return out

    cannot_parse = says("cannot parse ", raw, f" as {declared}")
    out_of_range = says(raw, f" is out of range for {declared}")
    decimal = _DECIMAL.match(declared)
    not_whole = says("cannot parse ", raw, f" as {declared} (whole numbers only)")
    rounded = says(raw, f" has more than {decimal.group(2)} decimal places for {declared}") if decimal else cannot_parse
    if not column.type().is_string():
        return _parse_typed(column, target, declared, cannot_parse, out_of_range, not_whole, rounded)

    text = t[f"__text_{col}"]
    present = text.notnull()
    if declared in ("int", "bigint"):
        syntax = text.re_search(INTEGER_RE)
        value = ibis.ifelse(syntax, text.try_cast(target), ibis.null(target))

        def problem(value: ir.Value) -> ir.StringValue:
            return ibis.cases(
                (present & ~syntax, not_whole),
                (present & value.isnull(), out_of_range),
                else_=ibis.null("string"),
            )
    elif declared == "double":
        value = parse_number(text)

        def problem(value: ir.Value) -> ir.StringValue:
            return ibis.cases(
                (present & value.isnull(), cannot_parse),
                (present & ~is_finite(value), out_of_range),
                else_=ibis.null("string"),
            )
    elif decimal:
        precision, scale = int(decimal.group(1)), int(decimal.group(2))
        syntax = text.re_search(DECIMAL_RE)
        # A non-zero digit after the last kept decimal place would be rounded away.
        needs_rounding = text.re_search(r"[.][0-9]{" + str(scale) + r"}[0-9]*[1-9]")
        # More significant digits before the point than the type holds.
        too_large = text.re_search(r"^[+-]?0*[1-9][0-9]{" + str(precision - scale) + "}")
        value = ibis.ifelse(syntax & ~needs_rounding & ~too_large, text.try_cast(target), ibis.null(target))

        def problem(value: ir.Value) -> ir.StringValue:
            return ibis.cases(
                (present & ~syntax, cannot_parse),
                (present & needs_rounding, rounded),
                (present & too_large, out_of_range),
                (present & value.isnull(), cannot_parse),
                else_=ibis.null("string"),
            )
    elif declared == "timestamp":
        value = parse_timestamp(text)

        def problem(value: ir.Value) -> ir.StringValue:
            return ibis.ifelse(present & value.isnull(), cannot_parse, ibis.null("string"))
    elif declared == "date":
        value = ibis.ifelse(text.re_search(DATE_RE), text.try_cast("date"), ibis.null("date"))

        def problem(value: ir.Value) -> ir.StringValue:
            return ibis.ifelse(present & value.isnull(), cannot_parse, ibis.null("string"))
    elif declared == "boolean":
        word = text.lower()
        value = ibis.cases((word.isin(_TRUE), True), (word.isin(_FALSE), False), else_=ibis.null("boolean"))

        def problem(value: ir.Value) -> ir.StringValue:
            return ibis.ifelse(present & value.isnull(), cannot_parse, ibis.null("string"))
    else:
        value = text.try_cast(target)

        def problem(value: ir.Value) -> ir.StringValue:
            return ibis.ifelse(present & value.isnull(), cannot_parse, ibis.null("string"))

    return _Parsed(value, problem)


def _parse_typed(
    column: ir.Value,
    target: str,
    declared: str,
    cannot_parse: ir.StringValue,
    out_of_range: ir.StringValue,
    not_whole: ir.StringValue,
    rounded: ir.StringValue,
) -> _Parsed:
    """A typed (Parquet, JSON) column converted to its declared type; numbers must convert without rounding."""
    present = column.notnull()
    if declared == "timestamp":
        value = as_timestamp(column)
        return _Parsed(value, lambda v: ibis.ifelse(present & v.isnull(), cannot_parse, ibis.null("string")))
    value = column.try_cast(target)
    if not (column.type().is_numeric() and value.type().is_numeric()):
        return _Parsed(value, lambda v: ibis.ifelse(present & v.isnull(), cannot_parse, ibis.null("string")))

    def problem(value: ir.Value) -> ir.StringValue:
        changed = value.cast("float64") != column.cast("float64")
        return ibis.cases(
            (present & value.isnull(), out_of_range),
            (present & changed, not_whole if declared in ("int", "bigint") else rounded),
            else_=ibis.null("string"),
        )

    return _Parsed(value, problem)
