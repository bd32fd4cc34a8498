"""Spark's read path for large CSV source files: the executors read and parse the file, not the driver.

Spark splits the file into byte ranges and reads each as lines (its text source, which also decompresses .gz);
every executor parses its lines with the same pyarrow CSV parser and options as the in-process streaming reader
(:mod:`custdim.stages.ingest.streaming`), so a value lands exactly as it would there. Row numbers follow the file:
each split's rows are counted, the counts are summed in split order on the driver (one small row per split), and a
row's number is its split's offset plus its position within the split.

Line-by-line parsing is exact only for files whose records are single lines. Anything else is left to the careful
reader, which needs the whole file in one process and reports rejects by line: a line with an odd number of quote
characters (a value spanning lines, or a stray quote), a row with the wrong number of values, bytes that are not
UTF-8 (Spark's text source turns them into U+FFFD), or a parse error. Then nothing is written and the caller reads
the file the careful way, so the outcome is the same whichever path read it.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from custdim.engines.base import CsvFile

_BLOCK = "_block"  # byte offset of the split a line was read from
_SEQ = "_seq"  # the row's position among its split's rows
_TROUBLE = "_trouble"  # why the careful reader must read this file (one row, then the split stops)


def parse_lines(
    batches: Iterator[pa.RecordBatch], names: list[str], delimiter: str, quote: str, header: bool
) -> Iterator[pa.RecordBatch]:
    """mapInArrow function: lines (``_block``, ``value``) of one partition in file order → parsed rows."""
    seen: dict[int, int] = {}  # rows emitted per split so far
    out_schema = pa.schema(
        [(n, pa.string()) for n in names] + [(_BLOCK, pa.int64()), (_SEQ, pa.int64()), (_TROUBLE, pa.string())]
    )
    for batch in batches:
        blocks = batch.column(_BLOCK).to_pylist()
        values = batch.column("value").to_pylist()
        for block, group in itertools.groupby(zip(blocks, values, strict=True), key=lambda pair: pair[0]):
            lines = [str(v) for _, v in group]
            if block == 0 and block not in seen and lines:
                # The file's first line: a header row is skipped; a byte-order mark is not data.
                lines = lines[1:] if header else [lines[0].removeprefix("\ufeff"), *lines[1:]]
            seen.setdefault(block, 0)
            trouble = _trouble(lines, quote)
            table = None
            if trouble is None and any(lines):
                table, trouble = _parse(lines, names, delimiter, quote)
            if trouble is not None:
                row = {n: [None] for n in names} | {_BLOCK: [block], _SEQ: [-1], _TROUBLE: [trouble]}
                yield pa.RecordBatch.from_pydict(row, schema=out_schema)
                return  # this file goes to the careful reader: no need to read on
            if table is None or table.num_rows == 0:
                continue
            first = seen[block]
            seen[block] = first + table.num_rows
            columns = [*table.columns]
            columns.append(pa.array([block] * table.num_rows, pa.int64()))
            columns.append(pa.array(range(first, first + table.num_rows), pa.int64()))
            columns.append(pa.nulls(table.num_rows, pa.string()))
            yield from pa.Table.from_arrays(columns, schema=out_schema).to_batches()


def _trouble(lines: list[str], quote: str) -> str | None:
    for line in lines:
        if line.count(quote) % 2:
            return "a quote that does not close on its line"
        if "\ufffd" in line:
            return "bytes that are not UTF-8"
    return None


def _parse(lines: list[str], names: list[str], delimiter: str, quote: str) -> tuple[pa.Table | None, str | None]:
    malformed: list[bool] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(True)
        return "skip"

    # The options of the streaming reader (streaming._stream_csv), so values land as they would there.
    read = pacsv.ReadOptions(column_names=names)
    parse = pacsv.ParseOptions(
        delimiter=delimiter, quote_char=quote, invalid_row_handler=on_invalid, newlines_in_values=True
    )
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
    )
    data = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        table = pacsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        return None, f"a parse error: {exc}"
    if malformed:
        return None, "a row with the wrong number of values"
    return table, None


def land_csv(session: Any, file: CsvFile, staging: str) -> int | None:
    """Parse ``file`` on the executors and append its rows to ``staging``; None (nothing written) when the careful
    reader must read it. See the module docstring."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    lines = session.read.text(file.path).select(F.input_file_block_start().alias(_BLOCK), F.col("value"))
    schema = T.StructType(
        [T.StructField(n, T.StringType()) for n in file.names]
        + [
            T.StructField(_BLOCK, T.LongType()),
            T.StructField(_SEQ, T.LongType()),
            T.StructField(_TROUBLE, T.StringType()),
        ]
    )
    parser = functools.partial(
        parse_lines, names=file.names, delimiter=file.delimiter, quote=file.quote, header=file.header
    )
    parsed = lines.mapInArrow(parser, schema).persist()
    try:
        stats = parsed.groupBy(_BLOCK).agg(F.count(F.lit(1)).alias("n"), F.max(_TROUBLE).alias("why")).collect()
        if any(r["why"] is not None for r in stats):
            return None
        offsets: list[tuple[int, int]] = []
        total = 0
        for r in sorted(stats, key=lambda r: int(r[_BLOCK])):
            offsets.append((int(r[_BLOCK]), total))
            total += int(r["n"])
        if total == 0:
            return 0
        bases = session.createDataFrame(offsets, f"{_BLOCK} long, _base long")
        rows = parsed.join(F.broadcast(bases), _BLOCK)
        selected = []
        for name in file.columns:
            if name == file.row_column:
                selected.append((F.lit(file.first_row + 1) + F.col("_base") + F.col(_SEQ)).alias(name))
            elif name in file.constants:
                # when() without otherwise() is nullable, as the column is in the in-process parts (a bare literal
                # would make it NOT NULL in these files only).
                selected.append(F.when(F.col(_SEQ).isNotNull(), F.lit(file.constants[name])).alias(name))
            elif name in file.names:
                selected.append(F.col(name))
            else:
                selected.append(F.lit(None).cast("string").alias(name))
        rows.select(*selected).write.mode("append").parquet(staging)
        return total
    finally:
        parsed.unpersist()
