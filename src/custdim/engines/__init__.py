"""Engine adapters: the only package that knows DuckDB or Spark exist.

Stages build Ibis expressions; an engine reads and writes lake tables and runs those expressions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custdim.errors import EngineError

if TYPE_CHECKING:
    from custdim.config.project import SparkOptions
    from custdim.engines.base import Engine
    from custdim.lake import Lake


def create_engine(name: str, lake: Lake, spark: SparkOptions | None = None) -> Engine:
    """Start the named engine over a lake."""
    if name == "duckdb":
        from custdim.engines.duckdb import DuckDBEngine

        return DuckDBEngine(lake)
    if name == "spark":
        from custdim.engines.spark import SparkEngine

        return SparkEngine(lake, spark)
    raise EngineError(f"unknown engine {name!r}; valid engines: duckdb, spark")
