"""Read source files into Arrow, keeping every row that cannot be parsed (with its line and reason).

CSV columns are read as text unless the project declares a type: identifiers, postcodes and phone numbers must
keep their leading zeros, so nothing is type-guessed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from custdim.config.sources import FileTable
from custdim.errors import SourceError

ROW = "_row"  # 1-based row number within the table's files, in reading order
REJECT_SCHEMA = pa.schema([(ROW, pa.int64()), ("_reason", pa.string()), ("_record", pa.string())])


@dataclass
class ReadResult:
    table: pa.Table
    rejects: list[dict[str, object]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def rejects_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rejects, schema=REJECT_SCHEMA)


def list_files(url: str) -> tuple[fsspec.AbstractFileSystem, list[str]]:
    """A file, a folder (its files, sorted) or a glob."""
    fs, path = fsspec.core.url_to_fs(url)
    if any(ch in path for ch in "*?["):
        files = sorted(fs.glob(path))
    elif fs.isdir(path):
        files = sorted(p for p in fs.ls(path, detail=False) if not p.rsplit("/", 1)[-1].startswith((".", "_")))
    elif fs.exists(path):
        files = [path]
    else:
        raise SourceError(f"{url}: file not found")
    files = [f for f in files if fs.isfile(f)]
    if not files:
        raise SourceError(f"{url}: no files found")
    return fs, files


def read_table(url: str, spec: FileTable, label: str) -> ReadResult:
    """Read every file of a source table; rows are numbered in reading order."""
    fs, files = list_files(url)
    parts: list[pa.Table] = []
    rejects: list[dict[str, object]] = []
    offset = 0
    for f in files:
        with fs.open(f, "rb") as fh:
            data = fh.read()
        if not data.strip():
            raise SourceError(f"{label}: {f} is empty (expected {'a header row' if spec.header else 'rows'})")
        if spec.file_format == "csv":
            table, bad = _read_csv(data, spec, f, label)
        elif spec.file_format == "jsonl":
            table, bad = _read_jsonl(data, f, label)
        else:
            table, bad = _read_parquet(data, f, label), []
        table = table.append_column(ROW, pa.array(range(offset + 1, offset + table.num_rows + 1), pa.int64()))
        for r in bad:
            rejects.append({**r, ROW: None})
        offset += table.num_rows
        parts.append(table)
    try:
        combined = pa.concat_tables(parts, promote_options="permissive")
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{label}: files of this table have incompatible columns: {exc}") from None
    return ReadResult(combined, rejects, files)


def _header(data: bytes, spec: FileTable, file: str, label: str) -> list[str]:
    if spec.column_names:
        return list(spec.column_names)
    text = data[:1_000_000].decode(spec.encoding, errors="replace").lstrip("\ufeff")
    first = next(csv.reader(io.StringIO(text), delimiter=spec.delimiter, quotechar=spec.quote), None)
    if not first:
        raise SourceError(f"{label}: {file} has no header row")
    names = [n.strip() for n in first]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "" in names:
        raise SourceError(f"{label}: {file} header has empty or repeated column names: {dupes or ['(empty)']}")
    return names


def _read_csv(data: bytes, spec: FileTable, file: str, label: str) -> tuple[pa.Table, list[dict[str, object]]]:
    names = _header(data, spec, file, label)
    bad: list[dict[str, object]] = []
    cursor = 0

    def on_invalid(row: pacsv.InvalidRow) -> str:
        nonlocal cursor
        # pyarrow leaves row.number unset when values may span lines; find the text to name the line.
        line = row.number
        pos = data.find(row.text.encode(spec.encoding, errors="replace"), cursor)
        if pos >= 0:
            cursor = pos + 1
            line = line or data.count(b"\n", 0, pos) + 1
        bad.append(
            {
                "_reason": f"malformed CSV row at line {line}: expected {row.expected_columns} fields, "
                f"found {row.actual_columns}",
                "_record": row.text,
            }
        )
        return "skip"

    read = pacsv.ReadOptions(
        column_names=names, skip_rows=1 if spec.header else 0, encoding=spec.encoding, block_size=1 << 24
    )
    parse = pacsv.ParseOptions(
        delimiter=spec.delimiter, quote_char=spec.quote, invalid_row_handler=on_invalid, newlines_in_values=True
    )
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
    )
    try:
        table = pacsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise SourceError(f"{label}: cannot read {file} as CSV ({spec.encoding}): {exc}") from None
    return table, bad


def _read_jsonl(data: bytes, file: str, label: str) -> tuple[pa.Table, list[dict[str, object]]]:
    try:
        return pajson.read_json(io.BytesIO(data)), []
    except pa.ArrowInvalid:
        pass
    # Slow path only when some line is broken: find those lines, keep them as rejects, read the rest.
    good: list[bytes] = []
    bad: list[dict[str, object]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            good.append(line)
        except ValueError as exc:
            bad.append(
                {"_reason": f"malformed JSON at line {number}: {exc}", "_record": line.decode("utf-8", "replace")}
            )
    if not good:
        raise SourceError(f"{label}: {file} holds no valid JSON object per line")
    try:
        return pajson.read_json(io.BytesIO(b"\n".join(good))), bad
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{label}: cannot read {file} as JSON Lines: {exc}") from None


def _read_parquet(data: bytes, file: str, label: str) -> pa.Table:
    try:
        return pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{label}: cannot read {file} as Parquet: {exc}") from None
