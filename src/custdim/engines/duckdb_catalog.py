"""The logical data warehouse as a DuckDB database file of views over the exported Parquet partitions.

Base views read the current snapshot's partitions; derived views (dim_customer, ...) arrive as Ibis expressions
and are compiled to DuckDB SQL here. The file is rebuilt beside the old one and swapped in with a rename.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot
from ibis.backends.sql.datatypes import DuckDBType
from sqlglot import exp

from custdim import failpoints
from custdim.ldw.guard import QueryError as QueryError  # moved; user queries now go through duckdb_reader


def _base_view(name: str, files: list[str], schema: pa.Schema | None = None, kind: str = "parquet") -> str:
    paths = exp.Array(expressions=[exp.Literal.string(f) for f in files])
    source = _read_csv(paths, schema) if kind == "csv" and schema is not None else exp.func("read_parquet", paths)
    select = sqlglot.select("*").from_(source)
    return exp.Create(this=exp.to_table(name, quoted=True), kind="VIEW", expression=select, replace=True).sql("duckdb")


def _read_csv(paths: exp.Array, schema: pa.Schema) -> exp.Expr:
    """read_csv with the exact column types the export recorded: nothing is sniffed, an empty quoted field stays
    an empty string (an unquoted empty field is null, as the writer writes nulls)."""
    types = ibis.schema(schema)
    columns = exp.Struct(
        expressions=[
            exp.PropertyEQ(
                this=exp.Literal.string(n), expression=exp.Literal.string(DuckDBType.from_ibis(t).sql("duckdb"))
            )
            for n, t in types.items()
        ]
    )
    options = {
        "header": exp.true(),
        "auto_detect": exp.false(),
        "delim": exp.Literal.string(","),
        "quote": exp.Literal.string('"'),
        "escape": exp.Literal.string('"'),
        "allow_quoted_nulls": exp.false(),
        "columns": columns,
    }
    args = [paths, *(exp.Kwarg(this=exp.var(k), expression=v) for k, v in options.items())]
    return exp.Anonymous(this="read_csv", expressions=args)


INFO_TABLE = "_custdim_catalog"
TEMP_PREFIX = ".catalog-build-"


def write_catalog(
    path: str,
    files: dict[str, list[str]],
    derived: dict[str, ir.Table],
    info: dict[str, str],
    schemas: dict[str, pa.Schema] | None = None,
    kinds: dict[str, str] | None = None,
    filesystem: Any = None,
) -> None:
    """(Re)build the catalog: one view per entity over its files, then the derived views, then swap it in.

    ``kinds`` says which entities are CSV (read with the types in ``schemas``) rather than Parquet. ``info``
    (which snapshot, which lake) is stored in a table beside the views, so that readers can tell whether the
    catalog still matches the published manifest and the lake's current location. ``filesystem``: a cloud lake's
    fsspec filesystem, through which the views read (DuckDB binds a view's files when it is created).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:8]}.duckdb")
    con = duckdb.connect(str(tmp), config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        if filesystem is not None:
            con.register_filesystem(filesystem)
        for name, parts in files.items():
            con.execute(_base_view(name, parts, (schemas or {}).get(name), (kinds or {}).get(name, "parquet")))
        for name, expr in derived.items():
            sql = ibis.to_sql(expr, dialect="duckdb")
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
        con.execute(f"CREATE TABLE {INFO_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.executemany(f"INSERT INTO {INFO_TABLE} VALUES (?, ?)", sorted(info.items()))  # noqa: S608 - a fixed table name
        con.execute("CHECKPOINT")
    finally:
        con.close()
    failpoints.reached("catalog.before_swap")
    tmp.replace(target)
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        wal.unlink()


def catalog_info(path: str, allowed_dirs: list[str]) -> dict[str, str] | None:
    """What a catalog was built from; None when it is missing, unreadable or predates this record.

    Opened like the readers open it (one DuckDB instance per file and process shares one configuration).
    """
    from custdim.engines.duckdb_reader import connect

    if not Path(path).exists():
        return None
    try:
        con = connect(path, allowed_dirs)
    except QueryError:
        return None
    try:
        rows = con.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall()  # noqa: S608 - a fixed table name
    except duckdb.Error:
        return None
    finally:
        con.close()
    return {str(k): str(v) for k, v in rows}


def leftover_files(folder: str) -> list[Path]:
    """Temporary files of catalog builds that were killed before their swap."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith((TEMP_PREFIX, ".catalog.duckdb.")))
