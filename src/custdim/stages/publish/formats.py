"""Write one entity into a snapshot in the export's file format, and read back what was written to verify it.

Parquet without pseudonymization copies its source files byte for byte. Every other case streams record
batches (never a whole table in memory) through the pseudonymization transform into the target format:
- parquet: one file per source file;
- csv: one file per source file, header row, RFC 4180 quoting, UTF-8; lists and structs as JSON text (CSV has no
  nested values). The Arrow schema of the CSV (lists as text) is kept beside it in a zero-row ``_schema.parquet``
  so that readers get exact types (decimals, timestamps) instead of sniffing them;
- delta: one Delta table (reader version 1, no partition columns) whose data files are the CDM partitions too.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custdim.errors import StageError

if TYPE_CHECKING:
    from custdim.lake import Lake

Transform = Callable[[pa.RecordBatch], pa.RecordBatch]
BATCH_ROWS = 65_536
CSV_SCHEMA = "_schema.parquet"
DELTA_READER_VERSION = 1
EMPTY_DELTA_PARTITION = "part-00000-empty.parquet"


@dataclass
class Written:
    files: list[str]  # data files, absolute lake paths, in order
    schema: pa.Schema  # the schema readers see


def csv_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of an entity as CSV: nested columns become JSON text."""
    return pa.schema([pa.field(f.name, pa.string(), f.nullable) if _nested(f.type) else f for f in schema])


def _nested(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_nested(dtype))


def _batches(lake: Lake, files: list[str], transform: Transform | None) -> Iterator[pa.RecordBatch]:
    for f in files:
        with lake.fs.open(f, "rb") as fh:
            for batch in pq.ParquetFile(fh).iter_batches(batch_size=BATCH_ROWS):
                yield transform(batch) if transform else batch


def _to_csv_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    cols = []
    for field, col in zip(batch.schema, batch.columns, strict=True):
        if _nested(field.type):
            col = pa.array(
                [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in col.to_pylist()],
                type=pa.string(),
            )
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def write_entity(
    lake: Lake, sources: list[str], schema: pa.Schema, dest: str, fmt: str, transform: Transform | None
) -> Written:
    """Write the rows of ``sources`` (the entity's Parquet files in work/) into the empty folder ``dest``."""
    lake.remove(dest)
    lake.makedirs(dest)
    if fmt == "parquet":
        files = []
        for i, f in enumerate(sources):
            target = posixpath.join(dest, f"part-{i:05d}.parquet")
            if transform is None:
                lake.fs.copy(f, target)
            else:
                with lake.fs.open(target, "wb") as fh, pq.ParquetWriter(fh, schema) as writer:
                    for batch in _batches(lake, [f], transform):
                        writer.write_batch(batch)
            files.append(target)
        return Written(files, schema)
    if fmt == "csv":
        out = csv_schema(schema)
        files = []
        for i, f in enumerate(sources):
            target = posixpath.join(dest, f"part-{i:05d}.csv")
            with lake.fs.open(target, "wb") as fh, pacsv.CSVWriter(fh, out) as writer:
                for batch in _batches(lake, [f], transform):
                    writer.write_batch(_to_csv_batch(batch, out))
            files.append(target)
        with lake.fs.open(posixpath.join(dest, CSV_SCHEMA), "wb") as fh:
            pq.write_table(out.empty_table(), fh)
        return Written(files, out)
    if fmt == "delta":
        return _write_delta(lake, sources, schema, dest, transform)
    raise StageError(f"unknown export format {fmt!r}; valid values: parquet, csv, delta")


def _write_delta(lake: Lake, sources: list[str], schema: pa.Schema, dest: str, transform: Transform | None) -> Written:
    from deltalake import DeltaTable, write_deltalake

    if not lake.is_local:
        raise StageError("export.format delta needs a local lake for now; use parquet or csv on a cloud lake")
    # Timestamps without a time zone need Delta's timestampNtz feature (reader version 3, which Synapse serverless
    # cannot read): they are written as UTC timestamps, the same values, declared DateTimeOffset.
    target = delta_schema(schema)

    def cast(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield batch.cast(target) if target != schema else batch

    reader = pa.RecordBatchReader.from_batches(target, cast(_batches(lake, sources, transform)))
    write_deltalake(dest, reader, mode="error")
    table = DeltaTable(dest)
    version = table.protocol().min_reader_version
    if version > DELTA_READER_VERSION:
        raise StageError(f"the Delta table {dest} needs reader version {version}; readers such as Synapse need 1")
    files = sorted(posixpath.join(dest, posixpath.basename(uri)) for uri in table.file_uris())
    if not files:
        # delta-rs writes no data file for an empty table, but a CDM entity needs a partition: an empty Parquet
        # file beside the table (not in its log, so Delta readers do not see it) says "no rows, these columns".
        empty = posixpath.join(dest, EMPTY_DELTA_PARTITION)
        with lake.fs.open(empty, "wb") as fh:
            pq.write_table(target.empty_table(), fh)
        return Written([empty], target)
    with lake.fs.open(files[0], "rb") as fh:
        written = pq.read_schema(fh)
    return Written(files, written)


def delta_schema(schema: pa.Schema) -> pa.Schema:
    """The schema as a reader-version-1 Delta table holds it: naive timestamps become UTC timestamps."""

    def fix(dtype: pa.DataType) -> pa.DataType:
        if pa.types.is_timestamp(dtype) and dtype.tz is None:
            return pa.timestamp("us", tz="UTC")
        if pa.types.is_list(dtype):
            return pa.list_(fix(dtype.value_type))
        return dtype

    return pa.schema([pa.field(f.name, fix(f.type), f.nullable) for f in schema], metadata=schema.metadata)


def count_rows(lake: Lake, files: list[str], fmt: str) -> int:
    """Rows in written data files, read back from disk (Parquet footers; CSV parsed in full)."""
    total = 0
    for f in files:
        with lake.fs.open(f, "rb") as fh:
            if fmt == "csv":
                parse = pacsv.ParseOptions(newlines_in_values=True)
                header = pacsv.open_csv(fh, parse_options=parse).schema.names
                fh.seek(0)
                convert = pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()))
                for batch in pacsv.open_csv(fh, parse_options=parse, convert_options=convert):
                    total += batch.num_rows
            else:
                total += pq.ParquetFile(fh).metadata.num_rows
    return total


def read_schema(lake: Lake, files: list[str], fmt: str) -> pa.Schema:
    """The schema a reader sees: from the first Parquet file, or the CSV's ``_schema.parquet``."""
    path = posixpath.join(posixpath.dirname(files[0]), CSV_SCHEMA) if fmt == "csv" else files[0]
    with lake.fs.open(path, "rb") as fh:
        return pq.read_schema(fh)


def format_of(location: str) -> str:
    """The file format of a partition, by its extension."""
    return "csv" if location.endswith(".csv") else "parquet"
