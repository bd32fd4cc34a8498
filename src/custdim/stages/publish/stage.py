"""Publish the entities as a CDM folder and rebuild the SQL catalog over it.

Layout: export/snapshots/<run_id>/<Entity>/part-*.parquet and <Entity>.cdm.json. The order is what makes a crash
at any instant harmless: (1) copy every entity into the run's snapshot, (2) verify the copies and mark the snapshot
complete, (3) replace export.manifest.cdm.json in one atomic write (the commit), (4) rebuild the SQL catalog from
that manifest, (5) prune old snapshots, never one the manifest or the catalog names. Readers follow the manifest
(the catalog is rebuilt from it when they differ), so they see the previous export or the new one, never half.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

import pyarrow as pa

from custdim import failpoints
from custdim.config.export import KEEP_SNAPSHOTS as DEFAULT_KEEP
from custdim.contracts import (
    ALTERNATE_KEY,
    BRAND_AFFINITY,
    BUSINESS_MEASURE,
    CHURN_PREDICTION,
    CLV_PREDICTION,
    CUSTOMER,
    CUSTOMER_MEASURE,
    CUSTOMER_PROVENANCE,
    EXPORT_ENTITIES,
    EXPORT_MANIFEST,
    ID_CHANGE_LOG,
    INTEREST_AFFINITY,
    MATCH_PAIRS,
    PREDICTION_ENTITIES,
    PRODUCT_RECOMMENDATION,
    SEGMENT_HISTORY,
    SEGMENT_MEMBERSHIP,
    UNIFIED_ACTIVITY,
)
from custdim.errors import StageError
from custdim.lake.cdm import Entity, Manifest, Relationship
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.publish import catalog, snapshots

if TYPE_CHECKING:
    from custdim.lake import Lake

KEYS = {CUSTOMER: "CustomerId", UNIFIED_ACTIVITY: "ActivityId"}
# Both ends of every relationship carry the same CDM type.
GUIDS = frozenset({"CustomerId", "ActivityId"})
DESCRIPTIONS = {
    CUSTOMER: "One row per unified customer profile.",
    ALTERNATE_KEY: "Every source record and the CustomerId it was unified into.",
    MATCH_PAIRS: "Pairs of source records that matched, with the rule and scores.",
    UNIFIED_ACTIVITY: "Customer activities from all activity tables, linked to CustomerId.",
    CUSTOMER_PROVENANCE: "For each unified field, the source record and policy that produced its value.",
    ID_CHANGE_LOG: "Every run's CustomerId events: created, merged, split, records_moved, retired.",
    CUSTOMER_MEASURE: "One row per customer with every customer measure, computed as of the run's as_of date.",
    BUSINESS_MEASURE: "Business measures: one value per measure and group (MeasureName, GroupBy, GroupKey, Value).",
    SEGMENT_MEMBERSHIP: "The customers of every segment (SegmentName, CustomerId).",
    SEGMENT_HISTORY: "Per run and segment: members, and customers added and removed since the previous run.",
    CLV_PREDICTION: "Per customer: BTYD summaries, expected purchases over the horizon, probability alive, expected "
    "purchase value, CLVScore and ValueBand (lake/models/clv.json describes the model).",
    CHURN_PREDICTION: "Per customer with a purchase: ChurnScore (probability of no purchase in the churn window), "
    "IsChurn, RiskBand and the three factors that raised the score most (lake/models/churn.json).",
    BRAND_AFFINITY: "Per customer and brand bought: affinity Score 1-100 (smoothed lift of the customer's spend share "
    "over the population's), Level and Rank.",
    INTEREST_AFFINITY: "Per customer and interest (category) bought: affinity Score 1-100, Level and Rank.",
    PRODUCT_RECOMMENDATION: "Per customer: the recommended products (ProductId, Rank, Score) from item-to-item "
    "co-purchase similarity (lake/models/recommendations.json).",
}
KEEP_SNAPSHOTS = DEFAULT_KEEP


def run(ctx: RunContext, report: StageReport) -> None:
    lake = ctx.lake
    failpoints.reached("publish.start")
    with ctx.steps("publish", len(EXPORT_ENTITIES) + 3) as advance:
        entities, rows = [], {}
        for name in EXPORT_ENTITIES:
            entity, rows[name] = _copy_entity(ctx, name)
            entities.append(entity)
            failpoints.reached(f"publish.copied.{name}")
            advance()
        _verify(ctx, entities, rows)
        relationships = [
            Relationship(e, "CustomerId", CUSTOMER, "CustomerId")
            for e in (
                ALTERNATE_KEY,
                MATCH_PAIRS,
                UNIFIED_ACTIVITY,
                CUSTOMER_PROVENANCE,
                CUSTOMER_MEASURE,
                SEGMENT_MEMBERSHIP,
                *PREDICTION_ENTITIES,
            )
        ]
        doc = Manifest("export", entities, relationships).to_json()
        # The marker keeps the manifest that publishes this snapshot: `custdim export rollback` re-publishes it.
        snapshots.mark_complete(lake, ctx.run_id, rows, doc)
        failpoints.reached("publish.snapshot_complete")
        advance()
        # The commit: until this write, readers keep seeing the previous snapshot.
        lake.write_json(lake.export_manifest(), doc)
        failpoints.reached("publish.manifest_swapped")
        advance()
        catalog.build(lake, doc)
        failpoints.reached("publish.catalog_swapped")
        protected = {ctx.run_id, catalog.catalog_snapshot(lake) or ctx.run_id}
        removed = snapshots.prune(lake, ctx.config.export.keep_snapshots, protected)
        failpoints.reached("publish.pruned")
        advance()
    report.rows_out.update(rows)
    report.details["manifest"] = lake.url("export", EXPORT_MANIFEST)
    report.details["snapshot"] = lake.url("export", "snapshots", ctx.run_id)
    if removed:
        report.details["pruned_snapshots"] = removed


def _copy_entity(ctx: RunContext, name: str) -> tuple[Entity, int]:
    lake, engine = ctx.lake, ctx.engine
    src = lake.entity(name)
    snapshot = posixpath.relpath(lake.snapshot(ctx.run_id), lake.path("export"))
    dest = lake.path("export", snapshot, name)
    lake.remove(dest)
    lake.makedirs(dest)
    locations = []
    for i, f in enumerate(lake.parquet_files(src)):
        lake.fs.copy(f, posixpath.join(dest, f"part-{i:05d}.parquet"))
        locations.append(posixpath.join(snapshot, name, f"part-{i:05d}.parquet"))
    schema: pa.Schema = engine.schema(src)
    entity = Entity.from_arrow(name, schema, key=KEYS.get(name), description=DESCRIPTIONS[name], guids=GUIDS)
    entity.partitions = locations
    entity.schema_folder = snapshot
    lake.write_json(lake.path("export", snapshot, entity.document_name), entity.schema_json())
    return entity, engine.row_count(src)


def _verify(ctx: RunContext, entities: list[Entity], rows: dict[str, int]) -> None:
    """Read back every copied partition's footer: the snapshot holds exactly the rows the run produced."""
    lake, engine = ctx.lake, ctx.engine
    for entity in entities:
        copied = engine.row_count(lake.path("export", entity.schema_folder, entity.name))
        if copied != rows[entity.name]:
            raise StageError(
                f"publish: {entity.name} has {copied} rows in the new snapshot but {rows[entity.name]} in work/; "
                "the snapshot was not published"
            )


def recover(lake: Lake) -> list[str]:
    """Tidy up after killed runs (under the run lock): temp files, incomplete snapshots, a stale catalog."""
    notes = [f"removed leftover file {f}" for f in catalog.remove_leftovers(lake)]
    doc = snapshots.read_manifest(lake)
    published = snapshots.manifest_snapshot(doc) if doc else None
    if doc is not None and catalog.catalog_snapshot(lake) != published:
        catalog.build(lake, doc)
        notes.append(f"rebuilt the SQL catalog for the published snapshot {published}")
    protected = {s for s in (published, catalog.catalog_snapshot(lake)) if s}
    complete = [s for s in snapshots.all_snapshots(lake) if snapshots.is_complete(lake, s)]
    # Prune only what a dead run left half-written here; complete snapshots are pruned by the next publish.
    for snap in snapshots.all_snapshots(lake):
        if snap not in protected and snap not in complete:
            lake.remove(lake.snapshot(snap))
            notes.append(f"removed the incomplete snapshot {snap} of a run that did not finish")
    return notes


def catalog_path(lake: Lake) -> str:
    """Where the logical data warehouse's DuckDB catalog lives."""
    return lake.catalog()


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.export_manifest()]


STAGE = StageSpec("publish", ("segments",), run, outputs, "publish the CDM folder and SQL views")
