"""The scale-out engine: PySpark (local mode here, a cluster elsewhere) through Ibis."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from custdim.engines.base import Capabilities, CsvFile, Engine
from custdim.errors import EngineError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custdim.config.project import SparkOptions
    from custdim.lake import Lake

# Fast start for local sessions: serial GC and C1-only JIT cut session start and small-job latency.
_LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.ansi.enabled": "false",
}


def get_session(options: SparkOptions | None = None) -> object:
    """One SparkSession per process (getOrCreate), configured for local runs unless told otherwise."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EngineError("engine: spark needs pyspark; install custdim[spark]") from exc
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers must run this interpreter (its packages hold custdim's UDFs), not the first python3 on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    master = options.master if options else "local[2]"
    builder = SparkSession.builder.master(master).appName("custdim")
    conf = dict(_LOCAL_DEFAULTS)
    conf.update(options.conf if options else {})
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def jobs_started() -> int | None:
    """Spark jobs this process has started (None without a session): job ids count up from 0, and the UI may
    forget old jobs but not ids. For benchmarks: every job is a fixed cost, so fewer is faster on small data."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        return None
    ids = session.sparkContext.statusTracker().getJobIdsForGroup(None)
    return max(ids) + 1 if ids else 0


def _jaro_winkler(left: str | None, right: str | None) -> float | None:
    import jellyfish

    if left is None or right is None:
        return None
    return float(jellyfish.jaro_winkler_similarity(left, right))


def register_functions(session: object) -> None:
    """SQL functions DuckDB has built in and Spark 4.0 lacks, under DuckDB's names, with DuckDB's values."""
    from pyspark.sql.types import DoubleType

    session.udf.register("jaro_winkler_similarity", _jaro_winkler, DoubleType())  # type: ignore[attr-defined]


def _run_tasks(
    batches: Iterator[pa.RecordBatch], work: Callable[[dict[str, Any]], dict[str, Any]]
) -> Iterator[pa.RecordBatch]:
    """mapInArrow function of :meth:`SparkEngine.run_tasks`: one result row per task."""
    for batch in batches:
        ids = batch.column("i").to_pylist()
        results = [json.dumps(work(json.loads(t))) for t in batch.column("task").to_pylist()]
        yield pa.RecordBatch.from_pydict({"i": ids, "result": results})


class SparkEngine(Engine):
    name = "spark"
    capabilities = Capabilities(local_graph=False)

    def __init__(self, lake: Lake, options: SparkOptions | None = None) -> None:
        super().__init__(lake)
        self._session = get_session(options)
        self._con = ibis.pyspark.connect(self._session)
        register_functions(self._session)

    @property
    def backend(self) -> ibis.BaseBackend:
        return self._con

    def read(self, path: str) -> ir.Table:
        return self._con.read_parquet(self.lake.url(path))

    def _write_parquet(self, expr: ir.Table, path: str) -> None:
        self._con.to_parquet(expr, self.lake.url(path), mode="overwrite")

    def land_csv(self, file: CsvFile, staging: str) -> int | None:
        # Spark's own read path: a file larger than the driver's memory lands without passing through the driver.
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        from custdim.engines.spark_csv import land_csv

        try:
            return land_csv(self._session, file, self.lake.url(staging))
        except (Py4JJavaError, PySparkException):
            # A task met what only the careful reader settles (spark_csv.CAREFUL), or the file cannot be read as
            # text here (a .gz that is not gzip, a permission error): the in-process reader reads it and says
            # precisely what is wrong. The failed job left nothing: Spark's commit protocol moves a job's files
            # into the folder only when the whole job succeeded.
            return None

    def run_tasks(
        self, work: Callable[[dict[str, Any]], dict[str, Any]], tasks: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        if not tasks:
            return []
        session: Any = self._session
        payload = [(i, json.dumps(task)) for i, task in enumerate(tasks)]
        frame = session.createDataFrame(payload, "i long, task string")
        slots = max(1, int(session.sparkContext.defaultParallelism))
        frame = frame.repartition(min(len(tasks), slots * 4))  # a few tasks per slot: uneven ones even out
        runner = functools.partial(_run_tasks, work=work)
        rows = frame.mapInArrow(runner, "i long, result string").collect()
        results = sorted((int(r["i"]), json.loads(r["result"])) for r in rows)
        return [result for _, result in results]

    def _keep(self, name: str, expr: ir.Table) -> ir.Table:
        # Steps go through Parquet under work/_steps (as before the executor): it cuts Spark's lineage per step.
        path = self.lake.path("work", "_steps", name)
        self.write(expr, path)
        return self.read(path)

    def _release(self, table: ir.Table) -> None:
        self.lake.remove(self.lake.path("work", "_steps"))
