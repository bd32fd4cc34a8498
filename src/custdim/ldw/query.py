"""Run user SQL against the logical data warehouse: list the views, check the query, run it on a locked reader.

This is the one entry point for the CLI's ``custdim sql`` and, later, the SQL endpoint and web app. The engine is
imported on first use so that importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custdim.ldw.guard import check_query

if TYPE_CHECKING:
    import pyarrow as pa


def views(catalog_path: str, lake_export_dir: str) -> list[str]:
    """Names of the views in the catalog at ``catalog_path``, sorted."""
    from custdim.engines.duckdb_reader import list_views

    return list_views(catalog_path, [lake_export_dir])


def run_query(catalog_path: str, lake_export_dir: str, sql: str) -> pa.Table:
    """Run one read-only query over the catalog views; the views read files under ``lake_export_dir`` only.

    Raises QueryRejected (a QueryError) when the query is not a single read over the views, and QueryError when
    the catalog is missing or the engine fails.
    """
    from custdim.engines.duckdb_reader import list_views, query

    allowed = [lake_export_dir]
    checked = check_query(sql, list_views(catalog_path, allowed))
    return query(catalog_path, checked, allowed)
