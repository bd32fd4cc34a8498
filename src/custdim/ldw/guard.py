"""Admit only one read-only query over the catalog views, before any user SQL reaches an engine.

The rule is an allow-list: a single SELECT, set operation (UNION / INTERSECT / EXCEPT), ``WITH ... SELECT`` or
VALUES whose table references are all catalog views or CTEs of the query itself. Everything else is refused with a
message naming what is not allowed: other statements (COPY, ATTACH, SET, INSTALL, ...), table functions of any kind
(``read_csv``, ``range``, ``glob``, ...), file paths used as tables, schema-qualified names and scalar functions that
reach files, the environment or settings.

System schemas (``information_schema``, ``pg_catalog``) are refused as well: their rows reveal attached file paths
and settings, and the list of views is available through :func:`custdim.ldw.query.views` instead.

The checked query is returned re-rendered from the parsed tree, so what runs is exactly what was checked, even where
sqlglot and the engine would read the original text differently. The engine connection is locked down as well
(defense in depth); this guard is what gives users a clear message.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from custdim.errors import CustdimError

DIALECT = "duckdb"

# Statement kinds and clauses that write, change settings or reach outside the catalog, wherever they appear.
_FORBIDDEN_NODES: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Copy, "COPY"),
    (exp.Attach, "ATTACH"),
    (exp.Detach, "DETACH"),
    (exp.Create, "CREATE"),
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
    (exp.Merge, "MERGE"),
    (exp.Drop, "DROP"),
    (exp.Alter, "ALTER"),
    (exp.Install, "INSTALL"),
    (exp.Set, "SET"),
    (exp.Pragma, "PRAGMA"),
    (exp.Use, "USE"),
    (exp.Describe, "DESCRIBE"),
    (exp.Summarize, "SUMMARIZE"),
    (exp.Show, "SHOW"),
    (exp.Transaction, "BEGIN TRANSACTION"),
    (exp.Commit, "COMMIT"),
    (exp.Rollback, "ROLLBACK"),
    # SELECT ... INTO is CREATE TABLE in disguise.
    (exp.Into, "SELECT ... INTO"),
)

# DuckDB functions that read files, list folders, run SQL from a string, or expose the environment, settings,
# secrets or attached databases. Checked as scalars too: several (read_text, glob) exist in both forms.
DENIED_FUNCTIONS = frozenset(
    {
        "arrow_scan",
        "checkpoint",
        "current_setting",
        "force_checkpoint",
        "getenv",
        "glob",
        "load_aws_credentials",
        "pandas_scan",
        "parquet_scan",
        "query",
        "query_table",
        "sniff_csv",
        "which_secret",
    }
)
DENIED_PREFIXES = (
    "read_",
    "parquet_",
    "duckdb_",
    "pragma_",
    "iceberg_",
    "delta_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "st_read",
    "http_",
    "json_execute",
)

_READ_ROOTS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
# Tokens a read query can start with; a parse error after any other first keyword names that statement instead.
_READ_STARTS = (TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.FROM, TokenType.L_PAREN, TokenType.TABLE)
_SOURCES = (exp.Table, exp.Subquery, exp.Values, exp.Lateral)
_ALLOWED = "only one read-only query (SELECT, WITH ... SELECT, UNION / INTERSECT / EXCEPT or VALUES) over the views"


class QueryError(CustdimError):
    """A query against the SQL views failed."""


class QueryRejected(QueryError):
    """A query was refused before it ran: it is not one read-only query over the catalog views."""


def check_query(sql: str, views: Collection[str]) -> str:
    """Return the SQL to run for ``sql`` if it is one read-only query over ``views``; raise QueryRejected if not.

    View names match case-insensitively, as in DuckDB. The returned SQL is the parsed query rendered again
    (without comments) in the DuckDB dialect.
    """
    allowed = {v.lower() for v in views}
    statements = _split_statements(sql, views)
    if not statements:
        raise _reject("the query is empty", views)
    if len(statements) > 1:
        kinds = ", ".join(_keyword(s) for s in statements)
        raise _reject(f"several statements in one query ({kinds}); send one statement without a second ';'", views)
    # Decided on the first keyword, so statements sqlglot cannot parse (EXPORT DATABASE, ...) still get a clear name.
    if statements[0][0].token_type not in _READ_STARTS:
        raise _reject(f"{_keyword(statements[0])} statements are not allowed", views)
    try:
        return _check_statement(sql, statements[0], allowed, views)
    except RecursionError:
        # sqlglot parses and renders recursively: some 40 nested function calls exhaust Python's stack.
        raise _reject("the query is nested too deeply to be checked; flatten it, e.g. with a CTE", views) from None


def _check_statement(sql: str, tokens: list[Token], allowed: set[str], views: Collection[str]) -> str:
    try:
        parsed = [tree for tree in sqlglot.parse(sql, dialect=DIALECT) if tree is not None]
    except (ParseError, TokenError) as exc:
        raise _reject(f"cannot parse the query: {_parse_message(exc)}", views) from None
    if len(parsed) != 1:
        raise _reject("the query must be exactly one statement", views)
    tree = parsed[0]
    if not isinstance(tree, _READ_ROOTS):
        raise _reject(f"{_statement_kind(tree, tokens)} statements are not allowed", views)
    for node in tree.walk():
        _check_node(node, allowed, views)
    return tree.sql(dialect=DIALECT, comments=False)


def _split_statements(sql: str, views: Collection[str]) -> list[list[Token]]:
    """Tokens of each non-empty statement; comments are not tokens, so a ';' inside one splits nothing."""
    try:
        tokens = Dialect.get_or_raise(DIALECT).tokenize(sql)
    except TokenError as exc:
        raise _reject(f"cannot parse the query: {exc}", views) from None
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    return [s for s in statements if s]


def _parse_message(exc: ParseError | TokenError) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        first = exc.errors[0]
        near = f" near {first['highlight']!r}" if first.get("highlight") else ""
        return f"{first['description']} at line {first['line']}, column {first['col']}{near}"
    return str(exc).splitlines()[0]


def _keyword(tokens: list[Token]) -> str:
    words = [t.text.upper() for t in tokens[:2]]
    # FORCE only qualifies the statement that follows (FORCE INSTALL, FORCE CHECKPOINT).
    return " ".join(words) if words[0] == "FORCE" else words[0]


def _statement_kind(tree: exp.Expr, tokens: list[Token]) -> str:
    for cls, label in _FORBIDDEN_NODES:
        if isinstance(tree, cls):
            return label
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    return _keyword(tokens)


def _check_node(node: exp.Expr, allowed: set[str], views: Collection[str]) -> None:
    for cls, label in _FORBIDDEN_NODES:
        if isinstance(node, cls):
            raise _reject(f"{label} is not allowed", views)
    if isinstance(node, exp.Command):
        raise _reject(f"{str(node.this).upper()} is not allowed", views)
    if isinstance(node, exp.Table):
        _check_table(node, allowed, views)
    elif isinstance(node, exp.Func):
        name = _denied_function(node)
        if name:
            raise _reject(f"the function {name}() is not allowed: it reaches files, settings or the environment", views)
    elif isinstance(node, (exp.From, exp.Join)) and not isinstance(node.this, _SOURCES):
        raise _reject(f"table functions are not allowed ({_head(node.this)} in FROM)", views)
    elif isinstance(node, exp.Lateral) and not isinstance(node.this, exp.Subquery):
        raise _reject(f"table functions are not allowed (LATERAL {_head(node.this)})", views)


def _check_table(table: exp.Table, allowed: set[str], views: Collection[str]) -> None:
    source = table.this
    if not isinstance(source, exp.Identifier):
        what = f"{_head(source)} in FROM" if source is not None else "ROWS FROM"
        raise _reject(f"table functions are not allowed ({what}); query the views instead", views)
    name = table.name
    if table.args.get("db") or table.args.get("catalog"):
        raise _reject(
            f"the qualified name {table.sql(dialect=DIALECT)} is not allowed; name views without a schema", views
        )
    if name.lower() in allowed or name.lower() in _ctes_in_scope(table):
        return
    if any(c in name for c in "/\\.:~"):
        raise _reject(f"reading files is not allowed ({name!r} used as a table)", views)
    raise _reject(f"{name!r} is not a view of the catalog", views)


def _ctes_in_scope(node: exp.Expr) -> set[str]:
    """CTE names visible at ``node``: all of a WITH from its query body, only the earlier ones from inside a CTE.

    A non-recursive CTE that names itself means the outer table of that name (as in DuckDB and PostgreSQL), so it
    must not be mistaken for a reference to the CTE.
    """
    names: set[str] = set()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            ctes = list(parent.expressions)
            index = next((i for i, cte in enumerate(ctes) if cte is child), 0)
            visible = ctes if parent.args.get("recursive") else ctes[:index]
            names.update(cte.alias_or_name.lower() for cte in visible)
        else:
            with_ = parent.args.get("with_") or parent.args.get("with")
            if isinstance(with_, exp.With) and with_ is not child:
                names.update(cte.alias_or_name.lower() for cte in with_.expressions)
        child, parent = parent, parent.parent
    return names


def _denied_function(node: exp.Func) -> str | None:
    names = {node.name.lower()} if isinstance(node, exp.Anonymous) else {n.lower() for n in node.sql_names()}
    names.add(_head(node).lower())
    for name in sorted(names):
        if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
            return name
    return None


def _head(node: exp.Expr) -> str:
    """The function name or keyword that starts ``node`` as DuckDB SQL."""
    return node.sql(dialect=DIALECT, comments=False).split("(", 1)[0].strip() or type(node).__name__.upper()


def _reject(reason: str, views: Collection[str]) -> QueryRejected:
    listed = ", ".join(sorted(views, key=str.lower)) or "none (run `custdim run` first)"
    return QueryRejected(f"query rejected: {reason}. Allowed: {_ALLOWED}. Views: {listed}")
