"""``custdim serve sql``: the logical data warehouse over the PostgreSQL wire protocol, for BI tools and drivers.

The protocol (startup, SCRAM-SHA-256 authentication, simple and extended query, SET/SHOW, transaction control,
``version()`` and the ``information_schema``/``pg_catalog`` introspection clients send) is pg-mimic's. This module
adapts it to the catalog:

- every user query goes through the same guard as ``custdim sql`` (:func:`custdim.ldw.guard.check_query`) and
  runs on a read-only, locked-down DuckDB instance (:class:`custdim.engines.duckdb_reader.CatalogReader`): writes,
  DDL, file access and settings are refused with an SQL error before anything runs;
- introspection is answered from the view list and column types (the published entities are tables, the derived
  views are views), never from DuckDB's own catalog, which would show file paths;
- each client session has its own cursor; queries run in worker threads, so clients are served in parallel;
- a statement that runs longer than ``statement_timeout`` is interrupted (SQLSTATE 57014), and a result longer
  than ``max_rows`` rows is an error (54000) rather than a silently cut answer;
- a new publish is picked up without a restart: a session whose catalog file was replaced opens the new one
  before its next statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pg_mimic
import pyarrow as pa
from pg_mimic import (
    PgError,
    PgServer,
    Portal,
    ResultColumn,
    ScramSha256AuthPlugin,
    Session,
    SimpleIdentityProvider,
    Statement,
    StaticStatement,
)
from pg_mimic import catalog as pg_catalog_emulation
from pg_mimic import middleware as mw
from pg_mimic.catalog_rewrite import rewrite_for_executor
from sqlglot import exp, parse_one
from sqlglot.errors import ParseError, TokenError

from custdim.contracts import EXPORT_ENTITIES
from custdim.engines import duckdb_reader
from custdim.engines.duckdb_introspection import Introspection
from custdim.errors import UsageError
from custdim.ldw.guard import QueryError, QueryRejected, check_query

DATABASE = "custdim"
"""The database name clients connect to (any name is accepted; this is what the endpoint reports)."""
# PostgreSQL type OIDs (pg-mimic is untyped: typed here once).
BOOL: int = pg_mimic.BOOL
INT2: int = pg_mimic.INT2
INT4: int = pg_mimic.INT4
INT8: int = pg_mimic.INT8
FLOAT4: int = pg_mimic.FLOAT4
FLOAT8: int = pg_mimic.FLOAT8
NUMERIC: int = pg_mimic.NUMERIC
DATE: int = pg_mimic.DATE
TIME: int = pg_mimic.TIME
TIMESTAMP: int = pg_mimic.TIMESTAMP
TIMESTAMPTZ: int = pg_mimic.TIMESTAMPTZ
JSON: int = pg_mimic.JSON
TEXT: int = pg_mimic.TEXT
TEXT_ARRAY: int = pg_mimic.ARRAY_OID[pg_mimic.TEXT]
ARRAYS: dict[int, int] = dict(pg_mimic.ARRAY_OID)
USERS_ENV = "CUSTDIM_SQL_USERS"
DEFAULT_PORT = 5433
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_ROWS = 1_000_000
BATCH_ROWS = 8_192
SERVER_VERSION = "16.0 (custdim)"

READ_ONLY = "25006"  # read_only_sql_transaction: what PostgreSQL answers a write on a read-only connection
NOT_ALLOWED = "42501"  # insufficient_privilege
SYNTAX = "42601"
QUERY_CANCELED = "57014"
LIMIT_EXCEEDED = "54000"
DATA_EXCEPTION = "22000"
INVALID_PARAMETER = "22023"
WRITE_WORDS = (
    "CREATE",
    "DROP",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "ALTER",
    "COPY",
    "ATTACH",
    "DETACH",
    "SELECT ... INTO",
)


@dataclass(frozen=True)
class Limits:
    statement_timeout: float = DEFAULT_TIMEOUT
    max_rows: int = DEFAULT_MAX_ROWS


def parse_users(text: str, origin: str, separator: str) -> dict[str, str]:
    """``name:password`` entries separated by ``separator``; blank entries and ``#`` comment lines are skipped."""
    users: dict[str, str] = {}
    for n, raw in enumerate(text.split(separator), start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, password = entry.partition(":")
        where = f"{origin}, line {n}" if separator == "\n" else f"{origin}, entry {n}"
        if not sep or not name.strip() or not password:
            raise UsageError(f"{where}: expected name:password")
        if name.strip() in users:
            raise UsageError(f"{where}: user {name.strip()!r} is listed twice")
        users[name.strip()] = password
    return users


def load_users(users_file: Path | None) -> dict[str, str]:
    """The endpoint's users, from ``--users-file`` or else the CUSTDIM_SQL_USERS environment variable."""
    if users_file is not None:
        try:
            text = users_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the users file {users_file}: {exc}") from None
        users = parse_users(text, str(users_file), "\n")
        origin = str(users_file)
    else:
        users = parse_users(os.environ.get(USERS_ENV, ""), USERS_ENV, ",")
        origin = f"the environment variable {USERS_ENV}"
    if not users:
        raise UsageError(
            f"no users for the SQL endpoint in {origin}: pass --users-file FILE (lines name:password) or set "
            f"{USERS_ENV}=name:password[,name:password...]"
        )
    return users


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- types --------------------------------------------------------------------------------------------------------


def pg_type(dtype: pa.DataType) -> int:
    """The PostgreSQL type OID a column of this Arrow type is sent as."""
    if pa.types.is_boolean(dtype):
        return BOOL
    if pa.types.is_int8(dtype) or pa.types.is_int16(dtype) or pa.types.is_uint8(dtype):
        return INT2
    if pa.types.is_int32(dtype) or pa.types.is_uint16(dtype):
        return INT4
    if pa.types.is_integer(dtype):
        return INT8
    if pa.types.is_float16(dtype) or pa.types.is_float32(dtype):
        return FLOAT4
    if pa.types.is_floating(dtype):
        return FLOAT8
    if pa.types.is_decimal(dtype):
        return NUMERIC
    if pa.types.is_date(dtype):
        return DATE
    if pa.types.is_time(dtype):
        return TIME
    if pa.types.is_timestamp(dtype):
        return TIMESTAMPTZ if dtype.tz else TIMESTAMP
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        inner = pg_type(dtype.value_type)
        return ARRAYS.get(inner, TEXT_ARRAY) if inner != JSON else JSON
    if pa.types.is_struct(dtype) or pa.types.is_map(dtype):
        return JSON
    return TEXT


DECLARED = {BOOL: "boolean", INT2: "smallint", INT4: "integer", INT8: "bigint", FLOAT4: "real",
            FLOAT8: "double precision", NUMERIC: "numeric", DATE: "date", TIME: "time", TIMESTAMP: "timestamp",
            TIMESTAMPTZ: "timestamptz", JSON: "json"}  # fmt: skip
"""OID -> the type name introspection reports (arrays and anything else: text)."""


def _declared(oid: int) -> str:
    if oid == TEXT_ARRAY:
        return "_text"
    return DECLARED.get(oid, "text")


def _value(value: Any, oid: int) -> Any:
    """A result value as pg-mimic encodes it: a naive timestamp of a TIMESTAMPTZ column is UTC."""
    if isinstance(value, dt.datetime) and oid == TIMESTAMPTZ and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


UNTYPED_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} [+-]\d{2}(:?\d{2})?$")


def bind_parameter(text: str | None, oid: int | None) -> Any:
    """A parameter's text (as pg-mimic decoded it) as the Python value DuckDB binds for its declared type."""
    if text is None or not isinstance(text, str):
        return text
    try:
        if oid in (INT2, INT4, INT8):
            return int(text)
        if oid in (FLOAT4, FLOAT8):
            return float(text)
        if oid == NUMERIC:
            return Decimal(text)
        if oid == BOOL:
            lowered = text.strip().lower()
            if lowered in ("t", "true", "1", "yes", "on"):
                return True
            if lowered in ("f", "false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if oid == DATE:
            return dt.date.fromisoformat(text)
        if oid in (TIMESTAMP, TIMESTAMPTZ):
            value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
            if oid == TIMESTAMPTZ and value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value
        if not oid and UNTYPED_DATE.match(text):
            # pgjdbc sends setDate() untyped, as "2024-01-31 +01": the date, with the client's zone appended.
            return dt.date.fromisoformat(text[:10])
    except (ValueError, InvalidOperation):
        raise PgError(
            INVALID_PARAMETER, f"invalid value for a parameter of type {DECLARED.get(oid or 0, oid)}: {text!r}"
        ) from None
    return text


# --- the catalog the endpoint serves ----------------------------------------------------------------------------


class Endpoint:
    """What every session shares: where the catalog is, its views and their columns, the limits.

    ``refresh()`` reopens the catalog when a publish replaced the file; sessions pick the new reader up before their
    next statement, and the old one is closed when its last session has moved on.
    """

    def __init__(self, catalog_path: str, export_dir: str, limits: Limits) -> None:
        self.catalog_path = catalog_path
        self.export_dir = export_dir
        self.limits = limits
        self.derived: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._reader: duckdb_reader.CatalogReader | None = None
        self._users: dict[int, int] = {}
        self._old: list[duckdb_reader.CatalogReader] = []
        self.views: list[str] = []
        self.columns: dict[str, dict[str, int]] = {}
        self._introspection: Introspection | None = None
        self.refresh()

    def introspect(self, tree: exp.Expr) -> pa.Table | None:
        """A catalog query's answer from the private catalog tables; None when they cannot answer it."""
        introspection = self._introspection
        if introspection is None:
            return None
        try:
            return introspection.query(introspection.rewrite(tree))
        except (duckdb_reader.DuckDBError, ValueError, TypeError):
            return None

    def refresh(self) -> duckdb_reader.CatalogReader:
        """The current reader, reopened first if the catalog file changed."""
        with self._lock:
            identity = duckdb_reader.file_identity(self.catalog_path)
            if self._reader is None or identity != self._reader.identity:
                reader = duckdb_reader.CatalogReader(self.catalog_path, [self.export_dir], DATABASE)
                cur = reader.cursor()
                try:
                    views = duckdb_reader.list_user_views(cur)
                    columns = {
                        v: {
                            f.name: pg_type(f.type)
                            for f in duckdb_reader.result_schema(cur, f'SELECT * FROM "{v}"', 0)  # noqa: S608 - a view
                        }
                        for v in views
                    }
                finally:
                    cur.close()
                if self._reader is not None:
                    self._old.append(self._reader)
                self._reader, self.views, self.columns = reader, views, columns
                # Exported entities are tables to clients; dim_customer, fact_activity, dim_date are views.
                self.derived = frozenset(v for v in views if v not in EXPORT_ENTITIES)
                if self._introspection is not None:
                    self._introspection.close()
                self._introspection = Introspection(self.schema(), self.derived, DATABASE)
                self._users.setdefault(id(reader), 0)
                self._close_unused()
            return self._reader

    def checkout(self, previous: duckdb_reader.CatalogReader | None) -> duckdb_reader.CatalogReader:
        """The reader a session should use now (counted, so old readers close once nobody uses them)."""
        reader = self.refresh()
        with self._lock:
            if previous is not reader:
                self._users[id(reader)] = self._users.get(id(reader), 0) + 1
                if previous is not None:
                    self._users[id(previous)] -= 1
                self._close_unused()
        return reader

    def release(self, reader: duckdb_reader.CatalogReader | None) -> None:
        if reader is None:
            return
        with self._lock:
            self._users[id(reader)] = self._users.get(id(reader), 1) - 1
            self._close_unused()

    def _close_unused(self) -> None:
        for old in list(self._old):
            if self._users.get(id(old), 0) <= 0:
                old.close()
                self._old.remove(old)
                self._users.pop(id(old), None)

    def close(self) -> None:
        with self._lock:
            for reader in [*self._old, *([self._reader] if self._reader else [])]:
                reader.close()
            self._old, self._reader = [], None
            if self._introspection is not None:
                self._introspection.close()
                self._introspection = None

    def schema(self) -> dict[str, dict[str, str]]:
        return {v: {c: _declared(oid) for c, oid in cols.items()} for v, cols in self.columns.items()}


# --- SQL adaptation -----------------------------------------------------------------------------------------------


def to_catalog_sql(sql: str, views: list[str]) -> str:
    """The client's SQL, checked by the guard, as it runs on the catalog.

    BI tools qualify names with the schema and database they were shown (``public``, ``custdim``): those qualifiers
    are dropped first, since the catalog's views are unqualified. Everything else is the guard's business.
    """
    try:
        tree = parse_one(sql, dialect="postgres")
    except (ParseError, TokenError):
        tree = None
    if tree is not None and isinstance(tree, exp.Query):
        tree = unqualify_functions(tree)
        for table in tree.find_all(exp.Table):
            if (table.db or "").lower() in ("public", DATABASE) and (table.catalog or "").lower() in ("", DATABASE):
                table.set("db", None)
                table.set("catalog", None)
        sql = tree.sql(dialect="duckdb")
    try:
        return check_query(sql, views)
    except QueryRejected as exc:
        message = str(exc)
        code = READ_ONLY if any(f"{w} " in message for w in WRITE_WORDS) else NOT_ALLOWED
        if "cannot parse" in message:
            code = SYNTAX
        raise PgError(code, message) from None


class CatalogStatement(Statement):
    def __init__(self, session: CatalogSession, sql: str, param_oids: list[int | None]) -> None:
        self.session = session
        self.sql = sql
        self.param_oids = param_oids
        self._checked: str | None = None
        self._columns: list[ResultColumn] | None = None

    def checked(self) -> str:
        if self._checked is None:
            self._checked = to_catalog_sql(self.sql, self.session.endpoint.views)
        return self._checked

    async def describe(self) -> list[ResultColumn] | None:
        if self._columns is None:
            checked = self.checked()
            n = _parameter_count(checked)
            schema = await self.session.run(lambda cur: duckdb_reader.result_schema(cur, checked, n))
            self._columns = [ResultColumn(f.name, pg_type(f.type)) for f in schema]
        return self._columns

    def bind(self, params: list[str | None]) -> Portal:
        oids = list(self.param_oids) + [None] * (len(params) - len(self.param_oids))
        return CatalogPortal(self, [bind_parameter(p, o) for p, o in zip(params, oids, strict=False)])


def _parameter_count(sql: str) -> int:
    try:
        tree = parse_one(sql, dialect="duckdb")
    except (ParseError, TokenError):
        return 0
    numbers = [int(p.name) for p in tree.find_all(exp.Parameter) if str(p.name).isdigit()]
    numbers += [int(p.name) for p in tree.find_all(exp.Placeholder) if str(p.name).isdigit()]
    return max(numbers, default=0)


class CatalogPortal(Portal):
    def __init__(self, statement: CatalogStatement, params: list[Any]) -> None:
        self.statement = statement
        self.params = params
        self._rows: Iterator[tuple[Any, ...]] | None = None
        self._sent = 0
        self._deadline = 0.0

    async def execute(self, max_rows: int) -> tuple[list[tuple[Any, ...]], bool]:
        session = self.statement.session
        columns = await self.statement.describe() or []
        oids = [c.oid for c in columns]
        if self._rows is None:
            checked = self.statement.checked()
            self._deadline = time.monotonic() + session.endpoint.limits.statement_timeout
            session.close_result()  # an abandoned portal's result would block the cursor
            reader = await session.run(
                lambda cur: duckdb_reader.run_select(cur, checked, self.params, BATCH_ROWS), self._deadline
            )
            session.open_result = reader
            self._rows = _rows(reader, oids)
        rows_iter = self._rows
        limit = session.endpoint.limits.max_rows

        def take() -> tuple[list[tuple[Any, ...]], bool]:
            out: list[tuple[Any, ...]] = []
            for row in rows_iter:
                out.append(row)
                if self._sent + len(out) > limit:
                    raise PgError(
                        LIMIT_EXCEEDED,
                        f"the result has more than {limit} rows, the SQL endpoint's limit: aggregate, filter or add a "
                        "LIMIT",
                    )
                if max_rows > 0 and len(out) >= max_rows:
                    return out, True
            return out, False

        try:
            rows, suspended = await session.run(lambda _cur: take(), self._deadline)
        except PgError:
            session.close_result()
            raise
        if not suspended:
            session.close_result()
        self._sent += len(rows)
        return rows, suspended


def _rows(reader: pa.RecordBatchReader, oids: list[int]) -> Iterator[tuple[Any, ...]]:
    for batch in reader:
        columns = [[_value(v, oid) for v in col.to_pylist()] for col, oid in zip(batch.columns, oids, strict=False)]
        yield from zip(*columns, strict=True)


class CatalogSession(Session):
    """One client connection: its own cursor on the catalog, introspection answered from the view list."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._reader: duckdb_reader.CatalogReader | None = None
        self._cursor: duckdb_reader.Cursor | None = None
        self.open_result: pa.RecordBatchReader | None = None
        self.middleware = (
            mw.transaction_control,
            mw.set_show,
            _session_extras,
            mw.session_functions,
            _information_schema,
            mw.asyncpg_typeinfo,
            _pg_catalog,
        )

    async def schema(self) -> dict[str, dict[str, str]]:
        return self.endpoint.schema()

    def close_result(self) -> None:
        """Release the cursor's streaming result (finished, failed or abandoned by the client)."""
        if self.open_result is not None:
            self.open_result.close()
            self.open_result = None

    async def prepare(self, sql: str, param_oids: list[int | None]) -> Statement:
        await asyncio.to_thread(self._current_cursor)  # a new publish changes what introspection answers
        statement = await super().prepare(sql, param_oids)
        if type(statement).__name__ == "CallbackStatement":
            return CatalogStatement(self, sql, param_oids)
        return statement

    def _current_cursor(self) -> duckdb_reader.Cursor:
        reader = self.endpoint.checkout(self._reader)
        if reader is not self._reader or self._cursor is None:
            if self._cursor is not None:
                self._cursor.close()
            self._reader, self._cursor = reader, reader.cursor()
        return self._cursor

    async def run(self, work: Any, deadline: float | None = None) -> Any:
        """Run ``work(cursor)`` in a worker thread; past the deadline the cursor is interrupted (SQLSTATE 57014)."""
        cursor = self._cursor if self._cursor is not None else await asyncio.to_thread(self._current_cursor)
        if deadline is None:
            deadline = time.monotonic() + self.endpoint.limits.statement_timeout
        task = asyncio.ensure_future(asyncio.to_thread(work, cursor))
        try:
            return await asyncio.wait_for(asyncio.shield(task), max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            duckdb_reader.interrupt(cursor)
            with contextlib.suppress(Exception):
                await task  # the interrupted statement ends with an error nobody is waiting for
            raise PgError(
                QUERY_CANCELED,
                f"canceling statement due to statement timeout ({self.endpoint.limits.statement_timeout:g} s)",
            ) from None
        except QueryError as exc:
            raise PgError(DATA_EXCEPTION, str(exc)) from None
        except duckdb_reader.DuckDBError as exc:
            raise PgError(DATA_EXCEPTION, str(exc)) from None

    async def close(self) -> None:
        self.close_result()
        if self._cursor is not None:
            self._cursor.close()
        self.endpoint.release(self._reader)
        self._cursor = self._reader = None


# --- introspection: tables for entities, views for derived views ------------------------------------------------


def _mark_views(tables: dict[str, dict[str, list[dict[str, Any]]]], derived: frozenset[str]) -> None:
    for row in tables.get("information_schema", {}).get("tables", []):
        if row.get("table_name") in derived:
            row["table_type"] = "VIEW"
    for row in tables.get("pg_catalog", {}).get("pg_class", []):
        if row.get("relname") in derived:
            row["relkind"] = "v"


def _session_of(ctx: mw.MiddlewareContext) -> CatalogSession:
    session = ctx.connection.session
    assert isinstance(session, CatalogSession)
    return session


def _introspection(ctx: mw.MiddlewareContext, kind: str) -> Statement | None:
    expr = ctx.expression
    if kind == "information_schema":
        if not isinstance(expr, exp.Select) or not any(
            (t.db or "").lower() == "information_schema" for t in expr.find_all(exp.Table)
        ):
            return None
    elif not isinstance(expr, exp.Query) or not any(mw._is_pg_catalog(t) for t in expr.find_all(exp.Table)):
        return None
    statement = IntrospectionStatement(ctx, expr, kind)
    return statement if statement.parameters else statement.evaluate([])


async def _information_schema(ctx: mw.MiddlewareContext) -> Statement | None:
    return _introspection(ctx, "information_schema")


async def _pg_catalog(ctx: mw.MiddlewareContext) -> Statement | None:
    return _introspection(ctx, "pg_catalog")


class IntrospectionStatement(Statement):
    """An information_schema / pg_catalog query, answered from the view list like pg-mimic's own emulation, but
    with its parameters: drivers (psycopg, SQLAlchemy, JDBC) bind them out of band, so the answer can only be
    computed once their values are known."""

    def __init__(self, ctx: mw.MiddlewareContext, expr: exp.Expr, kind: str) -> None:
        self.ctx = ctx
        self.expr = expr
        self.kind = kind
        self.sql = ctx.sql
        self.param_oids = list(ctx.param_oids)
        self.parameters = sorted({int(p.name) for p in expr.find_all(exp.Parameter) if str(p.name).isdigit()})

    def evaluate(self, params: list[Any]) -> Statement:
        oids = list(self.param_oids) + [None] * len(params)
        values = {i + 1: (v, oids[i]) for i, v in enumerate(params)}
        tree = self.expr.transform(
            lambda n: (
                _literal(*values.get(int(n.name), (None, None)))
                if isinstance(n, exp.Parameter) and str(n.name).isdigit()
                else n
            )
        )
        endpoint = _session_of(self.ctx).endpoint
        answered = endpoint.introspect(tree)
        if answered is not None:
            columns = [ResultColumn(f.name, pg_type(f.type)) for f in answered.schema]
            rows = [tuple(r.values()) for r in answered.to_pylist()] if answered.num_columns else []
            return StaticStatement(self.sql, columns, rows)
        # What DuckDB cannot run, pg-mimic's own emulation tries (psql's OPERATOR(pg_catalog.~) and friends);
        # failing that, it answers no rows with the columns asked for, as an empty catalog would.
        if self.kind == "information_schema":
            schema, tables = pg_catalog_emulation._build_information_schema(endpoint.schema())
            _mark_views(tables, endpoint.derived)
            answer: Statement = pg_catalog_emulation._as_statement(tree, schema, tables)
            return answer
        schema, tables = pg_catalog_emulation._build_pg_catalog(endpoint.schema())
        _mark_views(tables, endpoint.derived)
        rewritten = rewrite_for_executor(self.ctx.connection, any_as_in(tree))
        fallback: Statement = pg_catalog_emulation._as_statement(rewritten, schema, tables)
        return fallback

    async def describe(self) -> list[ResultColumn] | None:
        columns: list[ResultColumn] | None = await self.evaluate([]).describe()
        return columns

    def bind(self, params: list[str | None]) -> Portal:
        return self.evaluate(list(params)).bind([])


def any_as_in(tree: exp.Expr) -> exp.Expr:
    """``x = ANY (ARRAY[a, b])`` as ``x IN (a, b)`` (and ``<> ALL`` as ``NOT IN``): drivers write catalog filters
    that way, and the executor that answers catalog queries has no ANY over arrays."""

    def items(node: exp.Expr) -> list[exp.Expr] | None:
        inner = node.this.this if isinstance(node.this, exp.Paren) else node.this
        return list(inner.expressions) if isinstance(inner, exp.Array) else None

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.EQ) and isinstance(node.expression, exp.Any):
            values = items(node.expression)
            if values is not None:
                return exp.In(this=node.this, expressions=values)
        if isinstance(node, exp.NEQ) and isinstance(node.expression, exp.All):
            values = items(node.expression)
            if values is not None:
                return exp.Not(this=exp.In(this=node.this, expressions=values))
        return node

    return tree.transform(rewrite)


def _literal(value: Any, oid: int | None = None) -> exp.Expr:
    if value is None:
        return exp.null()
    if isinstance(value, list):
        return exp.Array(expressions=[_literal(v) for v in value])
    if oid in (INT2, INT4, INT8, FLOAT4, FLOAT8, NUMERIC) and isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return exp.Literal.string(value)
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


VERSION_TEXT = "PostgreSQL 16.0 (custdim SQL endpoint over DuckDB, read-only)"
"""What version() answers: clients look for "PostgreSQL <major>.<minor>" at its start."""
SETTINGS = {"transaction isolation level": ("transaction_isolation", "read committed"),
            "transaction_isolation": ("transaction_isolation", "read committed"),
            "default_transaction_read_only": ("default_transaction_read_only", "on"),
            "transaction_read_only": ("transaction_read_only", "on"),
            "max_identifier_length": ("max_identifier_length", "63"),
            "datestyle": ("DateStyle", "ISO, MDY")}  # fmt: skip
"""Settings clients SHOW that pg-mimic does not know, with what a read-only PostgreSQL answers."""


async def _session_extras(ctx: mw.MiddlewareContext) -> Statement | None:
    """What BI clients send that pg-mimic's chain leaves out: version() as PostgreSQL words it, multi-word SHOW,
    and statements that mean nothing on a read-only endpoint (savepoints, DISCARD, DEALLOCATE)."""
    words = ctx.sql.rstrip("; \n").split()
    head = words[0].upper() if words else ""
    if head in ("SAVEPOINT", "RELEASE", "DISCARD", "DEALLOCATE", "UNLISTEN"):
        return StaticStatement(ctx.sql, None, [])
    if head == "SHOW" and len(words) > 1:
        name = " ".join(words[1:]).strip('"').lower()
        if name in SETTINGS:
            column, value = SETTINGS[name]
            return StaticStatement(ctx.sql, [ResultColumn(column, TEXT)], [(value,)])
    tree = ctx.expression
    if tree is not None and any(_is_pg_catalog_call(n) for n in tree.find_all(exp.Dot)):
        # pg_catalog.version(), pg_catalog.current_database(): the functions themselves, which the chain knows.
        ctx._expression = parse_one(unqualify_functions(tree).sql(dialect="postgres"), dialect="postgres")
    expr = ctx.select_without_tables()
    if expr is not None and any(True for _ in expr.find_all(exp.CurrentVersion)):
        ctx._expression = expr.transform(
            lambda node: exp.Literal.string(VERSION_TEXT) if isinstance(node, exp.CurrentVersion) else node
        )
        return await mw.static_select(ctx)
    return None


def _is_pg_catalog_call(node: exp.Dot) -> bool:
    return (
        isinstance(node.this, exp.Identifier)
        and node.this.name.lower() == "pg_catalog"
        and isinstance(node.expression, exp.Func)
    )


def unqualify_functions(tree: exp.Expr) -> exp.Expr:
    """``pg_catalog.f(...)`` as ``f(...)``: clients qualify built-in functions; DuckDB and the chain know them bare."""
    # transform() does not descend into a replacement: nested calls are unqualified by the recursion.
    return tree.transform(
        lambda n: unqualify_functions(n.expression) if isinstance(n, exp.Dot) and _is_pg_catalog_call(n) else n
    )


# --- serving ----------------------------------------------------------------------------------------------------


def make_server(endpoint: Endpoint, users: dict[str, str]) -> PgServer:
    """A pg-mimic server whose sessions read ``endpoint`` and whose users log in with SCRAM-SHA-256."""
    return PgServer(
        session_factory=lambda: CatalogSession(endpoint),
        auth_plugin_factory=lambda _username: ScramSha256AuthPlugin(),
        identity_provider=SimpleIdentityProvider(dict(users)),
        server_version=SERVER_VERSION,
    )


async def serve(endpoint: Endpoint, users: dict[str, str], host: str, port: int, ready: Any = None) -> None:
    """Serve until cancelled; ``ready(port)`` is called once the socket listens."""
    server = make_server(endpoint, users)
    listener = await server.start_server(host=host, port=port)
    if ready is not None:
        ready(listener.sockets[0].getsockname()[1])
    try:
        await server.serve_forever()
    finally:
        server.close()
        await server.wait_closed()
        endpoint.close()
