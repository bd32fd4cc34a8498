"""Land the tables of a `type: sql` source (to be built; see the ingest landing contract)."""

from __future__ import annotations

import fsspec

from custdim.stages.ingest.landing import Staged, TableRef


def stage_sql_table(ref: TableRef, fs: fsspec.AbstractFileSystem, staging: str) -> Staged:
    """Write the table's rows as Parquet parts under ``staging`` (see :func:`landing.stage_table`)."""
    raise NotImplementedError


def probe_sql_columns(ref: TableRef) -> tuple[list[str], str]:
    """The columns the table will land, read cheaply, and a note for `custdim validate`."""
    raise NotImplementedError
