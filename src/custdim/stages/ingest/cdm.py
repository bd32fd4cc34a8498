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
from custdim.lake.cdm_read import Entity, Partition, load_entity
from custdim.stages.ingest.landing import Staged, TableRef
from custdim.stages.ingest.readers import REJECT_SCHEMA, ROW, read_table

_AT_LINE = re.compile(r"( at line \d+)")


def stage_cdm_table(ref: TableRef, fs: fsspec.AbstractFileSystem, staging: str) -> Staged:
    """Write the table's rows as Parquet parts under ``staging`` (see :func:`landing.stage_table`)."""
    entity = _entity(ref)
    where = _where(ref, entity)
    names = entity.attribute_names
    parts: list[pa.Table] = []
    rejects: list[pa.Table] = []
    offset = 0
    for partition in _partition_files(entity, where):
        table, bad = _read_partition(ref, entity, partition, names, where)
        table = table.set_column(table.schema.get_field_index(ROW), ROW, pc.add(table[ROW], pa.scalar(offset)))
        offset += table.num_rows
        parts.append(table)
        rejects.append(bad)
    if not parts:
        parts = [pa.table({**{n: pa.array([], pa.string()) for n in names}, ROW: pa.array([], pa.int64())})]
    for i, part in enumerate(_common_schema(parts)):
        with fs.open(f"{staging}/part-{i:05d}.parquet", "wb") as fh:
            pq.write_table(part, fh)
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
    except SourceError as exc:
        key = f"{ref.key}.entity" if "is not in" in str(exc) and "its entities" in str(exc) else manifest_key
        raise SourceError(f"{ref.label}: {key}: {exc}") from None
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


def _shown_location(entity: Entity, partition: Partition) -> str:
    """A partition's file as messages name it: relative to the folder's root when it lies below it."""
    root = entity.root.rstrip("/") + "/"
    return partition.url[len(root) :] if partition.url.startswith(root) else partition.location


def _read_partition(
    ref: TableRef, entity: Entity, partition: Partition, names: list[str], where: str
) -> tuple[pa.Table, pa.Table]:
    """One partition's rows (attribute columns in order, then ``_row`` from 1) and its read-time rejects."""
    shown = _shown_location(entity, partition)
    try:
        fs, path = fsspec.core.url_to_fs(partition.url)
        found = fs.isfile(path)
    except Exception as exc:  # an unknown protocol, a host that does not answer: fsspec raises many kinds
        raise SourceError(f"{where}: cannot reach partition {shown}: {type(exc).__name__}: {exc}") from None
    if not found:
        raise SourceError(f"{where}: partition {shown} not found ({partition.url})")
    if fs.size(path) == 0:
        # Spark and Data Factory write empty part files for empty slices of a table.
        return pa.table({**{n: pa.nulls(0, pa.null()) for n in names}, ROW: pa.array([], pa.int64())}), _no_rejects()
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


def _no_rejects() -> pa.Table:
    return REJECT_SCHEMA.empty_table()


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


def _common_schema(parts: list[pa.Table]) -> list[pa.Table]:
    """The parts cast to one schema: DuckDB reads the staging folder as one table.

    A column typed differently in different partitions (a Parquet number and CSV text) becomes text in every
    part; its declared type then parses it back, so no value is rounded on the way (as a numeric promotion of
    int64 to double could).
    """
    fields = []
    for i, name in enumerate(parts[0].column_names):
        types = {p.schema.field(i).type for p in parts} - {pa.null()}
        target = types.pop() if len(types) == 1 else pa.string()
        fields.append(pa.field(name, target))
    schema = pa.schema(fields)
    try:
        return [p.cast(schema) for p in parts]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceError(f"partitions of one entity hold columns of types that cannot be reconciled: {exc}") from None
