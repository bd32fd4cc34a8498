"""Stage one source table as Parquet parts, whatever kind of source it comes from.

Every kind of source (files, a database, a CDM folder) lands the same way: its rows are written as Parquet parts
under a staging folder with the row number column ``_row`` (1-based, in reading order), and what could not be read
at all comes back as read-time rejects. The ingest stage then applies declared types, keys and rejects to the
staged table with the engine, identically for every kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from custdim.config.project import ProjectConfig
from custdim.config.sources import CdmSource, FilesSource, FileTable, Source, SourceTable, SqlSource
from custdim.stages.ingest.changes import Group
from custdim.stages.ingest.readers import REJECT_SCHEMA

if TYPE_CHECKING:
    from custdim.stages.ingest.streaming import EngineCsv, EngineTasks


@dataclass(frozen=True)
class Staged:
    """What staging one table produced."""

    rows: int  # rows written to the staging folder
    rejects: pa.Table  # rows that could not be read at all (REJECT_SCHEMA), not in the staging folder
    columns: list[str]  # staged columns, ``_row`` included
    # Types the source itself declares (a CDM folder's attribute types), applied like the project file's
    # ``columns:``, which override them.
    declared: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableRef:
    """A source table with where the project file defines it, for errors that name the key."""

    config: ProjectConfig
    source: Source
    table: SourceTable
    key: str  # sources[0].tables[1]

    @property
    def label(self) -> str:
        return f"{self.source.name}.{self.table.name}"


def stage_table(
    ref: TableRef,
    fs: fsspec.AbstractFileSystem,
    staging: str,
    groups: list[Group] | None = None,
    since: object = None,
    engine_csv: EngineCsv | None = None,
    engine_tasks: EngineTasks | None = None,
) -> Staged:
    """Write ``ref``'s rows as Parquet parts under the (existing, empty) folder ``staging`` of ``fs``.

    ``groups``: of a change folder, only these (the hours a run has not applied yet). ``since``: of a database
    table with a cursor, only rows whose cursor is at least this. ``engine_csv``, ``engine_tasks``: the engine's own
    reader for large CSV files and its workers for large Parquet files (:meth:`custdim.engines.base.Engine.land_csv`,
    :meth:`~custdim.engines.base.Engine.run_tasks`)."""
    source = ref.source
    if isinstance(source, SqlSource):
        from custdim.stages.ingest.sql import stage_sql_table

        return stage_sql_table(ref, fs, staging, since)
    if isinstance(source, CdmSource):
        from custdim.stages.ingest.cdm import stage_cdm_table

        return stage_cdm_table(ref, fs, staging)
    assert isinstance(source, FilesSource)
    return stage_files_table(ref, fs, staging, groups, engine_csv, engine_tasks)


def stage_files_table(
    ref: TableRef,
    fs: fsspec.AbstractFileSystem,
    staging: str,
    groups: list[Group] | None = None,
    engine_csv: EngineCsv | None = None,
    engine_tasks: EngineTasks | None = None,
) -> Staged:
    """A ``type: files`` table: large CSV files streamed block by block, Parquet row group by row group."""
    from custdim.stages.ingest.streaming import land_files

    table = ref.table
    assert isinstance(table, FileTable)
    url = ref.config.resolve(table.path)
    landed = land_files(url, table, ref.label, ref.key, fs, staging, groups, engine_csv, engine_tasks)
    return Staged(landed.rows, pa.Table.from_pylist(landed.rejects, schema=REJECT_SCHEMA), landed.columns)


def empty_rejects() -> pa.Table:
    """No read-time rejects."""
    return REJECT_SCHEMA.empty_table()


def probe_columns(ref: TableRef) -> tuple[list[str], str] | None:
    """For `custdim validate`: the columns a database or CDM table will land, read cheaply, and a note.

    None for ``type: files`` tables, which the validator probes itself. Raises SourceError when the table cannot
    be reached or read.
    """
    if isinstance(ref.source, SqlSource):
        from custdim.stages.ingest.sql import probe_sql_columns

        return probe_sql_columns(ref)
    if isinstance(ref.source, CdmSource):
        from custdim.stages.ingest.cdm import probe_cdm_columns

        return probe_cdm_columns(ref)
    return None


def read_source_table(config: ProjectConfig, qualified: str) -> pa.Table:
    """A whole source table ('<source>.<table>') as read, before types and keys are applied (for suggestions)."""
    import tempfile

    for key, source, table in config.iter_tables():
        if f"{source.name}.{table.name}" == qualified:
            with tempfile.TemporaryDirectory(prefix="custdim-read-") as tmp:
                stage_table(TableRef(config, source, table, key), fsspec.filesystem("file"), tmp)
                return pq.read_table(tmp)
    raise KeyError(qualified)
