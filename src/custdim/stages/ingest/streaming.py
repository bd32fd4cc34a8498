"""Land a ``type: files`` table part by part, so a file larger than memory can be landed.

Large clean CSV files (the usual case for big extracts) are parsed by pyarrow's streaming reader, one block at a
time, each block written as a Parquet part at once. The careful reader in :mod:`readers` needs the whole file in
memory; it is used for every small file, and for a large file as soon as streaming meets anything the careful
reader would treat specially (a malformed row, a value spanning lines, bytes that are not UTF-8, a last quote
that never closes): that file's parts are then discarded and it is read again the careful way, so the outcome is
the same whichever path read it. Parquet files are read one row group at a time. JSON Lines files are read whole
(their types are inferred per file).

Every part of a table has the same columns: the union of the files' columns in first-seen order, missing ones
null, so the engine reads the staging folder as one table.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custdim.config.sources import FileTable
from custdim.engines.base import CsvFile
from custdim.errors import SourceError
from custdim.stages.ingest import readers
from custdim.stages.ingest.changes import BATCH, CHANGE, Group, change_groups
from custdim.stages.ingest.readers import ROW, Reject

# Files at least this large (compressed size for .gz) are streamed; smaller ones are read whole.
STREAM_BYTES = 256 << 20
# Bytes pyarrow parses per block when streaming: memory per block is a small multiple of this.
BLOCK_BYTES = 16 << 20
_HEAD_BYTES = 1 << 20
_TAIL_BYTES = 1 << 16


# An engine's own reader for a large CSV file (Engine.land_csv): rows written, or None to read it here.
EngineCsv = Callable[[CsvFile, str], "int | None"]
# An engine's own workers for independent tasks (Engine.run_tasks): results in order, or None to run them here.
Task = dict[str, Any]
EngineTasks = Callable[[Callable[[Task], Task], list[Task]], "list[Task] | None"]


class _Careful(Exception):
    """Streaming met something only the careful whole-file reader handles."""


@dataclass
class Landed:
    """What landing a files table wrote."""

    rows: int = 0
    rejects: list[Reject] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    parts: int = 0


class _Parts:
    """Parquet parts of one staging folder, all with one schema."""

    def __init__(self, fs: fsspec.AbstractFileSystem, staging: str, schema: pa.Schema) -> None:
        self.fs, self.staging, self.schema = fs, staging, schema
        self.count = 0
        self.constants: dict[str, str] = {}  # columns with one value for every row written now

    def write(self, table: pa.Table) -> str:
        path = f"{self.staging}/part-{self.count:05d}.parquet"
        self.count += 1
        _write_part(self.fs, path, table, self.constants, self.schema)
        return path

    def discard(self, paths: list[str]) -> None:
        for p in paths:
            self.fs.rm(p)


def _write_part(
    fs: fsspec.AbstractFileSystem, path: str, table: pa.Table, constants: dict[str, str], schema: pa.Schema
) -> None:
    """Write one staging part: ``table`` with the constant columns added, conformed to the table's schema."""
    for name, value in constants.items():
        table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
    with fs.open(path, "wb") as fh:
        pq.write_table(_conform(table, schema), fh)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in its order; columns the file lacks are null."""
    columns = []
    for f in schema:
        if f.name in table.column_names:
            col = table[f.name]
            columns.append(col if col.type == f.type else col.cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def land_files(
    url: str,
    spec: FileTable,
    label: str,
    key: str,
    fs: fsspec.AbstractFileSystem,
    staging: str,
    groups: list[Group] | None = None,
    engine_csv: EngineCsv | None = None,
    engine_tasks: EngineTasks | None = None,
) -> Landed:
    """Read every file of a files table and write it as Parquet parts under ``staging``, rows numbered in order.

    A table with ``incremental:`` is a change folder: its full data, then each hour's upserts and deletes, in time
    order (``groups``: only these), every row marked with CHANGE (full, upsert or delete) and BATCH (the hour,
    '' for full data). ``engine_csv``: the engine's own reader, offered every large local UTF-8 CSV file first;
    ``engine_tasks``: the engine's workers, which read the row groups of large local Parquet files.
    """
    where = f"{label}: {key}.path"
    if spec.file_format == "jsonl":
        if spec.incremental is not None:
            raise SourceError(
                f"{where}: incremental change folders of JSON Lines files are not supported; use csv or parquet"
            )
        result = readers.read_table(url, spec, label, key)  # lists the files itself
        parts = _Parts(fs, staging, result.table.schema)
        parts.write(result.table)
        return Landed(result.table.num_rows, result.rejects, result.table.column_names, 1)
    try:
        if spec.incremental is not None and groups is not None:
            src = fsspec.core.url_to_fs(url)[0]  # the caller listed the folder already
            chosen = groups
        elif spec.incremental is not None:
            src, chosen = change_groups(url)
        else:
            src, listed = readers.list_files(url)
            chosen = [Group("", "", tuple(listed), "")]
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from None
    plan = [(g.change, g.batch, list(g.files)) for g in chosen]
    files = [f for _, _, group in plan for f in group]
    schema = _csv_schema(src, files, spec, where) if spec.file_format == "csv" else _parquet_schema(src, files, where)
    if spec.incremental is not None:
        schema = schema.append(pa.field(CHANGE, pa.string())).append(pa.field(BATCH, pa.string()))
    parts = _Parts(fs, staging, schema)
    landed = Landed(columns=schema.names)
    for change, batch, group in plan:
        if spec.incremental is not None:
            parts.constants = {CHANGE: change, BATCH: batch}
        if (
            engine_tasks is not None
            and spec.file_format == "parquet"
            and _is_local(src)
            and _land_parquet_on_workers(src, group, parts, landed, engine_tasks)
        ):
            continue
        _land_group(src, group, files, spec, where, parts, landed, engine_csv)
    landed.parts = parts.count
    if parts.count == 0:  # no file held a row: still one (empty) part, so the table has its columns
        parts.constants = {}
        parts.write(schema.empty_table())
        landed.parts = 1
    return landed


def _land_group(
    src: fsspec.AbstractFileSystem,
    group: list[str],
    files: list[str],
    spec: FileTable,
    where: str,
    parts: _Parts,
    landed: Landed,
    engine_csv: EngineCsv | None = None,
) -> None:
    for f in group:
        note = f" of {f.rsplit('/', 1)[-1]}" if len(files) > 1 else ""
        if spec.file_format == "parquet":
            _land_parquet(src, f, where, parts, landed)
        elif src.size(f) >= STREAM_BYTES and _streamable(spec):
            if engine_csv is not None and _is_local(src):
                rows = engine_csv(_csv_file(src, f, spec, where, parts, landed), parts.staging)
                if rows is not None:
                    landed.rows += rows
                    parts.count += 1 if rows else 0  # the engine's part files count as this table's parts
                    continue
            written: list[str] = []
            first_row = landed.rows
            try:
                _stream_csv(src, f, spec, where, parts, landed, written)
            except _Careful:
                parts.discard(written)
                landed.rows = first_row
                _land_whole(src, f, spec, where, note, parts, landed)
        else:
            _land_whole(src, f, spec, where, note, parts, landed)


def _is_local(src: fsspec.AbstractFileSystem) -> bool:
    protocols = src.protocol if isinstance(src.protocol, (tuple, list)) else (src.protocol,)
    return "file" in protocols or "local" in protocols


def _csv_file(
    src: fsspec.AbstractFileSystem, f: str, spec: FileTable, where: str, parts: _Parts, landed: Landed
) -> CsvFile:
    names = readers._header(_head(src, f, where, spec), spec, f, where)
    return CsvFile(
        path=f,
        names=names,
        delimiter=spec.delimiter,
        quote=spec.quote,
        header=spec.header,
        columns=parts.schema.names,
        constants=dict(parts.constants),
        first_row=landed.rows,
        row_column=ROW,
    )


def _streamable(spec: FileTable) -> bool:
    # pyarrow validates UTF-8 itself; other encodings go through the careful reader's decoding.
    return codecs.lookup(spec.encoding).name in ("utf-8", "utf-8-sig")


def _csv_schema(src: fsspec.AbstractFileSystem, files: list[str], spec: FileTable, where: str) -> pa.Schema:
    names: list[str] = []
    for f in files:
        head = _head(src, f, where, spec)
        if not head.strip():
            raise SourceError(f"{where}: {f} is empty (expected {'a header row' if spec.header else 'rows'})")
        readers._check_text(head, spec, f, where)
        names += [n for n in readers._header(head, spec, f, where) if n not in names]
    return pa.schema([(n, pa.string()) for n in names] + [(ROW, pa.int64())])


def _parquet_schema(src: fsspec.AbstractFileSystem, files: list[str], where: str) -> pa.Schema:
    schemas = []
    for f in files:
        try:
            with src.open(f, "rb") as fh:
                schemas.append(pq.read_schema(fh))
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"{where}: cannot read {f} as Parquet: {readers._printable(exc)}") from None
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SourceError(f"{where}: files of this table have incompatible columns: {exc}") from None
    return schema.remove_metadata().append(pa.field(ROW, pa.int64()))


def _head(src: fsspec.AbstractFileSystem, f: str, where: str, spec: FileTable) -> bytes:
    with src.open(f, "rb") as fh:
        raw = fh.read(_HEAD_BYTES)
        if raw.startswith(readers._GZIP) and f.lower().endswith(".gz"):
            fh.seek(0)
            try:
                with gzip.open(fh) as gz:
                    return gz.read(_HEAD_BYTES)
            except (OSError, EOFError) as exc:
                raise SourceError(f"{where}: cannot decompress {f} (gzip): {exc}") from None
    return readers._decompress(raw, f, where, spec.file_format) if raw.startswith(readers._GZIP) else raw


def _numbered(table: pa.Table, first: int) -> pa.Table:
    return table.append_column(ROW, pa.array(range(first + 1, first + table.num_rows + 1), pa.int64()))


def _land_whole(
    src: fsspec.AbstractFileSystem,
    f: str,
    spec: FileTable,
    where: str,
    note: str,
    parts: _Parts,
    landed: Landed,
) -> None:
    with src.open(f, "rb") as fh:
        data = readers._decompress(fh.read(), f, where, spec.file_format)
    if not data.strip():
        raise SourceError(f"{where}: {f} is empty (expected {'a header row' if spec.header else 'rows'})")
    table, bad = readers._read_csv(data, spec, f, where, note)
    landed.rejects += [{**r, ROW: None} for r in bad]
    parts.write(_numbered(table, landed.rows))
    landed.rows += table.num_rows


def _land_parquet(src: fsspec.AbstractFileSystem, f: str, where: str, parts: _Parts, landed: Landed) -> None:
    try:
        with src.open(f, "rb") as fh:
            pf = pq.ParquetFile(fh)
            for i in range(pf.num_row_groups):
                group = pf.read_row_group(i)
                parts.write(_numbered(group, landed.rows))
                landed.rows += group.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{where}: cannot read {f} as Parquet: {readers._printable(exc)}") from None


def _land_parquet_on_workers(
    src: fsspec.AbstractFileSystem, group: list[str], parts: _Parts, landed: Landed, run: EngineTasks
) -> bool:
    """Land a group of large Parquet files by row group on the engine's workers: the part names and row numbers
    are given out here from the files' footers, so every part is the one the in-process path writes. False when the
    files are small, the engine has no workers, or a task failed (its parts are removed; the caller reads the files
    here and reports what is wrong precisely)."""
    if sum(src.size(f) for f in group) < STREAM_BYTES:
        return False
    schema = base64.b64encode(parts.schema.serialize().to_pybytes()).decode("ascii")
    tasks: list[Task] = []
    first = landed.rows
    for f in group:
        try:
            with src.open(f, "rb") as fh:
                meta = pq.ParquetFile(fh).metadata
        except (pa.ArrowInvalid, OSError):
            return False  # the in-process path says what is wrong with it
        for i in range(meta.num_row_groups):
            path = f"{parts.staging}/part-{parts.count + len(tasks):05d}.parquet"
            constants = dict(parts.constants)
            tasks.append(
                {"file": f, "row_group": i, "first_row": first, "part": path, "schema": schema, "constants": constants}
            )
            first += meta.row_group(i).num_rows
    try:
        results = run(write_row_group, tasks)
    except Exception:
        results = None
        parts.discard([t["part"] for t in tasks if parts.fs.exists(t["part"])])
    if results is None:
        return False
    parts.count += len(tasks)
    landed.rows += sum(int(r["rows"]) for r in results)
    return True


def write_row_group(task: Task) -> Task:
    """One row group of a Parquet file as one staging part (run on an engine's worker); ``{"rows": n}``."""
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(task["schema"])))
    fs = fsspec.filesystem("file")
    with fs.open(task["file"], "rb") as fh:
        group = pq.ParquetFile(fh).read_row_group(int(task["row_group"]))
    _write_part(fs, task["part"], _numbered(group, int(task["first_row"])), task["constants"], schema)
    return {"rows": group.num_rows}


def _stream_csv(
    src: fsspec.AbstractFileSystem,
    f: str,
    spec: FileTable,
    where: str,
    parts: _Parts,
    landed: Landed,
    written: list[str],
) -> None:
    """Stream one large CSV file; raises _Careful at the first sign of trouble (nothing is lost: the caller
    discards the parts written and reads the file the careful way)."""
    head = _head(src, f, where, spec)
    names = readers._header(head, spec, f, where)
    line_break = "\n" if b"\n" in head else "\r"
    quoted = spec.quote.encode("utf-8")

    malformed: list[bool] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(True)  # its line number needs the whole text: the careful reader takes over
        return "skip"

    read = pacsv.ReadOptions(column_names=names, skip_rows=1 if spec.header else 0, block_size=BLOCK_BYTES)
    parse = pacsv.ParseOptions(
        delimiter=spec.delimiter, quote_char=spec.quote, invalid_row_handler=on_invalid, newlines_in_values=True
    )
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
    )
    compressed = f.lower().endswith(".gz") and _is_gzip(src, f)
    with src.open(f, "rb") as raw, contextlib.ExitStack() as stack:
        stream = stack.enter_context(gzip.open(raw)) if compressed else raw
        try:
            reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
            for batch in reader:
                table = pa.Table.from_batches([batch])
                if malformed or _spans_lines(table, line_break):
                    raise _Careful  # a value spanning lines may be a stray quote swallowing rows
                written.append(parts.write(_numbered(table, landed.rows)))
                landed.rows += table.num_rows
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
            raise _Careful from exc
    if malformed:
        raise _Careful
    if _last_quote_open(src, f, spec, compressed, quoted):
        raise _Careful


def _is_gzip(src: fsspec.AbstractFileSystem, f: str) -> bool:
    with src.open(f, "rb") as fh:
        return bool(fh.read(2) == readers._GZIP)


def _spans_lines(table: pa.Table, line_break: str) -> bool:
    import pyarrow.compute as pc

    return any(pc.any(pc.match_substring(col, line_break)).as_py() for col in table.columns)


def _last_quote_open(src: fsspec.AbstractFileSystem, f: str, spec: FileTable, compressed: bool, quote: bytes) -> bool:
    if compressed:
        tail = b""
        with src.open(f, "rb") as raw, gzip.open(raw) as gz:
            while chunk := gz.read(BLOCK_BYTES):
                tail = (tail + chunk)[-_TAIL_BYTES:]
    else:
        size = src.size(f)
        with src.open(f, "rb") as fh:
            fh.seek(max(0, size - _TAIL_BYTES))
            tail = fh.read()
    return quote in tail and readers._last_quote_open(tail, spec)
