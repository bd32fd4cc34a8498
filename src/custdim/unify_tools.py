"""Unify tools over a project: explain a profile, show blocking plans, preview id changes of a changed project file.

Kept apart from the run path: each function reads published outputs or runs the unify stages in a scratch area.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custdim.errors import CustdimError, StageError
from custdim.lake import Lake

if TYPE_CHECKING:
    import pyarrow as pa

    from custdim.project import Project
    from custdim.stages.context import ProgressFn
    from custdim.stages.unify.model import MatchModel


@dataclass(frozen=True)
class Explanation:
    customer: dict[str, Any]
    records: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    provenance: list[dict[str, Any]]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def explain(project: Project, customer_id: str) -> Explanation:
    """Why these records became one profile: its records, the pairs that joined them, where each value came from."""
    cid = _quote(customer_id)
    customer = project.sql(f"SELECT * FROM Customer WHERE CustomerId = {cid}").to_pylist()
    if not customer:
        raise CustdimError(f"no profile with CustomerId {customer_id!r} in the published export")
    records = project.sql(
        f"SELECT SourceName, TableName, SourceKey, IsDedupeWinner FROM AlternateKey "
        f"WHERE CustomerId = {cid} ORDER BY 1, 2, 3"
    ).to_pylist()
    pairs = project.sql(
        f"SELECT Stage, RuleName, Score, ConditionScores, BlockingKey, LeftTableName, LeftSourceKey, "
        f"RightTableName, RightSourceKey FROM MatchPairs WHERE CustomerId = {cid} "
        f"ORDER BY Stage, RuleName, LeftSourceKey, RightSourceKey"
    ).to_pylist()
    provenance = project.sql(
        f"SELECT Field, SourceName, TableName, SourceKey, Policy FROM CustomerProvenance "
        f"WHERE CustomerId = {cid} ORDER BY Field"
    ).to_pylist()
    return Explanation(customer[0], records, pairs, provenance)


def blocking_plans(project: Project) -> list[tuple[str, list[str], dict[str, Any] | None]]:
    """(rule, plan lines, stats of the last run) for every dedupe and match rule."""
    from custdim.stages.unify.blocking import plan_rule

    unify = project.config.unify
    stats: dict[str, Any] = {}
    for run in project.runs(20):
        match = run.stage("match")
        if match is not None and match.status == "succeeded":
            stats = match.details.get("rules", {})
            break
    out = []
    for d in unify.dedupe:
        for rule in d.rules:
            key = f"dedupe:{d.table}/{rule.name}"
            out.append((key, plan_rule(rule, unify.default_country).describe(unify.max_block_size), stats.get(key)))
    for rule in unify.match.rules if unify.match else []:
        key = f"match:{rule.name}"
        out.append((key, plan_rule(rule, unify.default_country).describe(unify.max_block_size), stats.get(key)))
    return out


def train_model(project: Project) -> tuple[str, MatchModel]:
    """Fit the Fellegi-Sunter model on the mapped records of the last run; returns (path, model)."""
    from custdim.engines import create_engine
    from custdim.stages.unify.map import RECORDS
    from custdim.stages.unify.model import save, train

    lake = project.lake
    if not lake.has_table(lake.work_table(*RECORDS)):
        raise StageError("no mapped records yet: run `custdim run` (or `custdim run --stage map`) first")
    with project.lock("train"):
        engine = create_engine(project.config.engine, lake, project.config.spark)
        try:
            model = train(engine, lake, engine.read(lake.work_table(*RECORDS)), project.config.unify.fields())
        finally:
            engine.close()
        return save(lake, model), model


class PreviewLake(Lake):
    """The project's lake, with work tables and entities redirected to a scratch area (_preview/)."""

    def work_table(self, *name: str) -> str:
        return self.path("_preview", "work", *name)

    def entity(self, name: str) -> str:
        return self.path("_preview", "entities", name)


def preview_changes(project: Project, progress: ProgressFn | None = None) -> pa.Table:
    """Run map -> merge of the current project file on the landed data, without publishing anything.

    Returns the IdChangeLog events this project file would cause against the published export.
    """
    from custdim.engines import create_engine
    from custdim.report import RunReport, StageReport
    from custdim.stages.context import RunContext
    from custdim.stages.registry import stage as stage_spec

    lake = PreviewLake(project.lake.root)
    if not lake.exists(lake.export_manifest()):
        raise StageError("nothing is published yet: run `custdim run` first, then preview changes against it")
    for source in project.config.sources:
        for table in source.tables:
            if not lake.has_table(lake.raw_table(source.name, table.name)):
                raise StageError(f"{source.name}.{table.name} has not been landed: run `custdim run --stage ingest`")
    report = RunReport(run_id="preview", project=project.name, engine=project.config.engine)
    with project.lock("preview"):
        engine = create_engine(project.config.engine, lake, project.config.spark)
        try:
            ctx = RunContext(project.config, lake, engine, report)
            if progress is not None:
                ctx.progress = progress
            for name in ("map", "match", "cluster", "merge"):
                stage_report = StageReport(name)
                report.stages.append(stage_report)
                stage_spec(name).run(ctx, stage_report)
            log = engine.read(lake.entity("IdChangeLog"))
            return engine.to_arrow(log.filter(log.RunId == "preview").order_by(["Event", "CustomerId"]))
        finally:
            engine.close()
            lake.remove(lake.path("_preview"))
