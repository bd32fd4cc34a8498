"""Arithmetic over other measures (``expression: TotalSpend / nullif(OrdersAllTime, 0)``), compiled to Ibis.

The text is parsed by sqlglot and walked node by node; only measure names, numbers, + - * /, parentheses and the
functions in ``FUNCTIONS`` are accepted, so an expression can never become arbitrary SQL. Division is true
division (``7 / 2`` is 3.5) and a division by zero gives null, on every engine.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import sqlglot
from sqlglot import exp

from custdim.errors import ConfigError

FUNCTIONS = ("nullif", "coalesce", "abs", "round", "least", "greatest")


def references(text: str, file: str, key: str) -> list[str]:
    """The measure names an expression uses (in order of appearance)."""
    tree = _parse(text, file, key)
    return list(dict.fromkeys(c.name for c in tree.find_all(exp.Column)))


def compile_expression(text: str, columns: dict[str, ir.Value], file: str, key: str) -> ir.Value:
    """The expression over ``columns`` (measure name -> value); unknown names and constructs are ConfigErrors."""
    tree = _parse(text, file, key)

    def fail(message: str) -> ConfigError:
        return ConfigError(file, key, f"{message} in {text!r}")

    def walk(node: exp.Expression) -> ir.Value:
        if isinstance(node, exp.Paren):
            return walk(node.this)
        if isinstance(node, exp.Column):
            if node.table or node.name not in columns:
                raise fail(f"unknown measure {node.sql()!r}; valid names: {', '.join(columns) or '(none)'}")
            return columns[node.name]
        if isinstance(node, exp.Literal):
            if node.is_string:
                raise fail("text literals are not allowed")
            number = float(node.this)
            return ibis.literal(int(number) if number.is_integer() and "." not in node.this else number)
        if isinstance(node, exp.Neg):
            return -walk(node.this)
        binary: dict[type[exp.Expression], Callable[[ir.NumericValue, ir.NumericValue], ir.Value]] = {
            exp.Add: lambda a, b: a + b,
            exp.Sub: lambda a, b: a - b,
            exp.Mul: lambda a, b: a * b,
            exp.Div: lambda a, b: a.cast("float64") / b.cast("float64").nullif(0),
        }
        for kind, apply in binary.items():
            if isinstance(node, kind):
                return apply(walk(node.this), walk(node.expression))
        if isinstance(node, exp.Nullif):
            return walk(node.this).nullif(walk(node.expression))
        if isinstance(node, exp.Coalesce):
            return ibis.coalesce(walk(node.this), *(walk(e) for e in node.expressions))
        if isinstance(node, exp.Abs):
            return walk(node.this).abs()
        if isinstance(node, exp.Round):
            digits = node.args.get("decimals")
            places = 0 if digits is None else int(float(digits.this)) if isinstance(digits, exp.Literal) else None
            if places is None:
                raise fail("round takes a number of decimals as a literal")
            return walk(node.this).round(places)
        if isinstance(node, exp.Greatest | exp.Least):
            args = [walk(node.this), *(walk(e) for e in node.expressions)]
            return ibis.greatest(*args) if isinstance(node, exp.Greatest) else ibis.least(*args)
        name = node.sql_name() if isinstance(node, exp.Func) else type(node).__name__
        raise fail(f"{name.lower()} is not allowed; use measure names, numbers, + - * / and {', '.join(FUNCTIONS)}")

    return walk(tree)


def _parse(text: str, file: str, key: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text)
    except sqlglot.errors.ParseError as err:
        raise ConfigError(file, key, f"cannot read expression {text!r}: {str(err).splitlines()[0]}") from None
    if not isinstance(tree, exp.Expression):
        raise ConfigError(file, key, "empty expression")
    return tree
