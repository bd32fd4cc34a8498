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
    EXPORT_MANIFEST,
    ID_CHANGE_LOG,
    INTEREST_AFFINITY,
    MATCH_PAIRS,
    MODEL_JSON,
    PREDICTION_ENTITIES,
    PRODUCT_RECOMMENDATION,
    SEGMENT_HISTORY,
    SEGMENT_MEMBERSHIP,
    STATE_ENTITIES,
    UNIFIED_ACTIVITY,
)
from custdim.errors import StageError
from custdim.lake.cdm import Entity, Manifest, Relationship, model_json
from custdim.report import StageReport
from custdim.semantic.types import CDM_TRAITS
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.publish import catalog, formats, pseudonym, snapshots

if TYPE_CHECKING:
    from custdim.lake import Lake

KEYS = {CUSTOMER: "CustomerId", UNIFIED_ACTIVITY: "ActivityId"}
SORT_KEY = "CustomerId"
"""Exported entities with this column are written ordered by it."""
ROW_GROUP_ROWS = 100_000
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
    lake, config = ctx.lake, ctx.config
    names = config.exported_entities()
    hashed = pseudonym.columns(config)
    key = pseudonym.load_key(config) if hashed else b""
    failpoints.reached("publish.start")
    with ctx.steps("publish", len(names) + 3) as advance:
        entities, rows = [], {}
        for name in names:
            entity, rows[name] = _write_entity(ctx, name, hashed.get(name, []), key)
            entities.append(entity)
            failpoints.reached(f"publish.copied.{name}")
            advance()
        _keep_state(ctx, names)
        relationships = [
            Relationship(e.name, "CustomerId", CUSTOMER, "CustomerId") for e in entities if e.name in RELATED
        ]
        manifest = Manifest("export", entities, relationships)
        doc = manifest.to_json()
        legacy = model_json(manifest, _model_json_location(lake))
        # The marker keeps the documents that publish this snapshot: `custdim export rollback` re-publishes them.
        snapshots.mark_complete(lake, ctx.run_id, rows, doc, legacy)
        failpoints.reached("publish.snapshot_complete")
        advance()
        # The commit: until this write, readers keep seeing the previous snapshot.
        lake.write_json(lake.export_manifest(), doc)
        failpoints.reached("publish.manifest_swapped")
        snapshots.write_model_json(lake, legacy)
        advance()
        catalog.build(lake, doc)
        failpoints.reached("publish.catalog_swapped")
        protected = {
            ctx.run_id,
            catalog.catalog_snapshot(lake) or ctx.run_id,
            snapshots.model_json_snapshot(lake) or ctx.run_id,
        }
        removed = snapshots.prune(lake, config.export.keep_snapshots, protected)
        failpoints.reached("publish.pruned")
        advance()
    report.rows_out.update(rows)
    report.details["manifest"] = lake.url("export", EXPORT_MANIFEST)
    report.details["model_json"] = lake.url("export", MODEL_JSON)
    report.details["snapshot"] = lake.url("export", "snapshots", ctx.run_id)
    report.details["format"] = config.export.format
    if hashed:
        report.details["pseudonymized"] = {name: cols for name, cols in hashed.items() if name in names}
    if removed:
        report.details["pruned_snapshots"] = removed


# Every entity with a CustomerId relates to Customer (the CDM folder's relationships).
RELATED = frozenset(
    {
        ALTERNATE_KEY,
        MATCH_PAIRS,
        UNIFIED_ACTIVITY,
        CUSTOMER_PROVENANCE,
        CUSTOMER_MEASURE,
        SEGMENT_MEMBERSHIP,
        *PREDICTION_ENTITIES,
    }
)


def _model_json_location(lake: Lake) -> str:
    return lake.path("export") if lake.is_local else lake.url("export")


def _attribute_notes(ctx: RunContext, name: str, hashed: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Semantic traits and descriptions of an entity's columns (Customer's follow the unify mapping)."""
    notes = {c: f"HMAC-SHA256 pseudonym (hex) of the {c} value (export.pseudonymize)" for c in hashed}
    if name != CUSTOMER:
        return {}, notes
    merge = ctx.config.unify.merge
    traits = {
        merge.rename.get(f, f): CDM_TRAITS[t]
        for f, t in ctx.config.unify.field_types().items()
        if t in CDM_TRAITS and merge.rename.get(f, f) not in hashed
    }
    return traits, notes


def _write_entity(ctx: RunContext, name: str, hashed: list[str], key: bytes) -> tuple[Entity, int]:
    lake, engine = ctx.lake, ctx.engine
    fmt = ctx.config.export.format
    src = lake.entity(name)
    snapshot = posixpath.relpath(lake.snapshot(ctx.run_id), lake.path("export"))
    source_schema: pa.Schema = engine.schema(src)
    present = [c for c in hashed if c in source_schema.names]
    transform = pseudonym.transform(key, present) if present else None
    schema = pseudonym.hashed_schema(source_schema, present) if present else source_schema
    sources = lake.parquet_files(src)
    staged = lake.work_table("_publish", name)
    # Sorted by CustomerId in bounded row groups, a lookup of one customer (the SQL endpoint, BI tools, the web app)
    # reads a row group or two instead of the whole column (bench/results/export.md). Engines that cannot sort
    # cheaply (Spark) publish the work zone's files as they are.
    if SORT_KEY in source_schema.names and engine.write_sorted(engine.read(src), staged, SORT_KEY, ROW_GROUP_ROWS):
        sources = lake.parquet_files(staged)
    try:
        written = formats.write_entity(lake, sources, schema, lake.path("export", snapshot, name), fmt, transform)
    finally:
        lake.remove(staged)
    traits, notes = _attribute_notes(ctx, name, present)
    entity = Entity.from_arrow(
        name,
        written.schema,
        key=KEYS.get(name),
        description=DESCRIPTIONS[name],
        guids=GUIDS,
        traits=traits,
        notes=notes,
    )
    entity.partitions = [posixpath.relpath(f, lake.path("export")) for f in written.files]
    entity.schema_folder = snapshot
    entity.partition_format = "csv" if fmt == "csv" else "parquet"
    expected = engine.row_count(src)
    _verify(lake, name, written, fmt, expected)
    lake.write_json(lake.path("export", snapshot, entity.document_name), entity.schema_json())
    return entity, expected


def _verify(lake: Lake, name: str, written: formats.Written, fmt: str, expected: int) -> None:
    """Read back what was written: the snapshot holds exactly the rows and columns the run produced."""
    copied = formats.count_rows(lake, written.files, fmt)
    if copied != expected:
        raise StageError(
            f"publish: {name} has {copied} rows in the new snapshot but {expected} in work/; "
            "the snapshot was not published"
        )
    found = formats.read_schema(lake, written.files, fmt).names
    if found != written.schema.names:
        raise StageError(
            f"publish: {name} in the new snapshot has the columns {', '.join(found)}, expected "
            f"{', '.join(written.schema.names)}; the snapshot was not published"
        )


def _keep_state(ctx: RunContext, names: list[str]) -> None:
    """Keep the entities the next run reads back (id and segment history) as Parquet in the snapshot even when the
    export holds them as CSV or not at all: CustomerIds must stay stable whatever the export's settings are."""
    lake = ctx.lake
    for name in STATE_ENTITIES:
        if name in names and ctx.config.export.format != "csv":
            continue  # its exported Parquet files are the state
        dest = snapshots.state_folder(lake, ctx.run_id, name)
        lake.remove(dest)
        lake.makedirs(dest)
        for i, f in enumerate(lake.parquet_files(lake.entity(name))):
            lake.fs.copy(f, posixpath.join(dest, f"part-{i:05d}.parquet"))


def recover(lake: Lake) -> list[str]:
    """Tidy up after killed runs (under the run lock): temp files, incomplete snapshots, a stale catalog."""
    notes = [f"removed leftover file {f}" for f in catalog.remove_leftovers(lake)]
    staged = lake.work_table("_publish")
    if lake.exists(staged):
        lake.remove(staged)  # sorted copies a killed publish was writing
        notes.append("removed the sorted copies of a publish that did not finish")
    doc = snapshots.read_manifest(lake)
    published = snapshots.manifest_snapshot(doc) if doc else None
    if doc is not None and catalog.catalog_snapshot(lake) != published:
        catalog.build(lake, doc)
        notes.append(f"rebuilt the SQL catalog for the published snapshot {published}")
    if published and snapshots.sync_model_json(lake, published, snapshots.legacy_document(lake, published)):
        notes.append(f"rewrote model.json for the published snapshot {published}")
    protected = {s for s in (published, catalog.catalog_snapshot(lake), snapshots.model_json_snapshot(lake)) if s}
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
