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
    parts: list[ir.StringValue] = []
    for i, col in enumerate(columns):
        key = ("{" if i == 0 else ", ") + '"' + col.replace('"', '\\"') + '": '
        parts.append(ibis.literal(key) + json_string(t[col]))
    if not parts:
        return ibis.literal("{}")
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out + "}"


def concat(parts: Sequence[ir.StringValue | str], sep: str = "") -> ir.StringValue:
    """Concatenate string expressions and literals."""
    out: ir.StringValue = ibis.literal("")
    for i, p in enumerate(parts):
        if i and sep:
            out = out + sep
        out = out + (ibis.literal(p) if isinstance(p, str) else p)
    return out
