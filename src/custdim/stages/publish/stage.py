"""Publish the entities as a CDM folder and rebuild the SQL catalog over it.

Layout: export/snapshots/<run_id>/<Entity>/part-*.parquet and <Entity>.cdm.json, then export.manifest.cdm.json
replaced in one atomic write. Readers follow the manifest, so a failed or killed run leaves the previous snapshot
fully visible and never a half-written one. Older snapshots are pruned, keeping the newest few.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

import pyarrow as pa

from custdim.lake.cdm import Entity, Manifest, Relationship
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.publish.views import derived_views

if TYPE_CHECKING:
    from custdim.lake import Lake

ENTITIES = ("Customer", "AlternateKey", "MatchPairs", "UnifiedActivity", "CustomerProvenance", "IdChangeLog")
KEYS = {"Customer": "CustomerId", "UnifiedActivity": "ActivityId"}
# Both ends of every relationship carry the same CDM type.
GUIDS = frozenset({"CustomerId", "ActivityId"})
DESCRIPTIONS = {
    "Customer": "One row per unified customer profile.",
    "AlternateKey": "Every source record and the CustomerId it was unified into.",
    "MatchPairs": "Pairs of source records that matched, with the rule and scores.",
    "UnifiedActivity": "Customer activities from all activity tables, linked to CustomerId.",
    "CustomerProvenance": "For each unified field, the source record and policy that produced its value.",
    "IdChangeLog": "Every run's CustomerId events: created, merged, split, records_moved, retired.",
}
MANIFEST = "export.manifest.cdm.json"
KEEP_SNAPSHOTS = 3


def run(ctx: RunContext, report: StageReport) -> None:
    lake, engine = ctx.lake, ctx.engine
    snapshot = posixpath.join("snapshots", ctx.run_id)
    entities: list[Entity] = []
    schemas: dict[str, pa.Schema] = {}
    with ctx.steps("publish", len(ENTITIES) + 1) as advance:
        for name in ENTITIES:
            src = lake.entity(name)
            dest = lake.path("export", snapshot, name)
            lake.makedirs(dest)
            locations = []
            for i, f in enumerate(lake.parquet_files(src)):
                target = posixpath.join(dest, f"part-{i:05d}.parquet")
                lake.fs.copy(f, target)
                locations.append(posixpath.join(snapshot, name, f"part-{i:05d}.parquet"))
            schemas[name] = engine.schema(src)
            entity = Entity.from_arrow(
                name, schemas[name], key=KEYS.get(name), description=DESCRIPTIONS[name], guids=GUIDS
            )
            entity.partitions = locations
            entity.schema_folder = snapshot
            lake.write_json(lake.path("export", snapshot, entity.document_name), entity.schema_json())
            entities.append(entity)
            report.rows_out[name] = engine.row_count(src)
            advance()
        relationships = [
            Relationship(e, "CustomerId", "Customer", "CustomerId")
            for e in ("AlternateKey", "MatchPairs", "UnifiedActivity", "CustomerProvenance")
        ]
        manifest = Manifest("export", entities, relationships)
        # The swap: until this write, readers keep seeing the previous snapshot.
        lake.write_json(lake.path("export", MANIFEST), manifest.to_json())
        report.details["manifest"] = lake.url("export", MANIFEST)
        report.details["snapshot"] = lake.url("export", snapshot)
        _prune(ctx, keep=ctx.run_id)
        advance()
    _build_catalog(ctx, entities, schemas)


def _prune(ctx: RunContext, keep: str) -> None:
    lake = ctx.lake
    root = lake.path("export", "snapshots")
    snaps = sorted(p for p in lake.fs.ls(root, detail=False))
    old = [p for p in snaps if posixpath.basename(p) != keep][: max(0, len(snaps) - KEEP_SNAPSHOTS)]
    for p in old:
        lake.remove(p)


def _build_catalog(ctx: RunContext, entities: list[Entity], schemas: dict[str, pa.Schema]) -> None:
    from custdim.engines.duckdb_catalog import write_catalog

    lake = ctx.lake
    files = {e.name: [lake.url("export", loc) for loc in e.partitions] for e in entities}
    write_catalog(catalog_path(ctx.lake), files, derived_views(schemas))


def catalog_path(lake: Lake) -> str:
    """Where the logical data warehouse's DuckDB catalog lives."""
    return lake.path("_ldw", "catalog.duckdb")


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.path("export", MANIFEST)]


STAGE = StageSpec("publish", ("activities",), run, outputs, "publish the CDM folder and SQL views")
