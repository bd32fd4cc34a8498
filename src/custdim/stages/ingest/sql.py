"""Land the tables of a ``type: sql`` source: a table, or the rows of a SELECT, read from a database in chunks.

Rows are fetched through SQLAlchemy with a server-side cursor, ``chunk_rows`` at a time, and every chunk is written
as a Parquet part at once, so a table larger than memory can be landed. Every part has one Arrow schema, taken from
the result's column types (not from the values), so a chunk of nulls types its columns like every other chunk.

What a type becomes (PostgreSQL, from the result's type OIDs): smallint/integer/bigint -> int16/int32/int64,
real/double -> float64, numeric(p,s) -> decimal128(p,s), date -> date32, timestamp -> timestamp[us],
timestamptz -> timestamp[us, UTC], boolean -> bool, bytea -> binary; text, varchar, char, uuid, enums and
everything else -> string (json/jsonb and arrays as JSON text, numeric without a precision as its exact decimal
text). Other databases (SQLite has no column types in a result) land every column as text, exactly as the driver
returns it; the project's ``columns:`` then declare types, applied strictly by the ingest stage like for files.

The connection is read-only where the database can say so (PostgreSQL: a READ ONLY transaction; SQLite:
``PRAGMA query_only``), and a ``query:`` must be one SELECT: nothing written through a source, ever.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from custdim.config.sources import SqlSource, SqlTable, env_references
from custdim.errors import ConfigError, SourceError
from custdim.stages.ingest.changes import BATCH, CHANGE
from custdim.stages.ingest.landing import Staged, TableRef
from custdim.stages.ingest.readers import REJECT_SCHEMA, ROW

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command, exp.Into)
_GLOT_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mssql": "tsql", "oracle": "oracle"}

# PostgreSQL type OIDs (pg_type.oid; stable across versions).
_PG_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    17: pa.binary(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    700: pa.float64(),
    701: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
_PG_NUMERIC = 1700


def stage_sql_table(ref: TableRef, fs: fsspec.AbstractFileSystem, staging: str, since: object = None) -> Staged:
    """Write the table's rows as Parquet parts under ``staging`` (see :func:`landing.stage_table`).

    A table with ``incremental: {cursor}`` gets the change columns (every row an upsert) and, with ``since``, only
    the rows whose cursor is at least ``since`` (rows updated in the same instant as the last run's last row are
    read again; the latest-change ranking keeps one of each)."""
    source, table = _spec(ref)
    rows = 0
    parts = 0
    with _result(ref, source, table, since=since) as (result, schema):
        if table.incremental is not None:
            schema = schema.append(pa.field(CHANGE, pa.string())).append(pa.field(BATCH, pa.string()))
        while chunk := result.fetchmany(table.chunk_rows):
            part = _to_arrow(chunk, schema, ref.label, table.incremental is not None)
            part = part.append_column(ROW, pa.array(range(rows + 1, rows + part.num_rows + 1), pa.int64()))
            with fs.open(f"{staging}/part-{parts:05d}.parquet", "wb") as fh:
                pq.write_table(part, fh)
            rows += part.num_rows
            parts += 1
    if parts == 0:  # an empty table still lands its columns
        empty = schema.empty_table().append_column(ROW, pa.array([], pa.int64()))
        with fs.open(f"{staging}/part-00000.parquet", "wb") as fh:
            pq.write_table(empty, fh)
    return Staged(rows, REJECT_SCHEMA.empty_table(), [*schema.names, ROW])


def probe_sql_columns(ref: TableRef) -> tuple[list[str], str]:
    """The columns the table will land (no row is fetched) and a note for `custdim validate`."""
    source, table = _spec(ref)
    with _result(ref, source, table, limit=0) as (_, schema):
        what = f"table {table.table}" if table.table else "query"
        note = f"{ref.label}: {_backend(_url(ref, source))} {what}, {len(schema.names)} columns"
        return list(schema.names), note


def _spec(ref: TableRef) -> tuple[SqlSource, SqlTable]:
    assert isinstance(ref.source, SqlSource) and isinstance(ref.table, SqlTable)
    return ref.source, ref.table


def _source_key(ref: TableRef) -> str:
    return ref.key.rsplit(".tables[", 1)[0]


def _url(ref: TableRef, source: SqlSource) -> str:
    """The URL with every ``${NAME}`` replaced by the environment variable NAME."""
    missing = [name for name in env_references(source.url) if name not in os.environ]
    if missing:
        raise ConfigError(
            ref.config.file,
            f"{_source_key(ref)}.url",
            f"environment variable {missing[0]} is not set (the URL takes it from the environment: {source.url})",
        )
    url = _ENV_REF.sub(lambda m: os.environ[m.group(1)], source.url)
    # SQLAlchemy's default PostgreSQL driver is psycopg2; custdim ships psycopg 3.
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def _backend(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show its scheme only
        return url.split(":", 1)[0] + "://..."


def _statement(ref: TableRef, table: SqlTable, backend: str, limit: int | None, since: bool = False) -> str:
    """The SELECT to run: the table's rows, or the user's query checked to be one read-only SELECT."""
    dialect = _GLOT_DIALECTS.get(backend)
    if table.table is not None:
        parts = [exp.to_identifier(p, quoted=True) for p in table.table.split(".")]
        source = exp.Table(
            this=parts[-1], db=parts[-2] if len(parts) > 1 else None, catalog=parts[0] if len(parts) > 2 else None
        )
        select: exp.Query = exp.select("*").from_(source)
    else:
        assert table.query is not None
        select = _checked_query(ref, table.query, dialect)
        if limit is not None:
            select = exp.select("*").from_(select.subquery("q"))
    if since and table.incremental is not None:
        cursor = exp.column(table.incremental.cursor, table="q", quoted=True)
        # SQLAlchemy's own bind syntax, rendered as written: the driver's parameter style is SQLAlchemy's business.
        since_param = exp.Var(this=":since")
        select = exp.select("*").from_(select.subquery("q")).where(exp.GTE(this=cursor, expression=since_param))
    if limit is not None:
        select = select.limit(limit)
    return select.sql(dialect=dialect)


def _checked_query(ref: TableRef, query: str, dialect: str | None) -> exp.Query:
    key = f"{ref.key}.query"
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(ref.config.file, key, f"cannot parse the query: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise ConfigError(ref.config.file, key, f"give exactly one SELECT statement, not {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Query) or statement.find(*_WRITES) is not None:
        raise ConfigError(
            ref.config.file,
            key,
            "only a SELECT (or WITH ... SELECT) that reads is allowed: nothing is written through a source",
        )
    return statement


@contextmanager
def _result(
    ref: TableRef, source: SqlSource, table: SqlTable, limit: int | None = None, since: object = None
) -> Iterator[tuple[Any, pa.Schema]]:
    """An open result of the table's SELECT, in a read-only transaction, with its Arrow schema."""
    import sqlalchemy as sa

    url = _url(ref, source)
    backend = _backend(url)
    statement = _statement(ref, table, backend, limit, since is not None)
    where = f"{ref.label}: {_source_key(ref)}"
    try:
        engine = sa.create_engine(url)
    except Exception as exc:  # an unknown dialect or driver, a malformed URL
        raise SourceError(f"{where}: cannot use {_masked(url)}: {_reason(exc, url)}") from None
    try:
        with engine.connect() as con:
            if backend == "postgresql":
                con.exec_driver_sql("SET TRANSACTION READ ONLY")
            elif backend == "sqlite":
                con.exec_driver_sql("PRAGMA query_only = ON")
            streamed = con.execution_options(stream_results=True, max_row_buffer=table.chunk_rows)
            if since is None:
                result = streamed.exec_driver_sql(statement)
            else:  # the high-water mark as a bound parameter, in the driver's own parameter style
                result = streamed.execute(sa.text(statement).bindparams(since=since))
            schema = _schema(result.cursor.description, backend)
            yield result, schema
            result.close()
            con.rollback()
    except (ConfigError, SourceError):
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"{where}: cannot read {ref.label} from {_masked(url)}: {_reason(exc, url)}") from None
    finally:
        engine.dispose()


def _reason(exc: BaseException, url: str) -> str:
    """The driver's own words, on one line, without the URL's password."""
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    password = _password(url)
    return text.replace(password, "***") if password else text


def _password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
        return None if password is None else str(password)
    except Exception:
        return None


def _schema(description: Any, backend: str) -> pa.Schema:
    fields = []
    for column in description:
        name, type_code = column[0], column[1]
        arrow: pa.DataType = pa.string()
        if backend == "postgresql" and isinstance(type_code, int):
            if type_code == _PG_NUMERIC:
                precision, scale = column[4], column[5]
                if precision is not None and scale is not None and 0 < precision <= 38:
                    arrow = pa.decimal128(precision, scale)
            else:
                arrow = _PG_TYPES.get(type_code, pa.string())
        fields.append(pa.field(name, arrow))
    names = [f.name for f in fields]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"the result has repeated column names {dupes}: name each column once (AS ...)")
    return pa.schema(fields)


def _text(value: object) -> str | None:
    """A value the schema keeps as text, exactly: JSON for structures, the decimal's digits, ISO for times."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _to_arrow(rows: list[Any], schema: pa.Schema, label: str, changes: bool = False) -> pa.Table:
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    if changes:  # every row read is an upsert of its key, read this run
        columns += [("upsert",) * len(rows), ("read",) * len(rows)]
    arrays = []
    for field, values in zip(schema, columns, strict=True):
        kept = [_text(v) for v in values] if pa.types.is_string(field.type) else list(values)
        try:
            arrays.append(pa.array(kept, field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise SourceError(f"{label}: column {field.name!r} does not fit {field.type}: {exc}") from None
    return pa.Table.from_arrays(arrays, schema=schema)
