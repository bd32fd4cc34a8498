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
        if not lake.is_local:
            # Spark reaches object stores through Hadoop's own connectors (hadoop-azure, hadoop-aws), not fsspec;
            # their jars are not part of the pyspark package and are not fetched at run time.
            raise EngineError(
                f"engine spark needs a local lake; {lake.root} is a cloud lake: use engine duckdb there, which reads "
                "and writes it through fsspec (docs/lakes.md)"
            )
        from custdim.engines.spark import SparkEngine

        return SparkEngine(lake, spark)
    raise EngineError(f"unknown engine {name!r}; valid engines: duckdb, spark")
