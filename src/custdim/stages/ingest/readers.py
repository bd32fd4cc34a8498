"""Read source files into Arrow, keeping every record that cannot be read (with its line and reason).

CSV columns are read as text unless the project declares a type: identifiers, postcodes and phone numbers must
keep their leading zeros, so nothing is type-guessed.

A CSV file is read in one pyarrow pass. A slower pass runs only when that one shows trouble:

- bytes that are not text in the declared encoding: their lines become rejects (the bytes kept as ``\\xNN``);
- a quote that never closes where it should, so that one value would swallow lines that are rows of their own:
  the line that opened the quote becomes a reject and the lines after it are read on their own.

Rejected lines are blanked rather than cut out, so every line number reported is the file's own.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from custdim.config.sources import FileTable
from custdim.errors import SourceError

ROW = "_row"  # 1-based row number within the table's files, in reading order
REJECT_SCHEMA = pa.schema([(ROW, pa.int64()), ("_reason", pa.string()), ("_record", pa.string())])

_KEEP_BYTES = "custdim-keep-bytes"
_GZIP = b"\x1f\x8b"
_SNIFF_BYTES = 64 * 1024
# A text file has few control characters or undecodable bytes; a binary file has them everywhere.
_BINARY_SHARE = 0.1
_BINARY_MIN = 8
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\udc00-\udcff]")
_UNDECODED = re.compile("[\udc00-\udcff]")
_UTF8 = ("utf-8", "utf-8-sig")


def _keep_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: an undecodable byte b becomes U+DC00+b, so it is found, and shown, exactly."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(_KEEP_BYTES, _keep_bytes)

Reject = dict[str, object]


@dataclass
class ReadResult:
    table: pa.Table
    rejects: list[Reject] = field(default_factory=list)
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


def read_table(url: str, spec: FileTable, label: str, key: str | None = None) -> ReadResult:
    """Read every file of a source table; rows are numbered in reading order.

    ``key`` is the table's key path in the project file (``sources[0].tables[1]``); errors name it with the label.
    """
    where = f"{label}: {key}.path" if key else label
    try:
        fs, files = list_files(url)
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from None
    parts: list[pa.Table] = []
    rejects: list[Reject] = []
    offset = 0
    for f in files:
        with fs.open(f, "rb") as fh:
            data = fh.read()
        if spec.file_format != "parquet":
            data = _decompress(data, f, where, spec.file_format)
        if not data.strip():
            raise SourceError(f"{where}: {f} is empty (expected {'a header row' if spec.header else 'rows'})")
        # Line numbers of a table read from several files need the file to mean anything.
        note = f" of {f.rsplit('/', 1)[-1]}" if len(files) > 1 else ""
        if spec.file_format == "csv":
            table, bad = _read_csv(data, spec, f, where, note)
        elif spec.file_format == "jsonl":
            table, bad = _read_jsonl(data, f, where, note)
        else:
            table, bad = _read_parquet(data, f, where), []
        table = table.append_column(ROW, pa.array(range(offset + 1, offset + table.num_rows + 1), pa.int64()))
        for r in bad:
            rejects.append({**r, ROW: None})
        offset += table.num_rows
        parts.append(table)
    try:
        combined = pa.concat_tables(parts, promote_options="permissive")
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{where}: files of this table have incompatible columns: {exc}") from None
    return ReadResult(combined, rejects, files)


def _decompress(data: bytes, file: str, where: str, file_format: str) -> bytes:
    if not data.startswith(_GZIP):
        return data
    if not file.lower().endswith(".gz"):
        raise SourceError(
            f"{where}: {file} looks like a gzip file (it starts with the gzip signature), not {file_format} text; "
            "give it a name ending in .gz to read it compressed, or decompress it"
        )
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"{where}: cannot decompress {file} (gzip): {exc}") from None


def _printable(text: object, limit: int = 300) -> str:
    """Text safe for a terminal: control characters and undecodable bytes escaped, cut to ``limit``."""
    s = str(text)[:limit]
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode() for c in s)


def _shown(text: str) -> str:
    """A record for _rejects: the text as read, each byte that was not text as ``\\xNN``."""
    return _UNDECODED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def _check_text(data: bytes, spec: FileTable, file: str, where: str) -> None:
    """Refuse, with a clear message, files that are not text at all (instead of echoing their bytes)."""
    head = data[:_SNIFF_BYTES]
    what = f"not {spec.encoding} CSV text"
    if head.startswith(b"PAR1"):
        raise SourceError(f"{where}: {file} looks like a Parquet file, {what}; set the table's format to parquet")
    if head.startswith(b"PK\x03\x04"):
        raise SourceError(f"{where}: {file} looks like a zip archive (an Excel workbook?), {what}")
    wide = codecs.lookup(spec.encoding).name.startswith(("utf-16", "utf-32"))
    if b"\0" in head and not wide:
        raise SourceError(f"{where}: {file} holds binary data (NUL bytes), {what}")
    text = codecs.getincrementaldecoder(spec.encoding)(_KEEP_BYTES).decode(head, final=False)
    odd = len(_CONTROL.findall(text))
    if odd >= _BINARY_MIN and odd > len(text) * _BINARY_SHARE:
        raise SourceError(
            f"{where}: {file} does not look like {spec.encoding} CSV text: {odd} of its first {len(text)} characters "
            f"are control characters or bytes that are not {spec.encoding}; is it a binary file, or in another "
            "encoding (set the table's encoding)?"
        )


def _header(data: bytes, spec: FileTable, file: str, where: str) -> list[str]:
    if spec.column_names:
        return list(spec.column_names)
    text = codecs.getincrementaldecoder(spec.encoding)(_KEEP_BYTES).decode(data[:1_000_000], final=False)
    first = next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=spec.delimiter, quotechar=spec.quote), None)
    if not first:
        raise SourceError(f"{where}: {file} has no header row")
    names = [n.strip() for n in first]
    if any(_CONTROL.search(n) for n in names):
        raise SourceError(
            f"{where}: {file} header row is not {spec.encoding} text; set the table's encoding (e.g. latin-1, cp1252)"
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "" in names:
        raise SourceError(f"{where}: {file} header has empty or repeated column names: {dupes or ['(empty)']}")
    return names


@dataclass
class _Parse:
    table: pa.Table | None
    rejects: list[Reject]
    # Something only a line-by-line look can settle: a value or bad row spanning lines, or an open last quote.
    suspicious: bool
    error: pa.ArrowInvalid | None


def _read_csv(data: bytes, spec: FileTable, file: str, where: str, note: str) -> tuple[pa.Table, list[Reject]]:
    _check_text(data, spec, file, where)
    names = _header(data, spec, file, where)
    rejects: list[Reject] = []
    if codecs.lookup(spec.encoding).name in _UTF8 and _is_utf8(data):
        payload = data  # pyarrow reads UTF-8 (and skips its BOM) itself
    else:
        payload, rejects = _without_undecodable(data.decode(spec.encoding, _KEEP_BYTES), spec.encoding, note)
    parsed = _parse(payload, spec, names, note)
    if parsed.error is not None or parsed.suspicious:
        text = payload.decode("utf-8")
        damaged = _quote_damage(text, spec, len(names))
        if damaged:
            payload, quote_rejects = _blank_lines(text, damaged, note)
            rejects += quote_rejects
            parsed = _parse(payload, spec, names, note)
    if parsed.error is not None or parsed.table is None:
        raise SourceError(f"{where}: cannot read {file} as CSV ({spec.encoding}): {_printable(parsed.error)}")
    return parsed.table, rejects + parsed.rejects


def _is_utf8(data: bytes) -> bool:
    """Checked by Arrow on the bytes in place: fast, and it keeps invalid text away from pyarrow's row handler."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


class _LineCounter:
    """1-based line numbers of byte offsets, counted on from the last offset asked for (offsets mostly grow)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.line = 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.line = 0, 1
        d = self.data
        self.line += d.count(b"\n", self.pos, pos) + d.count(b"\r", self.pos, pos) - d.count(b"\r\n", self.pos, pos)
        self.pos = pos
        return self.line


def _parse(payload: bytes, spec: FileTable, names: list[str], note: str) -> _Parse:
    """One pyarrow pass over UTF-8 text: rows as text columns, rows of the wrong width as rejects."""
    bad: list[Reject] = []
    lines = _LineCounter(payload)
    cursor = 0
    spans_lines = False

    def on_invalid(row: pacsv.InvalidRow) -> str:
        nonlocal cursor, spans_lines
        spans_lines = spans_lines or "\n" in row.text or "\r" in row.text
        # pyarrow leaves row.number unset when values may span lines; find the text to name the line.
        line = row.number if row.number is not None and row.number > 0 else None
        pos = payload.find(row.text.encode("utf-8"), cursor)
        if pos >= 0:
            cursor = pos + 1
            line = line or lines.at(pos)
        bad.append(
            {
                "_reason": f"malformed CSV row at line {line}{note}: expected {row.expected_columns} fields, "
                f"found {row.actual_columns}",
                "_record": row.text,
            }
        )
        return "skip"

    read = pacsv.ReadOptions(column_names=names, skip_rows=1 if spec.header else 0, block_size=1 << 24)
    parse = pacsv.ParseOptions(
        delimiter=spec.delimiter, quote_char=spec.quote, invalid_row_handler=on_invalid, newlines_in_values=True
    )
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
    )
    try:
        table = pacsv.read_csv(io.BytesIO(payload), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        return _Parse(None, bad, True, exc)
    # Without a quote character no value can span lines: the common clean file skips the checks.
    quoted = spec.quote.encode("utf-8") in payload
    suspicious = quoted and (
        spans_lines
        or _runaway_values(table, spec.delimiter, len(names), "\n" if b"\n" in payload else "\r")
        or _last_quote_open(payload, spec)
    )
    return _Parse(table, bad, suspicious, None)


def _runaway_values(table: pa.Table, delimiter: str, width: int, line_break: str) -> bool:
    """Whether a value spans lines and either holds a row's worth of delimiters or ends at a line break.

    Legitimate multi-line values (an address in quotes) rarely do; a value opened by a stray quote and closed by
    the next one does, because it swallowed whole rows. Vectorized, so clean files stay fast.
    """
    for column in table.columns:
        multi_line = pc.match_substring(column, line_break)
        if not pc.any(multi_line).as_py():
            continue
        for value in pc.filter(column, multi_line).to_pylist():
            if value.count(delimiter) >= width - 1 or value.endswith(("\n", "\r")):
                return True
    return False


def _last_quote_open(payload: bytes, spec: FileTable) -> bool:
    tail = payload.rstrip(b"\r\n")
    start = max(tail.rfind(b"\n"), tail.rfind(b"\r")) + 1
    return _ends_open(tail[start:].decode("utf-8", "replace"), spec.delimiter, spec.quote)


def _ends_open(text: str, delimiter: str, quote: str) -> bool:
    """Whether CSV text ends inside a quoted value (a quote opens only at the start of a field)."""
    inside = False
    field_start = True
    i = 0
    while i < len(text):
        c = text[i]
        if inside:
            if c == quote:
                if text[i + 1 : i + 2] == quote:
                    i += 1  # an escaped quote
                else:
                    inside = False
            field_start = False
        else:
            inside = c == quote and field_start
            field_start = c == delimiter or c in "\r\n"
        i += 1
    return inside


class _Lines:
    """Lines for csv.reader, with a position that can be read and moved between records."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.pos = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


def _split_lines(text: str) -> list[str]:
    """Physical lines with their endings; \\r\\n, \\n and a lone \\r end a line, as for pyarrow."""
    return list(io.StringIO(text, newline=""))


def _quote_damage(text: str, spec: FileTable, width: int) -> dict[int, str]:
    """Lines (0-based) that open a quote which does not close where it should, with the reason.

    A record that spans lines is damaged when two or more of its lines each hold a row's worth of delimiters (the
    quote swallowed rows) or when it runs to the end of the file inside quotes. Its first line is rejected, and so
    is its last line when an odd number of quotes there closed the stray one; reading starts afresh on the next
    line, exactly as pyarrow will once those lines are blanked.
    """
    lines = _split_lines(text)
    source = _Lines(lines)
    reader = csv.reader(source, delimiter=spec.delimiter, quotechar=spec.quote, strict=False)
    full_row = width - 1
    damaged: dict[int, str] = {}
    i = 0
    if spec.header:
        next(reader, None)
        i = source.pos
    while i < len(lines):
        if i in damaged:
            i += 1  # the line closing an earlier stray quote: rejected with it
            continue
        if spec.quote not in lines[i]:
            i += 1  # a line without quotes is a whole record (or blank) on its own
            continue
        source.pos = i
        reason = None
        try:
            next(reader)
            end = source.pos
        except StopIteration:
            break
        except csv.Error as exc:
            reason, end = f"unbalanced quote: its value runs on over many lines ({exc})", i + 1
        if reason is None and end - i > 1 and full_row > 0:
            rows = sum(1 for line in lines[i:end] if line.count(spec.delimiter) >= full_row)
            if rows >= 2:
                reason = f"unbalanced quote: its value would run on through line {end}, swallowing whole rows"
                if lines[end - 1].count(spec.quote) % 2:
                    damaged[end - 1] = f"unbalanced quote: it closes the stray quote of line {i + 1}"
        if reason is None and end == len(lines) and _ends_open("".join(lines[i:end]), spec.delimiter, spec.quote):
            reason = "unbalanced quote: the quoted value never closes"
        if reason is None:
            i = end
        else:
            damaged[i] = reason
            i += 1
    return damaged


def _line_end(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _blank_lines(text: str, damaged: dict[int, str], note: str) -> tuple[bytes, list[Reject]]:
    lines = _split_lines(text)
    rejects: list[Reject] = []
    for i, reason in sorted(damaged.items()):
        rejects.append(
            {"_reason": f"malformed CSV row at line {i + 1}{note}: {reason}", "_record": lines[i].rstrip("\r\n")}
        )
        lines[i] = _line_end(lines[i])
    return "".join(lines).encode("utf-8"), rejects


def _without_undecodable(text: str, encoding: str, note: str) -> tuple[bytes, list[Reject]]:
    """UTF-8 for pyarrow, with each line holding bytes that are not ``encoding`` text blanked and kept as a reject."""
    if not _UNDECODED.search(text):
        return text.encode("utf-8"), []
    lines = _split_lines(text)
    rejects: list[Reject] = []
    for i, line in enumerate(lines):
        if _UNDECODED.search(line):
            rejects.append(
                {
                    "_reason": f"undecodable bytes at line {i + 1}{note}: not {encoding} text (kept as \\xNN in "
                    f"_record; set the table's encoding if the file is not {encoding})",
                    "_record": _shown(line.rstrip("\r\n")),
                }
            )
            lines[i] = _line_end(line)
    return "".join(lines).encode("utf-8"), rejects


def _read_jsonl(data: bytes, file: str, where: str, note: str) -> tuple[pa.Table, list[Reject]]:
    try:
        return pajson.read_json(io.BytesIO(data)), []
    except pa.ArrowInvalid:
        pass
    # Slow path only when some line is broken: find those lines, keep them as rejects, read the rest.
    good: list[bytes] = []
    bad: list[Reject] = []
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
                {
                    "_reason": f"malformed JSON at line {number}{note}: {exc}",
                    "_record": line.decode("utf-8", "backslashreplace"),
                }
            )
    if not good:
        raise SourceError(f"{where}: {file} holds no valid JSON object per line")
    try:
        return pajson.read_json(io.BytesIO(b"\n".join(good))), bad
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{where}: cannot read {file} as JSON Lines: {_printable(exc)}") from None


def _read_parquet(data: bytes, file: str, where: str) -> pa.Table:
    try:
        return pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{where}: cannot read {file} as Parquet: {_printable(exc)}") from None
