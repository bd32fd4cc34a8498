"""The logical data warehouse as a DuckDB database file of views over the exported Parquet partitions.

Base views read the current snapshot's partitions; derived views (dim_customer, ...) arrive as Ibis expressions
and are compiled to DuckDB SQL here. The file is rebuilt beside the old one and swapped in with a rename.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot
from sqlglot import exp

from custdim.errors import CustdimError


class QueryError(CustdimError):
    """A query against the SQL views failed."""


def _base_view(name: str, files: list[str]) -> str:
    source = exp.func("read_parquet", exp.Array(expressions=[exp.Literal.string(f) for f in files]))
    select = sqlglot.select("*").from_(source)
    return exp.Create(this=exp.to_table(name, quoted=True), kind="VIEW", expression=select, replace=True).sql("duckdb")


def write_catalog(path: str, files: dict[str, list[str]], derived: dict[str, ir.Table]) -> None:
    """(Re)build the catalog: one view per entity over its files, then the derived views."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    con = duckdb.connect(str(tmp))
    try:
        for name, parts in files.items():
            con.execute(_base_view(name, parts))
        for name, expr in derived.items():
            sql = ibis.to_sql(expr, dialect="duckdb")
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
    finally:
        con.close()
    tmp.replace(target)
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        wal.unlink()


def list_views(path: str) -> list[str]:
    """Names of the views in the catalog."""
    table = query(path, "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1")
    return [str(v) for v in table.column(0).to_pylist()]


def query(path: str, sql: str) -> pa.Table:
    """Run a read-only SQL query against the catalog."""
    if not Path(path).exists():
        raise QueryError(f"no SQL catalog at {path}: run `custdim run` first")
    con = duckdb.connect(path, read_only=True)
    try:
        relation = con.sql(sql)
        return relation.to_arrow_table() if relation is not None else pa.table({})
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {exc}") from None
    finally:
        con.close()
