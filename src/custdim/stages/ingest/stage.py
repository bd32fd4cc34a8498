"""The ingest stage: every source table lands under raw/<source>/<table>/ with a CDM manifest for raw/."""

from __future__ import annotations

import functools
from collections import Counter

import ibis.expr.types as ir

from custdim.config.sources import FileTable, SqlTable
from custdim.contracts import INGEST_STAGING, RAW_MANIFEST
from custdim.engines.base import Engine
from custdim.errors import ConfigError, SourceError
from custdim.lake.cdm import Entity, Manifest
from custdim.report import StageReport, now_iso
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.ingest import changes as change_state
from custdim.stages.ingest.landing import TableRef, stage_table
from custdim.stages.ingest.readers import ROW
from custdim.stages.ingest.validate import check_table

REASON_KINDS = (
    ("malformed", "malformed"),
    ("undecodable", "encoding"),
    ("duplicate primary key", "duplicate_key"),
    ("primary key", "null_key"),
    ("column", "bad_value"),
)


def reason_kind(reason: str) -> str:
    """Group reject reasons into the counters the run report shows."""
    return next((kind for prefix, kind in REASON_KINDS if reason.startswith(prefix)), "other")


def run(ctx: RunContext, report: StageReport) -> None:
    config, lake, engine = ctx.config, ctx.lake, ctx.engine
    entities: list[Entity] = []
    ingested_at = now_iso().replace("+00:00", "")
    tables = list(config.iter_tables())
    with ctx.steps("ingest", len(tables)) as advance:
        for key, source, table in tables:
            label = f"{source.name}.{table.name}"
            raw_path = lake.raw_table(source.name, table.name)
            rejects_path = lake.rejects_table(source.name, table.name)
            plan = modified = since = None
            if isinstance(table, FileTable) and table.incremental is not None:
                modified = table.incremental.modified
                plan = _change_plan(ctx, source.name, table, key, label, raw_path)
            elif isinstance(table, SqlTable) and table.incremental is not None:
                modified = table.incremental.cursor
                plan = change_state.cursor_plan(
                    lake, source.name, table.name, lake.has_table(raw_path), change_state.settings_digest(table)
                )
            base = earlier_rejects = None
            if plan is not None and plan.incremental and isinstance(table, SqlTable) and modified is not None:
                base = engine.materialize(f"ingest/{label}/landed", engine.read(raw_path))
                since = engine.to_arrow(base.aggregate(m=base[modified].max()))["m"][0].as_py()
                if lake.has_table(rejects_path):
                    earlier_rejects = engine.materialize(f"ingest/{label}/rejects", engine.read(rejects_path))
                plan = change_state.Plan([], True, f"rows with {modified} >= {since}", [])
            elif plan is not None and plan.incremental:
                if not plan.groups:  # nothing new in the change folder: the landed table stands as it is
                    _unchanged(ctx, report, label, raw_path, plan.reason)
                    entities.append(_entity(ctx, source.name, table.name, raw_path))
                    advance()
                    continue
                # Kept in the engine: the landed table is replaced below by a table computed from it.
                base = engine.materialize(f"ingest/{label}/landed", engine.read(raw_path))
                if lake.has_table(rejects_path):
                    earlier_rejects = engine.materialize(f"ingest/{label}/rejects", engine.read(rejects_path))
            staging = lake.work_table(*INGEST_STAGING, source.name, table.name)
            lake.remove(staging)
            lake.makedirs(staging)
            groups = plan.groups if plan is not None and isinstance(table, FileTable) else None
            ref = TableRef(config, source, table, key)
            staged = stage_table(
                ref, lake.fs, staging, groups, since, engine_csv=engine.land_csv, engine_tasks=engine.run_tasks
            )
            declared = {**staged.declared, **table.columns}
            _check_columns(config.file, key, label, staged.columns, table.primary_key, table.columns)

            checked = check_table(
                engine.read(staging),
                table.primary_key,
                declared,
                ctx.run_id,
                ingested_at,
                modified,
                base,
                keep=functools.partial(_keep, engine, label),
            )
            if checked.trimmed_keys is not None:
                trimmed = int(engine.to_arrow(checked.trimmed_keys)["n"][0].as_py() or 0)
                if trimmed:
                    report.warn(
                        f"{label}: {trimmed} {table.primary_key!r} values had surrounding whitespace, trimmed "
                        "(a key equal to another one after trimming is rejected as a duplicate)"
                    )
            counts = engine.to_arrow(checked.changes).to_pylist()[0] if checked.changes is not None else None
            landed = engine.write(checked.good, raw_path)
            rejects = checked.rejects
            if staged.rejects.num_rows:
                rejects = rejects.union(engine.from_arrow(staged.rejects))
            reasons = engine.to_arrow(rejects.select("_reason"))["_reason"].to_pylist()
            rejected = len(reasons)
            # Rejects of hours applied by earlier runs stay beside this run's.
            kept = rejects.union(earlier_rejects) if earlier_rejects is not None else rejects
            if not engine.write(kept, rejects_path):
                lake.remove(rejects_path)
            if rejected:
                kinds = Counter(reason_kind(r) for r in reasons)
                for kind, n in sorted(kinds.items()):
                    report.rejected[f"{label}.{kind}"] = n
                report.warn(
                    f"{label}: {rejected} rows rejected ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))});"
                    f" see {rejects_path}"
                )
            report.rows_in[label] = staged.rows + staged.rejects.num_rows
            if counts is not None and plan is not None:
                # Rows in + carried = landed + rejected + superseded + deleted: nothing replaced is unaccounted.
                changes: dict[str, object] = {k: int(v or 0) for k, v in counts.items()}
                if isinstance(table, SqlTable):
                    changes["read"] = "changed rows only" if plan.incremental else "whole table"
                else:
                    changes["read"] = "new hours only" if plan.incremental else "whole folder"
                changes["why"] = plan.reason
                report.details.setdefault("changes", {})[label] = changes
                settings = change_state.settings_digest(table)
                change_state.record(lake, source.name, table.name, plan.all_groups, ctx.run_id, settings)
            report.rows_out[label] = landed
            if landed == 0:
                report.warn(f"{label}: no rows landed")
            entities.append(_entity(ctx, source.name, table.name, raw_path))
            lake.remove(staging)
            engine.release_steps()  # this table's checked rows: not needed for the next table
            advance()
    _write_raw_manifest(ctx, entities)


def _keep(engine: Engine, label: str, name: str, table: ir.Table) -> ir.Table:
    return engine.materialize(f"ingest/{label}/{name}", table)


def _entity(ctx: RunContext, source: str, table: str, raw_path: str) -> Entity:
    entity = Entity.from_arrow(f"{source}_{table}", ctx.engine.schema(raw_path), key=None)
    entity.schema_folder = source
    entity.partitions = [p.removeprefix(ctx.lake.path("raw") + "/") for p in ctx.lake.parquet_files(raw_path)]
    return entity


def _change_plan(
    ctx: RunContext, source: str, table: FileTable, key: str, label: str, raw_path: str
) -> change_state.Plan:
    try:
        _, groups = change_state.change_groups(ctx.config.resolve(table.path))
    except SourceError as exc:
        raise SourceError(f"{label}: {key}.path: {exc}") from None
    landed = ctx.lake.has_table(raw_path)
    return change_state.plan(ctx.lake, source, table.name, groups, landed, change_state.settings_digest(table))


def _unchanged(ctx: RunContext, report: StageReport, label: str, raw_path: str, why: str) -> None:
    landed = ctx.engine.row_count(raw_path)
    report.rows_in[label] = 0
    report.rows_out[label] = landed
    changes = {"superseded": 0, "deleted": 0, "carried": landed, "read": "nothing new", "why": why}
    report.details.setdefault("changes", {})[label] = changes


def _check_columns(
    file: str, key: str, label: str, columns: list[str], primary_key: str, declared: dict[str, str]
) -> None:
    available = ", ".join(c for c in columns if c != ROW)
    if primary_key not in columns:
        raise ConfigError(file, f"{key}.primary_key", f"column {primary_key!r} is not in {label}; columns: {available}")
    for col in declared:
        if col not in columns:
            raise ConfigError(file, f"{key}.columns.{col}", f"column {col!r} is not in {label}; columns: {available}")


def _write_raw_manifest(ctx: RunContext, entities: list[Entity]) -> None:
    lake = ctx.lake
    for e in entities:
        lake.write_json(lake.path("raw", e.schema_folder, e.document_name), e.schema_json())
    lake.write_json(lake.path("raw", RAW_MANIFEST), Manifest("raw", entities).to_json())


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.raw_table(s.name, t.name) for _, s, t in ctx.config.iter_tables()]


STAGE = StageSpec("ingest", (), run, outputs, "land source files as Parquet under raw/")
