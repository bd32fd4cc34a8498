"""The ingest stage: every source table lands under raw/<source>/<table>/ with a CDM manifest for raw/."""

from __future__ import annotations

from collections import Counter

from custdim.config.sources import FileTable
from custdim.contracts import INGEST_STAGING, RAW_MANIFEST
from custdim.errors import ConfigError
from custdim.lake.cdm import Entity, Manifest
from custdim.report import StageReport, now_iso
from custdim.stages.context import RunContext, StageSpec
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
            staging = lake.work_table(*INGEST_STAGING, source.name, table.name)
            lake.remove(staging)
            lake.makedirs(staging)
            staged = stage_table(TableRef(config, source, table, key), lake.fs, staging)
            declared = {**staged.declared, **table.columns}
            _check_columns(config.file, key, label, staged.columns, table.primary_key, table.columns)

            modified = table.incremental.modified if isinstance(table, FileTable) and table.incremental else None
            checked = check_table(
                engine.read(staging), table.primary_key, declared, ctx.run_id, ingested_at, modified=modified
            )
            if checked.trimmed_keys is not None:
                trimmed = int(engine.to_arrow(checked.trimmed_keys)["n"][0].as_py() or 0)
                if trimmed:
                    report.warn(
                        f"{label}: {trimmed} {table.primary_key!r} values had surrounding whitespace, trimmed "
                        "(a key equal to another one after trimming is rejected as a duplicate)"
                    )
            raw_path = lake.raw_table(source.name, table.name)
            landed = engine.write(checked.good, raw_path)
            rejects_path = lake.rejects_table(source.name, table.name)
            rejects = checked.rejects
            if staged.rejects.num_rows:
                rejects = rejects.union(engine.from_arrow(staged.rejects))
            rejected = engine.write(rejects, rejects_path)
            if not rejected:
                lake.remove(rejects_path)
            else:
                kinds = Counter(
                    reason_kind(r) for r in engine.to_arrow(rejects.select("_reason"))["_reason"].to_pylist()
                )
                for kind, n in sorted(kinds.items()):
                    report.rejected[f"{label}.{kind}"] = n
                report.warn(
                    f"{label}: {rejected} rows rejected ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))});"
                    f" see {rejects_path}"
                )
            report.rows_in[label] = staged.rows + staged.rejects.num_rows
            if checked.changes is not None:
                counts = engine.to_arrow(checked.changes).to_pylist()[0]
                changes = {k: int(v or 0) for k, v in counts.items()}
                # Rows in = landed + rejected + superseded + deleted: a replaced row is accounted for, not lost.
                report.details.setdefault("changes", {})[label] = changes
            report.rows_out[label] = landed
            if landed == 0:
                report.warn(f"{label}: no rows landed")
            entity = Entity.from_arrow(f"{source.name}_{table.name}", engine.schema(raw_path), key=None)
            entity.schema_folder = source.name
            entity.partitions = [p.removeprefix(lake.path("raw") + "/") for p in lake.parquet_files(raw_path)]
            entities.append(entity)
            lake.remove(staging)
            advance()
    _write_raw_manifest(ctx, entities)


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
