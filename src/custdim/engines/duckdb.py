"""The embedded default engine: DuckDB in this process."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import ibis

from custdim.engines.base import Capabilities, Engine

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custdim.lake import Lake


class DuckDBEngine(Engine):
    name = "duckdb"
    capabilities = Capabilities(local_graph=True)

    def __init__(self, lake: Lake) -> None:
        super().__init__(lake)
        self._con = ibis.duckdb.connect()
        raw = self._con.con
        # Stages never rely on row order, and not preserving it lets large writes stream instead of buffer.
        raw.execute("SET preserve_insertion_order = false")
        # Timestamps are UTC throughout (as the Spark engine is configured): never the machine's zone.
        raw.execute("SET TimeZone = 'UTC'")
        if not lake.is_local:
            # Cloud lakes go through the lake's fsspec filesystem (credentials from the environment), never
            # DuckDB's httpfs/azure extensions: those download at run time and fail offline.
            raw.execute("SET autoinstall_known_extensions = false")
            raw.execute("SET autoload_known_extensions = false")
            raw.register_filesystem(lake.fs)

    @property
    def backend(self) -> ibis.BaseBackend:
        return self._con

    def read(self, path: str) -> ir.Table:
        url = self.lake.url(path)
        if self.lake.is_local:
            return self._con.read_parquet(f"{url}/*.parquet")
        # Ibis loads httpfs for s3:// paths; a plain read_parquet view reads through the registered filesystem.
        glob = f"{url}/*.parquet".replace("'", "''")
        name = f"_lake_read_{uuid.uuid4().hex[:12]}"
        self._con.con.execute(f"CREATE TEMP VIEW \"{name}\" AS SELECT * FROM read_parquet('{glob}')")  # noqa: S608 - quoted lake path
        return self._con.table(name)

    def _write_parquet(self, expr: ir.Table, path: str) -> None:
        self.lake.makedirs(path)
        self._con.to_parquet(expr, f"{self.lake.url(path)}/part-00000.parquet")

    def write_sorted(self, expr: ir.Table, path: str, key: str, row_group_rows: int) -> bool:
        self.lake.remove(path)
        self.lake.makedirs(path)
        target = f"{self.lake.url(path)}/part-00000.parquet"
        self._con.to_parquet(expr.order_by(key), target, row_group_size=row_group_rows)
        return True

    def _keep(self, name: str, expr: ir.Table) -> ir.Table:
        # A named temp table: visible in EXPLAIN and profiles, spilled by DuckDB when memory runs short.
        return self._con.create_table(f"_step_{name}", obj=expr, temp=True)

    def _release(self, table: ir.Table) -> None:
        # get_name() is the qualified 'temp.main.<name>'; Ibis's drop_table cannot take it.
        name = table.get_name().rsplit(".", 1)[-1]
        self._con.con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')

    def close(self) -> None:
        self._con.disconnect()
