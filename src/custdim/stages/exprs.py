"""Small engine-neutral Ibis helpers shared by stages."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir


def json_string(value: ir.Value) -> ir.StringValue:
    """A value as a JSON string literal (quoted and escaped), or JSON null."""
    text = value.cast("string")
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return ibis.ifelse(text.isnull(), ibis.literal("null"), ibis.literal('"') + escaped + '"')


def record_json(t: ir.Table, columns: Sequence[str]) -> ir.StringValue:
    """A row rendered as a JSON object of the named columns (all values as strings)."""
    if not columns:
        return ibis.literal("{}")
    parts: list[ir.StringValue | str] = []
    for i, col in enumerate(columns):
        parts += [("{" if i == 0 else ", ") + '"' + col.replace('"', '\\"') + '": ', json_string(t[col])]
    return concat([*parts, "}"])


def as_timestamp(value: ir.Value) -> ir.TimestampValue:
    """A date, timestamp or ISO text column as a timestamp; unreadable text becomes null."""
    if value.type().is_timestamp() or value.type().is_date():
        return value.cast("timestamp")
    return value.cast("string").strip().try_cast("timestamp")


def concat(parts: Sequence[ir.StringValue | str]) -> ir.StringValue:
    """Concatenate string expressions and literals."""
    out: ir.StringValue = ibis.literal("")
    for p in parts:
        out = out + (ibis.literal(p) if isinstance(p, str) else p)
    return out
