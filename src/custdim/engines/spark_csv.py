"""Spark's read path for large CSV source files: the executors read and parse the file, not the driver.

Spark splits the file into byte ranges and reads each as lines (its text source, which also decompresses .gz);
every executor parses its lines with the same pyarrow CSV parser and options as the in-process streaming reader
(:mod:`custdim.stages.ingest.streaming`), so a value lands exactly as it would there. Row numbers follow the file:
a first pass over the lines alone counts each split's rows (its non-empty lines), the counts are summed in split
order on the driver (one small row per split), and the parse pass numbers a row by its split's offset plus its
position within the split, and writes it at once; a split whose parsed rows differ from its count fails the job.

Line-by-line parsing is exact only for files whose records are single lines. Anything else is left to the careful
reader, which needs the whole file in one process and reports rejects by line: a line with an odd number of quote
characters (a value spanning lines, or a stray quote), a row with the wrong number of values, bytes that are not
UTF-8 (Spark's text source turns them into U+FFFD), or a parse error. The task raises, the job fails, Spark's commit
protocol writes nothing, and the caller reads the file the careful way, so the outcome is the same whichever path
read it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from custdim.engines.base import CsvFile

_BLOCK = "_block"  # byte offset of the split a line was read from
CAREFUL = "custdim: needs the careful reader"  # raised by a task: the job fails and writes nothing


class NeedsCarefulRead(Exception):
    """A task met something a line-by-line read cannot settle."""

    def __init__(self, why: str) -> None:
        super().__init__(f"{CAREFUL}: {why}")


def parse_lines(
    batches: Iterator[pa.RecordBatch],
    file: CsvFile,
    bases: dict[int, int],
    expected: dict[int, int],
) -> Iterator[pa.RecordBatch]:
    """mapInArrow function: lines (``_block``, ``value``) of one partition in file order → staged rows.

    ``bases``: rows of the file before each split; ``expected``: rows in each split (non-empty lines). Vectorized:
    the lines of a batch are checked with Arrow compute functions and handed to the parser as one buffer, so no
    Python object is made per line."""
    seen: dict[int, int] = {}  # rows emitted per split so far
    for batch in batches:
        blocks = batch.column(_BLOCK).to_numpy()
        values = batch.column("value")
        cuts = [0, *(np.flatnonzero(np.diff(blocks)) + 1).tolist(), len(blocks)]
        for start, stop in itertools.pairwise(cuts):
            if start == stop:
                continue
            block = int(blocks[start])
            lines = values.slice(start, stop - start)
            if block == 0 and block not in seen:
                # The file's first line: a header row is skipped; a byte-order mark is not data.
                if file.header:
                    lines = lines.slice(1)
                else:
                    opening = str(lines[0].as_py()).removeprefix("\ufeff")
                    lines = pa.concat_arrays([pa.array([opening], lines.type), lines.slice(1)])
            seen.setdefault(block, 0)
            _check(lines, file.quote)
            if not len(lines) or not pc.sum(pc.binary_length(lines)).as_py():
                continue
            table = _parse(lines, file)
            first = seen[block]
            seen[block] = first + table.num_rows
            yield from _staged(table, file, file.first_row + bases[block] + first + 1).to_batches()
    for block, n in seen.items():
        if n != expected.get(block, 0):  # rows are not lines after all: numbering would be wrong
            raise NeedsCarefulRead(f"split at byte {block} held {n} rows in {expected.get(block, 0)} lines")


def _check(lines: pa.Array, quote: str) -> None:
    if not len(lines):
        return
    if pc.any(pc.not_equal(pc.bit_wise_and(pc.count_substring(lines, quote), 1), 0)).as_py():
        raise NeedsCarefulRead("a quote that does not close on its line")
    if pc.any(pc.match_substring(lines, "\ufffd")).as_py():
        raise NeedsCarefulRead("bytes that are not UTF-8")


def _parse(lines: pa.Array, file: CsvFile) -> pa.Table:
    malformed: list[bool] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(True)
        return "skip"

    # The options of the streaming reader (streaming._stream_csv), so values land as they would there.
    read = pacsv.ReadOptions(column_names=file.names)
    parse = pacsv.ParseOptions(
        delimiter=file.delimiter, quote_char=file.quote, invalid_row_handler=on_invalid, newlines_in_values=True
    )
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in file.names}, strings_can_be_null=True, null_values=[""]
    )
    # Every line with its line break, as one buffer: the file's text of these lines.
    text = pc.binary_join_element_wise(lines, "", "\n")
    size = pc.sum(pc.binary_length(text)).as_py()
    data = text.buffers()[2].slice(0, size)
    try:
        table = pacsv.read_csv(pa.BufferReader(data), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise NeedsCarefulRead(f"a parse error: {exc}") from None
    if malformed:
        raise NeedsCarefulRead("a row with the wrong number of values")
    return table


def _staged(table: pa.Table, file: CsvFile, first_row: int) -> pa.Table:
    """The parsed rows with the staging table's columns, in its order (as the in-process parts have them)."""
    n = table.num_rows
    columns = []
    for name in file.columns:
        if name == file.row_column:
            columns.append(pa.array(np.arange(first_row, first_row + n, dtype=np.int64)))
        elif name in file.constants:
            columns.append(pa.array([file.constants[name]] * n, pa.string()))
        elif name in file.names:
            columns.append(table[name])
        else:
            columns.append(pa.nulls(n, pa.string()))
    return pa.Table.from_arrays(columns, names=file.columns)


def land_csv(session: Any, file: CsvFile, staging: str) -> int | None:
    """Parse ``file`` on the executors and append its rows to ``staging``; None (nothing written) when the careful
    reader must read it. See the module docstring."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    lines = session.read.text(file.path).select(F.input_file_block_start().alias(_BLOCK), F.col("value"))
    # Pass 1, lines only: rows per split (a row is a non-empty line, or the parse pass says otherwise and fails).
    non_empty = lines.where(F.col("value") != "").groupBy(_BLOCK).agg(F.count(F.lit(1)).alias("n"))
    counts = {int(r[_BLOCK]): int(r["n"]) for r in non_empty.collect()}
    if file.header and counts.get(0):
        counts[0] -= 1
    bases: dict[int, int] = {}
    total = 0
    for block in sorted(counts):
        bases[block] = total
        total += counts[block]
    if total == 0:
        return 0
    # Pass 2: parse and write, each row numbered as it is parsed. A task that meets trouble fails the job, and
    # Spark's commit protocol then moves none of its files into the staging folder.
    schema = T.StructType(
        [T.StructField(n, T.LongType() if n == file.row_column else T.StringType()) for n in file.columns]
    )
    parser = functools.partial(parse_lines, file=file, bases=bases, expected=counts)
    lines.mapInArrow(parser, schema).write.mode("append").parquet(staging)
    return total
