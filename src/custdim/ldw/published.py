"""Ibis over the published views: build lookups as expressions, run them through the checked, locked-down reader.

Commands that read the export on a user's behalf (``unify explain``, ``segment preview`` ...) describe their lookups
as Ibis expressions over unbound tables named like the views, with the views' own schemas. Each expression is
compiled to SQL and run by :func:`custdim.ldw.query.run_query`, the same guard and reader as ``custdim sql``, so
these commands can reach nothing but the export folder and no value a user typed is ever pasted into SQL text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from custdim.errors import StageError

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir
    import pyarrow as pa

    from custdim.lake import Lake


class PublishedViews:
    """The published views of one lake, as unbound Ibis tables, and a runner for expressions over them."""

    def __init__(self, lake: Lake) -> None:
        from custdim.ldw.query import views
        from custdim.stages.publish.catalog import ensure

        self.lake = lake
        self.catalog = ensure(lake)  # first: it refuses with a clear message when nothing is published yet
        self.names = set(views(self.catalog, self.export_dir))
        self._tables: dict[str, ibis.Table] = {}

    @property
    def export_dir(self) -> str:
        return self.lake.url("export")

    def table(self, name: str, needed_by: str = "this command") -> ibis.Table:
        """The view ``name`` as an unbound table with its schema; StageError when the export has no such view."""
        import ibis
        import sqlglot.expressions as exp

        if name not in self._tables:
            if name not in self.names:
                raise StageError(
                    f"the published export has no {name} view: run `custdim run` to publish one that {needed_by} "
                    "can read"
                )
            probe = exp.select("*").from_(exp.to_identifier(name, quoted=True)).limit(0).sql(dialect="duckdb")
            self._tables[name] = ibis.table(ibis.schema(self._query(probe).schema), name=name)
        return self._tables[name]

    def tables(self, names: Iterable[str], needed_by: str = "this command") -> dict[str, ibis.Table]:
        return {name: self.table(name, needed_by) for name in names}

    def run(self, expr: ir.Expr) -> pa.Table:
        """Compile ``expr`` for DuckDB and run it on the locked-down catalog reader."""
        import ibis

        return self._query(ibis.to_sql(expr, dialect="duckdb"))

    def _query(self, sql: str) -> pa.Table:
        from custdim.ldw.query import run_query

        return run_query(self.catalog, self.export_dir, sql)
