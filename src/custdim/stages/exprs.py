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
    """A date, timestamp or ISO text column as a UTC timestamp; unreadable text becomes null.

    Text with an offset (``Z``, ``+02:00``) is converted to UTC, text without one is taken as UTC already.
    """
    dtype = value.type()
    if dtype.is_timestamp() and dtype.timezone is not None:
        # Engines turn a zoned timestamp into a naive one in their session time zone; going through text keeps the
        # offset they print, and parse_timestamp applies it.
        return parse_timestamp(value.cast("string"))
    if dtype.is_timestamp() or dtype.is_date():
        return value.cast("timestamp")
    return parse_timestamp(value.cast("string"))


# Patterns for strict parsing of text values. They use only what RE2 (DuckDB) and Java (Spark) regexes share, and no
# backslashes, which SQL string literals may unescape differently per engine.
INTEGER_RE = r"^[+-]?[0-9]+$"
NUMBER_RE = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
DECIMAL_RE = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$"
DATE_RE = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$"
_TIME = r"[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?"
_LOCAL_TIMESTAMP_RE = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(" + _TIME + r")?$"
_OFFSET = r"(Z|z|UTC|[+-][0-9]{2}(:?[0-9]{2})?)$"
_OFFSET_PARTS = r"([+-])([0-9]{2}):?([0-9]{2})?$"
# The largest finite double: anything beyond it is an overflow to infinity (isinf does not compile on every engine).
FLOAT_MAX = 1.7976931348623157e308


def blank_to_null(value: ir.Value) -> ir.StringValue:
    """Text without surrounding whitespace; empty or blank text is null (missing, not malformed)."""
    text = value.cast("string").strip()
    return ibis.ifelse(text == "", ibis.null("string"), text)


def parse_number(text: ir.StringValue) -> ir.FloatingValue:
    """Decimal or exponent notation as a double; anything else (hex, thousands separators, words) is null."""
    return ibis.ifelse(text.re_search(NUMBER_RE), text.try_cast("float64"), ibis.null("float64"))


def is_finite(value: ir.FloatingValue) -> ir.BooleanValue:
    """True for a finite double, null for null."""
    return value.abs() <= FLOAT_MAX


def parse_timestamp(text: ir.StringValue) -> ir.TimestampValue:
    """ISO date or date-time text as a UTC timestamp, null when unreadable.

    A trailing offset (``Z``, ``+02``, ``+02:00``, ``-0530``) is applied, so ``2024-01-01T10:00:00+02:00`` is
    ``2024-01-01 08:00:00``; text without an offset is taken as UTC. Anything else after the time (a zone name) makes
    the value unreadable rather than silently dropped.
    """
    text = text.strip()
    has_offset = text.re_search(_TIME + "[ ]*" + _OFFSET)
    local = ibis.ifelse(has_offset, text.re_replace(_OFFSET, "").strip(), text)
    ts = ibis.ifelse(local.re_search(_LOCAL_TIMESTAMP_RE), local.try_cast("timestamp"), ibis.null("timestamp"))
    hours = text.re_extract(_OFFSET_PARTS, 2).try_cast("int32").fill_null(0)
    minutes = text.re_extract(_OFFSET_PARTS, 3).try_cast("int32").fill_null(0)
    sign = ibis.ifelse(text.re_extract(_OFFSET_PARTS, 1) == "-", -1, 1)
    shift = ibis.ifelse(has_offset, sign * (hours * 60 + minutes), 0)
    return ibis.ifelse(shift == 0, ts, ts - shift.as_interval("m"))


def concat(parts: Sequence[ir.StringValue | str]) -> ir.StringValue:
    """Concatenate string expressions and literals."""
    out: ir.StringValue = ibis.literal("")
    for p in parts:
        out = out + (ibis.literal(p) if isinstance(p, str) else p)
    return out
