"""The small interface every engine implements."""

from __future__ import annotations

import posixpath
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custdim.lake import Lake


@dataclass(frozen=True)
class CsvFile:
    """One large CSV source file for an engine's own reader (:meth:`Engine.land_csv`)."""

    path: str  # a local path (the engine's workers read it themselves)
    names: list[str]  # this file's columns, in file order
    delimiter: str
    quote: str
    header: bool  # the file's first line is a header row, skipped
    columns: list[str]  # the staging table's columns (every file's, first-seen order), ``row_column`` not included
    constants: dict[str, str]  # columns with one value for every row of this file
    first_row: int  # rows of the table staged before this file
    row_column: str


@dataclass(frozen=True)
class Capabilities:
    """What an engine is good at, so stages choose a strategy without naming engines."""

    # Graph algorithms may pull edges into this process (fast on one machine, bounded by its memory).
    local_graph: bool


class Engine(ABC):
    """Runs Ibis expressions and reads/writes lake tables (folders of Parquet files)."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        # Debug switch (`custdim run --keep-steps`): also write every step to this lake folder.
        self.keep_steps: str | None = None
        self._steps: list[ir.Table] = []
        self._step_names: dict[str, int] = {}
        # Seconds each step took to compute, in order: the run report shows where a stage spends its time.
        self.step_seconds: dict[str, float] = {}

    @property
    @abstractmethod
    def backend(self) -> ibis.BaseBackend:
        """The Ibis backend expressions run on."""

    @abstractmethod
    def read(self, path: str) -> ir.Table:
        """A lake table (folder of Parquet files) as an Ibis table."""

    @abstractmethod
    def _write_parquet(self, expr: ir.Table, path: str) -> None:
        """Write the expression's rows as Parquet files into the (empty) folder ``path``."""

    def write(self, expr: ir.Table, path: str) -> int:
        """Materialize an expression as the lake table at ``path`` (replacing it) and return its row count."""
        self.lake.remove(path)
        self._write_parquet(expr, path)
        return self.row_count(path)

    def write_sorted(self, expr: ir.Table, path: str, key: str, row_group_rows: int) -> bool:
        """Write ``expr`` to ``path`` ordered by ``key`` in row groups of ``row_group_rows`` rows, so that readers
        skip every row group whose min/max excludes the key they look for; False (nothing written) where the engine
        cannot do that cheaply: a global sort on Spark costs a sampling job and a shuffle per table."""
        return False

    def land_csv(self, file: CsvFile, staging: str) -> int | None:
        """Parse a large UTF-8 CSV file with the engine's own workers and append its rows to the staging folder
        ``staging`` as Parquet (every column text, rows numbered ``first_row + 1 ...`` in file order); the number
        of rows, or None when this engine has no such reader or the file holds anything the careful in-process
        reader must judge (nothing is written then). Default: None, the file is read in this process."""
        return None

    def run_tasks(
        self, work: Callable[[dict[str, Any]], dict[str, Any]], tasks: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """Run independent tasks (JSON-able dicts) on the engine's own workers; their results in task order, or None
        when the engine has no workers of its own and the caller runs the tasks in this process (the default).
        ``work`` must be a module-level function: workers import it. A failed task raises."""
        return None

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Compute one step of a stage once and keep it in the engine; returns a table that reads the result.

        Steps live where the engine keeps intermediate results (in-process temp tables on DuckDB, spilled to disk
        when large; cached data on Spark) and are released at the end of the stage. Only what a stage hands to
        the next stage or to the export is written to the lake (:meth:`write`). With ``keep_steps`` set, every
        step is also written to ``<keep_steps>/<name>/`` for inspection.
        """
        n = self._step_names.get(name, 0)
        self._step_names[name] = n + 1
        label = name if n == 0 else f"{name}-{n}"
        started = time.perf_counter()
        table = self._keep(re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_"), expr)
        self.step_seconds[label] = round(time.perf_counter() - started, 3)
        self._steps.append(table)
        if self.keep_steps is not None:
            target = posixpath.join(self.keep_steps, *label.split("/"))
            self.lake.remove(target)
            self._write_parquet(table, target)
        return table

    def _keep(self, name: str, expr: ir.Table) -> ir.Table:
        """Hold a step's result in the engine (default: Ibis's cache)."""
        return expr.cache()

    def release_steps(self) -> None:
        """Free every step materialized so far (called between stages)."""
        for table in self._steps:
            self._release(table)
        self._steps.clear()
        self._step_names.clear()
        self.step_seconds.clear()

    def _release(self, table: ir.Table) -> None:
        table.release()

    def row_count(self, path: str) -> int:
        """Rows of a lake table, from Parquet footers (no data is read)."""
        total = 0
        for f in self.lake.parquet_files(path):
            with self.lake.fs.open(f, "rb") as fh:
                total += pq.ParquetFile(fh).metadata.num_rows
        return total

    def schema(self, path: str) -> pa.Schema:
        """Arrow schema of a lake table."""
        files = self.lake.parquet_files(path)
        with self.lake.fs.open(files[0], "rb") as fh:
            return pq.read_schema(fh)

    def from_arrow(self, table: pa.Table) -> ir.Table:
        """An in-memory Arrow table usable in expressions on this engine."""
        return ibis.memtable(table)

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        """Execute and fetch the result as Arrow."""
        return self.backend.to_pyarrow(expr)

    def count(self, expr: ir.Table) -> int:
        return int(self.backend.execute(expr.count()))

    def close(self) -> None:  # noqa: B027 - optional hook, most engines hold nothing to release
        """Release resources held by the engine."""
