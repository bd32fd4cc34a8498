"""The SQL catalog follows the published manifest: built from it, and rebuilt whenever it no longer matches.

The manifest is the one commit point of a publish. The catalog (views over the snapshot the manifest names) is
derived from it, records which snapshot and which lake folder it was built for, and is rebuilt when either
differs: after a crash between the manifest swap and the catalog swap, and when the project was copied or moved
(its views would otherwise read another project's lake, or nothing).
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from custdim.errors import StageError
from custdim.lake.cdm import manifest_from_json
from custdim.stages.publish.formats import format_of, read_schema
from custdim.stages.publish.snapshots import manifest_snapshot, read_manifest
from custdim.stages.publish.views import derived_views

if TYPE_CHECKING:
    import pyarrow as pa

    from custdim.lake import Lake


def _expected(lake: Lake, snapshot: str) -> dict[str, str]:
    return {"snapshot": snapshot, "export": lake.url("export")}


def build(lake: Lake, doc: dict[str, object]) -> None:
    """Write the catalog for the snapshot a manifest document publishes."""
    from custdim.engines.duckdb_catalog import write_catalog

    snapshot = manifest_snapshot(doc)
    if snapshot is None:
        raise StageError(f"the published manifest {lake.export_manifest()} names no snapshot partitions")
    _, entities = manifest_from_json(doc)
    files = {name: [lake.url("export", loc) for loc in locations] for name, _, locations in entities}
    schemas, kinds = entity_schemas(lake, doc)
    fs = None if lake.is_local else lake.fs
    write_catalog(lake.catalog(), files, derived_views(schemas), _expected(lake, snapshot), schemas, kinds, fs)


def readable(lake: Lake) -> None:
    """Let this process's catalog connections read the lake's files (a cloud lake's views read through fsspec)."""
    if not lake.is_local:
        from custdim.engines.duckdb_reader import use_filesystem

        use_filesystem(lake.fs)


def entity_schemas(lake: Lake, doc: dict[str, object]) -> tuple[dict[str, pa.Schema], dict[str, str]]:
    """The Arrow schema readers see for each entity of a manifest document, and its file format (parquet, csv)."""
    schemas: dict[str, pa.Schema] = {}
    kinds: dict[str, str] = {}
    for name, _, locations in manifest_from_json(doc)[1]:
        if not locations:
            raise StageError(f"entity {name} of the published manifest has no data partitions")
        kinds[name] = format_of(locations[0])
        schemas[name] = read_schema(lake, [lake.path("export", locations[0])], kinds[name])
    return schemas, kinds


def ensure(lake: Lake) -> str:
    """The catalog file, rebuilt first if it does not match the published manifest or the lake's location."""
    from custdim.engines.duckdb_catalog import catalog_info

    readable(lake)
    doc = read_manifest(lake)
    if doc is None:
        raise StageError("nothing is published yet: run `custdim run` first")
    snapshot = manifest_snapshot(doc)
    if snapshot is None or catalog_info(lake.catalog(), [lake.url("export")]) != _expected(lake, snapshot):
        build(lake, doc)
    return lake.catalog()


def catalog_snapshot(lake: Lake) -> str | None:
    """The snapshot the catalog's views read (None without a usable catalog)."""
    from custdim.engines.duckdb_catalog import catalog_info

    info = catalog_info(lake.catalog(), [lake.url("export")])
    return info.get("snapshot") if info else None


def remove_leftovers(lake: Lake) -> list[str]:
    """Delete temporary files of killed publishes: catalog builds and half-written JSON documents."""
    from custdim.engines.duckdb_catalog import leftover_files

    removed = []
    for f in leftover_files(posixpath.dirname(lake.catalog())):
        f.unlink(missing_ok=True)
        removed.append(f.name)
    for zone in ("raw", "export", "_runs", "work"):
        root = lake.path(zone)
        if lake.exists(root):
            for f in lake.fs.find(root):
                if ".tmp-" in posixpath.basename(f):
                    lake.remove(f)
                    removed.append(posixpath.basename(f))
    return removed
