"""`custdim validate`: check a project without running it.

Reads only what is cheap: each source file's header (CSV), schema (Parquet) or first lines (JSON Lines), so that a
misspelt column in the project file is reported in a second instead of after the ingest of every source.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import json
import re
import tempfile
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from custdim.config.loader import config_error
from custdim.config.project import ProjectConfig
from custdim.config.sources import FileTable
from custdim.errors import SourceError
from custdim.stages.ingest.changes import change_groups
from custdim.stages.ingest.landing import TableRef, probe_columns
from custdim.stages.ingest.readers import list_files

HEAD_CHUNK = 64 * 1024
HEAD_MAX = 1_000_000  # a header row longer than this is not a header
JSON_LINES = 1000  # JSON Lines rows may differ in keys: the union of the first ones stands for the table
LISTED_COLUMNS = 30
PAIR_LIST_HEADER = ("Table1", "Table1Key", "Table2", "Table2Key")
_GZIP = b"\x1f\x8b"
_NAMED_KEY = re.compile(r"^(\S+): (sources\[\d+\][\w\[\].]*): (.*)$", re.DOTALL)


def validate_project(config: ProjectConfig) -> list[str]:
    """Check what can be checked without running; returns notes for the user.

    Every source table's files must exist and be readable, and every column the project file names (primary keys,
    declared types, unify mappings, recency columns, activity keys, timestamps and amounts) must be in its table.
    Raises one ConfigError listing every problem, each under its key path.
    """
    notes: list[str] = []
    problems: list[tuple[str, str]] = []
    columns: dict[str, list[str]] = {}
    for key, source, table in config.iter_tables():
        label = f"{source.name}.{table.name}"
        if isinstance(table, FileTable):
            try:
                if table.incremental is not None:  # a change folder: FullData and every hour's files
                    fs, groups = change_groups(config.resolve(table.path))
                    files = [f for g in groups for f in g.files]
                else:
                    fs, files = list_files(config.resolve(table.path))
                columns[label] = table_columns(fs, files, table, label)
            except SourceError as exc:
                problems.append((f"{key}.path", str(exc)))
                continue
            except OSError as exc:
                problems.append((f"{key}.path", f"{label}: cannot read {exc.filename or table.path}: {exc.strerror}"))
                continue
            notes.append(f"{label}: {len(files)} file(s), format {table.file_format}, {len(columns[label])} columns")
        else:
            try:
                probed = probe_columns(TableRef(config, source, table, key))
            except SourceError as exc:
                # "crm.contacts: sources[0].manifest: ..." names its own key: report it there, not twice.
                m = _NAMED_KEY.match(str(exc))
                problems.append((m.group(2), f"{m.group(1)}: {m.group(3)}") if m else (key, str(exc)))
                continue
            assert probed is not None
            columns[label], note = probed
            notes.append(note)
        problems += _missing(columns, label, f"{key}.primary_key", [table.primary_key], by_name=False)
        problems += _missing(columns, label, f"{key}.columns", list(table.columns))
    unify = config.unify
    for i, ut in enumerate(unify.tables):
        problems += _missing(columns, ut.table, f"unify.tables[{i}].fields", list(ut.fields))
    problems += _recency_problems(config, columns)
    for i, a in enumerate(config.activities):
        used = [("customer.foreign_key", a.customer.foreign_key), ("timestamp", a.timestamp), ("amount", a.amount)]
        own = columns.get(a.table)
        if a.parent is not None:
            problems += _missing(columns, a.table, f"activities[{i}].parent.key", [a.parent.key], by_name=False)
            parent = columns.get(a.parent.table)
            if own is not None and parent is not None:
                # A line borrows what it lacks (the customer key, the time) from its parent row.
                columns = {**columns, f"{a.table} or {a.parent.table}": own + [c for c in parent if c not in own]}
                for name, column in used:
                    if column is not None:
                        where = f"{a.table} or {a.parent.table}"
                        problems += _missing(columns, where, f"activities[{i}].{name}", [column], by_name=False)
                continue
        for name, column in used:
            if column is not None:
                problems += _missing(columns, a.table, f"activities[{i}].{name}", [column], by_name=False)
    problems += _pair_list_problems(config)
    problems += _lake_problems(config)
    if problems:
        raise config_error(config.file, problems)
    return notes


def table_columns(fs: fsspec.AbstractFileSystem, files: list[str], spec: FileTable, label: str) -> list[str]:
    """The columns ingest will land for a table: the union over its files, in first-seen order.

    Raises SourceError for a file that cannot be read as the declared format.
    """
    out: list[str] = []
    for f in files:
        if spec.file_format == "csv":
            names = _csv_header(fs, f, spec, label)
        elif spec.file_format == "jsonl":
            names = _jsonl_keys(fs, f, label)
        else:
            names = _parquet_columns(fs, f, label)
        out += [n for n in names if n not in out]
    return out


def _head(fs: fsspec.AbstractFileSystem, file: str) -> bytes:
    """The start of a file, up to its first line break (and a little more), at most HEAD_MAX bytes."""
    with fs.open(file, "rb") as raw:
        # Ingest reads a file named *.gz compressed; so does this check.
        fh = gzip.GzipFile(fileobj=raw) if file.lower().endswith(".gz") else raw
        try:
            head: bytes = fh.read(HEAD_CHUNK)
            while b"\n" not in head and len(head) < HEAD_MAX:
                more = fh.read(HEAD_CHUNK)
                if not more:
                    break
                head += more
        except (OSError, EOFError) as exc:
            raise SourceError(f"{file}: cannot decompress it (gzip): {exc}") from None
    return head


def _csv_header(fs: fsspec.AbstractFileSystem, file: str, spec: FileTable, label: str) -> list[str]:
    head = _head(fs, file)
    if not head.strip():
        raise SourceError(f"{label}: {file} is empty (expected {'a header row' if spec.header else 'rows'})")
    if head.startswith(_GZIP):
        raise SourceError(f"{label}: {file} is gzip-compressed, not CSV text; decompress it (gunzip) first")
    if b"\0" in head and not codecs.lookup(spec.encoding).name.startswith(("utf-16", "utf-32")):
        raise SourceError(f"{label}: {file} holds binary data (NUL bytes), not CSV text")
    try:
        # Incremental: the chunk may end inside a multi-byte character.
        text = codecs.getincrementaldecoder(spec.encoding)("strict").decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{label}: {file} is not {spec.encoding} text (byte {exc.start}: 0x{head[exc.start]:02x}); "
            "set the table's `encoding` to the file's encoding, e.g. latin-1 or cp1252"
        ) from None
    if spec.column_names:
        return list(spec.column_names)
    first = next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=spec.delimiter, quotechar=spec.quote), None)
    if not first:
        raise SourceError(f"{label}: {file} has no header row")
    names = [n.strip() for n in first]
    if any(not n.isprintable() for n in names):
        raise SourceError(f"{label}: {file} header holds control characters; is it a CSV text file?")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "" in names:
        raise SourceError(f"{label}: {file} header has empty or repeated column names: {dupes or ['(empty)']}")
    return names


def _jsonl_keys(fs: fsspec.AbstractFileSystem, file: str, label: str) -> list[str]:
    with fs.open(file, "rb") as fh:
        head: bytes = fh.read(HEAD_MAX)
        complete = not fh.read(1)
    lines = head.splitlines()
    if not complete:
        lines = lines[:-1]  # cut off by the read
    keys: list[str] = []
    objects = 0
    for line in lines:
        if objects >= JSON_LINES:
            break
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue  # ingest keeps such rows as rejects; they say nothing about columns
        if isinstance(value, dict):
            objects += 1
            keys += [k for k in value if k not in keys]
    if not objects:
        raise SourceError(f"{label}: {file} holds no JSON object per line in its first {len(lines)} lines")
    return keys


def _parquet_columns(fs: fsspec.AbstractFileSystem, file: str, label: str) -> list[str]:
    try:
        with fs.open(file, "rb") as fh:
            return list(pq.read_schema(fh).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{label}: cannot read {file} as Parquet: {exc}") from None


def _missing(
    columns: dict[str, list[str]], table: str, key: str, wanted: list[str], by_name: bool = True
) -> list[tuple[str, str]]:
    """(key path, message) for each wanted column not in ``table`` (tables that could not be read are skipped)."""
    available = columns.get(table)
    if available is None:
        return []
    return [
        (f"{key}.{column}" if by_name else key, f"column {column!r} is not in {table}{_hint(column, available)}")
        for column in wanted
        if column not in available
    ]


def _hint(column: str, available: list[str]) -> str:
    close = difflib.get_close_matches(column, available, n=1)
    more = f", ... ({len(available) - LISTED_COLUMNS} more)" if len(available) > LISTED_COLUMNS else ""
    return (
        f" (did you mean {close[0]!r}?)" if close else ""
    ) + f"; columns: {', '.join(available[:LISTED_COLUMNS])}{more}"


def _recency_problems(config: ProjectConfig, columns: dict[str, list[str]]) -> list[tuple[str, str]]:
    """A recency column (`by:`) is read from each unify table that has it, so it must be in at least one."""
    unify = config.unify
    tables = [t.table for t in unify.tables]
    if any(t not in columns for t in tables):
        return []  # an unreadable table is reported already; it might hold the column
    merge = unify.merge
    uses = [(f"unify.dedupe[{i}].by", d.by) for i, d in enumerate(unify.dedupe)] + [("unify.merge.by", merge.by)]
    uses += [(f"unify.merge.fields.{name}.by", p.by) for name, p in merge.fields.items()]
    uses += [(f"unify.merge.groups[{g}].by", group.by) for g, group in enumerate(merge.groups)]
    union = list(dict.fromkeys(c for t in tables for c in columns[t]))
    return [
        (key, f"column {column!r} is in none of the unify tables{_hint(column, union)}")
        for key, column in uses
        if column is not None and column not in union
    ]


def _pair_list_problems(config: ProjectConfig) -> list[tuple[str, str]]:
    """always_match / never_match files must start with their header (existence is checked at load)."""
    match = config.unify.match
    if match is None:
        return []
    out = []
    for key, spec in (("always_match", match.always_match), ("never_match", match.never_match)):
        if spec is None or "://" in config.resolve(spec):
            continue
        path = Path(config.resolve(spec))
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            first = next(csv.reader(fh), [])
        if [c.strip() for c in first][:4] != list(PAIR_LIST_HEADER):
            out.append((f"unify.match.{key}", f"{path} must start with the header {','.join(PAIR_LIST_HEADER)}"))
    return out


def _lake_problems(config: ProjectConfig) -> list[tuple[str, str]]:
    """A local lake must be a folder custdim can write in, or create."""
    lake = config.resolve(config.lake)
    if "://" in lake:
        return []  # remote lakes are checked by the run that opens them, with their credentials
    path = Path(lake)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return [("lake", f"cannot create the lake at {path}: {existing} is a file, not a folder")]
    try:
        # Permission bits do not tell (root, read-only mounts, /proc): only writing does.
        with tempfile.TemporaryDirectory(prefix=".custdim-validate-", dir=existing):
            pass
    except OSError as exc:
        return [("lake", f"cannot write the lake at {path}: {exc.strerror or exc}: {existing}")]
    return []
