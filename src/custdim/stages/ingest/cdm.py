"""Land the tables of a ``type: cdm`` source: one entity of a CDM folder per table.

Column names and types come from the entity's metadata, never from the data: CSV partitions are read as text
and the ingest stage applies the attribute types strictly (a value that does not fit is rejected with the
reason). Partitions are read in manifest order, the files of a partition pattern sorted by path, and each
partition is staged as one Parquet part.
"""

from __future__ import annotations

import re

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from custdim.config.sources import CdmSource, CdmTable, FileTable
from custdim.errors import SourceError
from custdim.lake.cdm_read import Entity, Partition, UnknownEntityError, load_entity
from custdim.stages.ingest.landing import Staged, TableRef
from custdim.stages.ingest.readers import REJECT_SCHEMA, ROW, read_table

_AT_LINE = re.compile(r"( at line \d+)")


def stage_cdm_table(ref: TableRef, fs: fsspec.AbstractFileSystem, staging: str) -> Staged:
    """Write the table's rows as Parquet parts under ``staging`` (see :func:`landing.stage_table`)."""
    entity = _entity(ref)
    where = _where(ref, entity)
    names = entity.attribute_names
    partitions = _partition_files(entity, where)
    # Fixed before any partition is read, so that each is written as soon as it is read.
    schema = _staged_schema(entity, partitions, where)
    rejects: list[pa.Table] = []
    offset = 0
    for i, partition in enumerate(partitions):
        table, bad = _read_partition(ref, entity, partition, names, where)
        table = table.set_column(table.schema.get_field_index(ROW), ROW, pc.add(table[ROW], pa.scalar(offset)))
        offset += table.num_rows
        _write(fs, f"{staging}/part-{i:05d}.parquet", table, schema, f"{where}: partition {_shown(entity, partition)}")
        rejects.append(bad)
    if not partitions:
        _write(fs, f"{staging}/part-00000.parquet", schema.empty_table(), schema, where)
    staged_rejects = pa.concat_tables(rejects) if rejects else REJECT_SCHEMA.empty_table()
    return Staged(offset, staged_rejects, [*names, ROW], entity.declared_types())


def probe_cdm_columns(ref: TableRef) -> tuple[list[str], str]:
    """The columns the table will land, from the metadata alone (no partition is read), and a note."""
    entity = _entity(ref)
    counts = [f"{len(entity.partitions)} partition{'s' if len(entity.partitions) != 1 else ''}"]
    if entity.patterns:
        counts.append(f"{len(entity.patterns)} partition pattern{'s' if len(entity.patterns) != 1 else ''}")
    note = f"{ref.label}: CDM entity {entity.name}, {', '.join(counts)}, {len(entity.attributes)} attributes"
    return entity.attribute_names, note


def _entity(ref: TableRef) -> Entity:
    source, table = ref.source, ref.table
    assert isinstance(source, CdmSource) and isinstance(table, CdmTable)
    manifest_key = ref.key.rsplit(".tables[", 1)[0] + ".manifest"
    try:
        entity = load_entity(ref.config.resolve(source.manifest), table.entity_name)
    except UnknownEntityError as exc:
        raise SourceError(f"{ref.label}: {ref.key}.entity: {exc}") from None
    except SourceError as exc:
        raise SourceError(f"{ref.label}: {manifest_key}: {exc}") from None
    if not entity.attributes:
        raise SourceError(f"{ref.label}: {ref.key}: CDM entity {entity.name!r} declares no attributes")
    dupes = sorted({n for n in entity.attribute_names if entity.attribute_names.count(n) > 1})
    if dupes:
        raise SourceError(f"{ref.label}: {ref.key}: CDM entity {entity.name!r} repeats attributes: {dupes}")
    return entity


def _where(ref: TableRef, entity: Entity) -> str:
    return f"{ref.label}: CDM entity {entity.name!r}"


def _partition_files(entity: Entity, where: str) -> list[Partition]:
    """Explicit partitions in manifest order, then each pattern's files sorted by path (each file once)."""
    found = list(entity.partitions)
    for pattern in entity.patterns:
        found += pattern.files(where)
    seen: set[str] = set()
    out = []
    for p in found:
        if p.url not in seen:
            seen.add(p.url)
            out.append(p)
    return out


def _locate(entity: Entity, partition: Partition, where: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The partition's file system and path; SourceError when the file is not there."""
    try:
        fs, path = fsspec.core.url_to_fs(partition.url)
        found = fs.isfile(path)
    except Exception as exc:  # an unknown protocol, a host that does not answer: fsspec raises many kinds
        msg = f"cannot reach partition {_shown(entity, partition)}: {type(exc).__name__}: {exc}"
        raise SourceError(f"{where}: {msg}") from None
    if not found:
        raise SourceError(f"{where}: partition {_shown(entity, partition)} not found ({partition.url})")
    return fs, path


def _shown(entity: Entity, partition: Partition) -> str:
    """A partition's file as messages name it: relative to the folder's root when it lies below it."""
    root = entity.root.rstrip("/") + "/"
    return partition.url[len(root) :] if partition.url.startswith(root) else partition.location


def _read_partition(
    ref: TableRef, entity: Entity, partition: Partition, names: list[str], where: str
) -> tuple[pa.Table, pa.Table]:
    """One partition's rows (attribute columns in order, then ``_row`` from 1) and its read-time rejects."""
    shown = _shown(entity, partition)
    fs, path = _locate(entity, partition, where)
    if fs.size(path) == 0:
        # Spark and Data Factory write empty part files for empty slices of a table.
        empty = pa.table({**{n: pa.nulls(0, pa.null()) for n in names}, ROW: pa.array([], pa.int64())})
        return empty, REJECT_SCHEMA.empty_table()
    csv = partition.format.csv
    try:
        spec = FileTable(
            name=ref.table.name,
            path=partition.url,
            format="parquet" if partition.format.kind == "parquet" else "csv",
            primary_key=ref.table.primary_key,
            header=csv.header if csv else True,
            column_names=None if csv is None or csv.header else names,
            delimiter=csv.delimiter if csv else ",",
            quote=csv.quote if csv else '"',
            encoding=csv.encoding if csv else "utf-8",
        )
    except ValidationError as exc:  # a multi-character delimiter, an unknown encoding
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SourceError(f"{where}: partition {shown}: unsupported CSV settings: {problems}") from None
    result = read_table(partition.url, spec, f"{where}: partition {shown}")
    table = _conform(result.table, names, f"{where}: partition {shown}")
    bad = result.rejects_table()
    if bad.num_rows:
        reasons = [_AT_LINE.sub(rf"\1 of partition {shown}", r, count=1) for r in bad["_reason"].to_pylist()]
        bad = bad.set_column(bad.schema.get_field_index("_reason"), "_reason", pa.array(reasons, pa.string()))
    return table, bad


def _conform(table: pa.Table, names: list[str], where: str) -> pa.Table:
    """The entity's attributes in order: a partition may lack some (older files), never hold others."""
    present = [c for c in table.column_names if c != ROW]
    extra = [c for c in present if c not in names]
    if extra:
        raise SourceError(
            f"{where}: columns {extra} are not attributes of the entity; its attributes: {', '.join(names)}"
        )
    columns = [table[n] if n in present else pa.nulls(table.num_rows, pa.null()) for n in names]
    return pa.table([*columns, table[ROW]], names=[*names, ROW])


def _staged_schema(entity: Entity, partitions: list[Partition], where: str) -> pa.Schema:
    """One schema for every part: DuckDB reads the staging folder as one table.

    CSV columns are text; Parquet columns keep their stored type. A column typed differently in different
    partitions (a Parquet number and CSV text) is text in every part, and its declared type parses it back, so no
    value is rounded on the way (as promoting int64 to double could).
    """
    types: dict[str, set[pa.DataType]] = {n: set() for n in entity.attribute_names}
    for partition in partitions:
        if partition.format.kind != "parquet":
            for found in types.values():
                found.add(pa.string())
            continue
        fs, path = _locate(entity, partition, where)
        if fs.size(path) == 0:
            continue
        try:
            with fs.open(path, "rb") as fh:
                stored = pq.read_schema(fh)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"{where}: cannot read partition {_shown(entity, partition)} as Parquet: {exc}") from None
        for name, found in types.items():
            if name in stored.names:
                found.add(stored.field(name).type)
    fields = [pa.field(n, found.pop() if len(found) == 1 else pa.string()) for n, found in types.items()]
    return pa.schema([*fields, pa.field(ROW, pa.int64())])


def _write(fs: fsspec.AbstractFileSystem, path: str, table: pa.Table, schema: pa.Schema, where: str) -> None:
    try:
        table = table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceError(f"{where}: its columns do not fit the other partitions' types: {exc}") from None
    with fs.open(path, "wb") as fh:
        pq.write_table(table, fh)
