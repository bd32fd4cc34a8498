"""Conditions on one column (``field``, ``op``, ``value``) as engine-neutral boolean expressions.

Used by measures' ``where:`` and by segments. Field names are looked up in the table's schema (never spliced into
SQL) and values are bound as literals of the column's type, so a condition cannot inject SQL. Each operator is
checked against the column's type; a mismatch is a ConfigError naming the key, the type and the valid operators.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from custdim.errors import ConfigError
from custdim.stages.insights.asof import AsOf, window_start

NUMERIC_OPS = ("=", "!=", ">", ">=", "<", "<=", "between", "in", "not_in")
TEXT_OPS = ("=", "!=", "in", "not_in", "contains", "starts_with", "ends_with")
TIME_OPS = ("=", "!=", "before", "after", "between", "within", ">", ">=", "<", "<=")
BOOL_OPS = ("is_true", "is_false", "=", "!=")
ANY_OPS = ("is_null", "is_not_null")


@dataclass(frozen=True)
class Where:
    """Where a condition sits in the project file, for error messages."""

    file: str
    key: str

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.file, self.key, message)


def column_of(t: ir.Table, name: str, where: Where, what: str = "field") -> ir.Column:
    """``t[name]``, or a ConfigError listing the valid names."""
    if name not in t.columns:
        valid = ", ".join(c for c in t.columns if not c.startswith("_"))
        raise where.error(f"unknown {what} {name!r}; valid names: {valid}")
    return t[name]


def ops_for(dtype: Any) -> tuple[str, ...]:
    if dtype.is_boolean():
        return BOOL_OPS + ANY_OPS
    if dtype.is_numeric():
        return NUMERIC_OPS + ANY_OPS
    if dtype.is_temporal():
        return TIME_OPS + ANY_OPS
    if dtype.is_string():
        return TEXT_OPS + ANY_OPS
    return ANY_OPS


def predicate(column: ir.Column, op: str, value: object, where: Where, as_of: AsOf) -> ir.BooleanValue:
    """``column <op> value``; null values never satisfy a comparison (SQL's three-valued logic, made two-valued)."""
    dtype = column.type()
    valid = ops_for(dtype)
    if op not in valid:
        raise where.error(f"op {op!r} does not apply to a {dtype} field; valid ops: {', '.join(valid)}")
    if op == "is_null":
        return column.isnull()
    if op == "is_not_null":
        return column.notnull()
    if op in ("is_true", "is_false"):
        return (column == (op == "is_true")).fill_null(False)
    if dtype.is_temporal() and op == "within":
        if not isinstance(value, str):
            raise where.error("op within takes a duration: 30d, 8w, 12m, 2y")
        start = window_start(as_of, value, where)
        return ((column >= _as(start, dtype)) & (column < _as(as_of.end, dtype))).fill_null(False)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise where.error("op between takes two values: [low, high] (both included)")
        low, high = (_literal(v, dtype, where) for v in value)
        return column.between(low, high).fill_null(False)
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise where.error(f"op {op} takes a non-empty list of values")
        values = [_literal(v, dtype, where) for v in value]
        test = column.isin(values)
        return (test if op == "in" else ~test).fill_null(False)
    if isinstance(value, list):
        raise where.error(f"op {op!r} takes one value, not a list")
    if value is None:
        raise where.error(f"op {op!r} needs a value (use is_null / is_not_null to test for missing values)")
    if op in ("contains", "starts_with", "ends_with"):
        text = column.lower()
        needle = str(value).lower()
        if op == "contains":
            out = text.contains(needle)
        else:
            out = text.startswith(needle) if op == "starts_with" else text.endswith(needle)
        return out.fill_null(False)
    literal = _literal(value, dtype, where)
    compare = {"=": "__eq__", "!=": "__ne__", ">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__"}
    compare |= {"before": "__lt__", "after": "__gt__"}
    compared: ir.BooleanValue = getattr(column, compare[op])(literal)
    return compared.fill_null(False)


def _as(moment: dt.datetime, dtype: Any) -> ir.Value:
    return ibis.literal(moment.date() if dtype.is_date() else moment, dtype)


def _literal(value: object, dtype: Any, where: Where) -> ir.Value:
    """``value`` as a literal of the column's type, or a ConfigError saying what was expected."""
    try:
        if dtype.is_boolean():
            if not isinstance(value, bool):
                raise ValueError
            return ibis.literal(value)
        if dtype.is_numeric():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError
            return ibis.literal(value, "int64" if isinstance(value, int) and dtype.is_integer() else "float64")
        if dtype.is_date():
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            return ibis.literal(day.date() if isinstance(day, dt.datetime) else day, "date")
        if dtype.is_timestamp():
            if isinstance(value, dt.datetime):
                moment = value
            elif isinstance(value, dt.date):
                moment = dt.datetime.combine(value, dt.time())
            else:
                moment = dt.datetime.fromisoformat(str(value))
            return ibis.literal(moment.replace(tzinfo=None), "timestamp")
        if dtype.is_string():
            if isinstance(value, bool | list | dict):
                raise ValueError
            return ibis.literal(str(value), "string")
    except ValueError:
        pass
    raise where.error(f"value {value!r} does not fit a {dtype} field")
