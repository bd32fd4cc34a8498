"""Read-only, locked-down DuckDB connections to the SQL catalog: the only way user SQL reaches DuckDB.

Defense in depth behind :mod:`custdim.ldw.guard`. Each connection opens the catalog read-only, may touch no file
outside the allowed directories (the lake's export folder, where the views' Parquet files live), cannot install or
load extensions, load persistent secrets, scan Python variables or spill to a temp folder, and then locks its
configuration so no statement can undo any of it. DuckDB lets ``allowed_directories`` be written as well as read,
so on top of that only a single statement that DuckDB's own parser classes as SELECT is ever executed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from custdim.ldw.guard import QueryError

# Applied when the database instance starts. Without a temp folder nothing spills to disk (a query that outgrows
# memory fails instead), and the folder DuckDB would otherwise add to the allowed directories is gone.
CONNECT_CONFIG: dict[str, str | bool] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
    "temp_directory": "",
}


# Object-store filesystems (fsspec) of cloud lakes whose catalogs this process reads, by protocol. The views of such
# a catalog read s3:// or az:// paths, which only a connection with the lake's filesystem registered can open.
_FILESYSTEMS: dict[str, Any] = {}


def use_filesystem(fs: Any) -> None:
    """Let catalog connections opened from now on read the paths of ``fs`` (a cloud lake's fsspec filesystem)."""
    _FILESYSTEMS[_protocols(fs)[0]] = fs


def register_filesystems(con: duckdb.DuckDBPyConnection) -> None:
    """Register the known cloud lake filesystems on a connection (before its configuration is locked)."""
    present = set(con.list_filesystems())
    for protocol, fs in _FILESYSTEMS.items():
        # Connections to one file share a database instance, which keeps the filesystems registered on it.
        if protocol not in present:
            con.register_filesystem(fs)


def _protocols(fs: Any) -> tuple[str, ...]:
    return tuple(fs.protocol) if isinstance(fs.protocol, (tuple, list)) else (str(fs.protocol),)


def connect(catalog_path: str, allowed_dirs: list[str]) -> duckdb.DuckDBPyConnection:
    """Open the catalog read-only with file access limited to ``allowed_dirs`` and the configuration locked.

    DuckDB shares one database instance between connections to the same file in a process, so a second connection
    finds the lock already in place; it is then checked to be the same lock-down rather than applied again.
    """
    if not Path(catalog_path).exists():
        raise QueryError(f"no SQL catalog at {catalog_path}: run `custdim run` first")
    dirs = sorted({_as_dir(d) for d in allowed_dirs})
    try:
        con = duckdb.connect(catalog_path, read_only=True, config=dict(CONNECT_CONFIG))
    except duckdb.Error as exc:
        raise QueryError(f"cannot open the SQL catalog {catalog_path}: {exc}") from None
    try:
        if not _setting(con, "lock_configuration"):
            register_filesystems(con)
        _lock_down(con, dirs)
    except BaseException:
        con.close()
        raise
    return con


def query(catalog_path: str, sql: str, allowed_dirs: list[str]) -> pa.Table:
    """Run one SELECT statement on a locked-down connection to the catalog."""
    con = connect(catalog_path, allowed_dirs)
    try:
        statements = con.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            kinds = ", ".join(s.type.name for s in statements) or "none"
            raise QueryError(f"query failed: exactly one SELECT statement may run on the catalog, got: {kinds}")
        relation = con.sql(statements[0].query)
        return relation.to_arrow_table() if relation is not None else pa.table({})
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {exc}") from None
    finally:
        con.close()


USER_VIEWS = "SELECT view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database() ORDER BY 1"


def list_user_views(cursor: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the user views of the cursor's current database, sorted."""
    return [str(row[0]) for row in cursor.execute(USER_VIEWS).fetchall()]


def list_views(catalog_path: str, allowed_dirs: list[str]) -> list[str]:
    """Names of the user views in the catalog, sorted."""
    table = query(catalog_path, USER_VIEWS, allowed_dirs)
    return [str(v) for v in table.column(0).to_pylist()]


def _as_dir(path: str) -> str:
    # The trailing separator stops a prefix match from admitting a sibling such as export-old/.
    return path.rstrip("/") + "/"


def _lock_down(con: duckdb.DuckDBPyConnection, dirs: list[str]) -> None:
    if not _setting(con, "lock_configuration"):
        # allowed_directories can be set only after start-up and only while external access is still enabled,
        # and the lock has to come last, so these cannot go into the connect config.
        listed = ", ".join("'" + d.replace("'", "''") + "'" for d in dirs)
        con.execute(f"SET allowed_directories = [{listed}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    actual = sorted(str(d) for d in _setting(con, "allowed_directories") or [])
    if _setting(con, "enable_external_access") or not _setting(con, "lock_configuration") or actual != dirs:
        raise QueryError(
            "the SQL catalog is already open in this process with a different lock-down "
            f"(allowed directories {actual}, wanted {dirs}); close the other connection first"
        )


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> Any:
    # current_setting() keeps the setting's type (BOOLEAN, VARCHAR[]); it only takes a constant name.
    rows = con.execute(f"SELECT current_setting('{name}')").fetchall()
    return rows[0][0] if rows else None


class CatalogReader:
    """A long-lived read-only DuckDB instance over the catalog, for servers: one cursor per client session.

    The catalog file is ATTACHed read-only to a private in-memory instance (named ``alias``) rather than opened
    directly: DuckDB caches instances by file path, so a direct open after a publish swapped the file in would
    hand back the instance of the old file. The lock-down is the same as :func:`connect`'s.
    """

    def __init__(self, catalog_path: str, allowed_dirs: list[str], alias: str) -> None:
        path = Path(catalog_path)
        if not path.exists():
            raise QueryError(f"no SQL catalog at {catalog_path}: run `custdim run` first")
        self.alias = alias
        self.identity = file_identity(catalog_path)
        dirs = sorted({_as_dir(d) for d in allowed_dirs})
        self._con = duckdb.connect(":memory:", config=dict(CONNECT_CONFIG))
        try:
            quoted = catalog_path.replace("'", "''")
            self._con.execute(f"ATTACH '{quoted}' AS \"{alias}\" (READ_ONLY)")
            register_filesystems(self._con)
            _lock_down(self._con, dirs)
        except duckdb.Error as exc:
            self._con.close()
            raise QueryError(f"cannot open the SQL catalog {catalog_path}: {exc}") from None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor (its own connection to the shared instance) whose unqualified names are the catalog's views."""
        cur = self._con.cursor()
        cur.execute(f'USE "{self.alias}"')
        return cur

    def close(self) -> None:
        self._con.close()


def file_identity(path: str) -> tuple[int, int] | None:
    """(inode, modification time) of a file: a publish replaces the catalog by a rename, changing both."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def run_select(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any], batch_rows: int) -> pa.RecordBatchReader:
    """Run one checked SELECT with bound parameters; the rows stream as Arrow record batches."""
    statements = cursor.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "none"
        raise QueryError(f"exactly one SELECT statement may run on the catalog, got: {kinds}")
    try:
        return cursor.sql(sql, params=params).to_arrow_reader(batch_rows)
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None


def result_schema(cursor: duckdb.DuckDBPyConnection, sql: str, params: int) -> pa.Schema:
    """The columns a checked SELECT returns, found without reading data (parameters bound to NULL)."""
    try:
        relation = cursor.sql(f"SELECT * FROM ({sql}) AS q LIMIT 0", params=[None] * params)  # noqa: S608 - checked
        return relation.to_arrow_table().schema
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None


def interrupt(cursor: duckdb.DuckDBPyConnection) -> None:
    """Stop the statement running on a cursor (from another thread)."""
    cursor.interrupt()


DuckDBError = duckdb.Error
Cursor = duckdb.DuckDBPyConnection
