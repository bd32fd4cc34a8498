"""The Project facade: load the project file, run stages on an engine over the lake, keep run reports.

The CLI (and later the web app and SQL endpoint) are thin layers over this class.
"""

from __future__ import annotations

import hashlib
import posixpath
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custdim import failpoints
from custdim.config import ProjectConfig, load_project_config
from custdim.contracts import ID_CHANGE_LOG, RECORDS
from custdim.errors import StageError, UsageError
from custdim.lake import Lake
from custdim.lake.cdm import manifest_from_json
from custdim.lake.lock import RunLock
from custdim.report import RunReport, StageReport, now_iso, peak_rss_mb
from custdim.stages import STAGE_NAMES

if TYPE_CHECKING:
    import pyarrow as pa

    from custdim.engines.base import Engine
    from custdim.ldw.server import Endpoint
    from custdim.stages.context import ProgressFn, RunContext, StageSpec
    from custdim.stages.insights.explore import Differentiators, Exported, Overlap, Preview
    from custdim.stages.unify.explain import Explanation
    from custdim.stages.unify.model import MatchModel


def new_run_id() -> str:
    """Sortable, unique run ids: UTC time to the microsecond plus a random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f") + "-" + secrets.token_hex(3)


class _ScratchLake(Lake):
    """The project's lake with work tables and entities redirected to a scratch area (``_preview/``).

    For runs that must not overwrite the last run's outputs; raw data and the published export are read in place.
    """

    scratch_folder = "_preview"

    @property
    def scratch(self) -> str:
        return self.path(self.scratch_folder)

    def work_table(self, *name: str) -> str:
        return self.path(self.scratch_folder, "work", *name)

    def entity(self, name: str) -> str:
        return self.path(self.scratch_folder, "entities", name)

    def state(self, stage: str) -> str:
        # Unrecorded runs write no records; should one ever be written, it must not commit the real work tables.
        return self.path(self.scratch_folder, "work", "_state", f"{stage}.json")


class Project:
    """One custdim project: its configuration, lake and runs."""

    def __init__(self, config: ProjectConfig) -> None:
        self.config = config
        self.lake = Lake(config.resolve(config.lake))

    @classmethod
    def load(cls, path: str | Path = ".") -> Project:
        """Load the project whose ``custdim.yaml`` is at ``path`` (a folder or the file)."""
        return cls(load_project_config(path))

    @property
    def name(self) -> str:
        return self.config.name

    def validate(self) -> list[str]:
        """Check what can be checked without running: files, headers, mapped columns. Returns notes."""
        from custdim.preflight import validate_project

        return validate_project(self.config)

    def run(
        self,
        stage: str | None = None,
        progress: ProgressFn | None = None,
        engine: str | None = None,
        wait: bool = False,
        keep_steps: bool = False,
        resume: bool = False,
        full: bool = False,
    ) -> RunReport:
        """Run the whole pipeline, or one stage on the outputs of earlier runs.

        Holds the lake's run lock throughout (``wait``: queue behind a running run instead of failing). Once the
        lock is held, a run report is always written, also when the engine fails to start or a stage fails.
        ``keep_steps`` (debugging) also writes every intermediate step to ``work/<run_id>/steps/``.
        ``resume``: continue the last run if it failed or was killed, from its first unfinished stage, on the
        outputs it committed (see :func:`custdim.stages.resume.plan`); nothing runs when the last run succeeded.
        ``full``: match every record afresh instead of only the records that changed since the last run (see
        :mod:`custdim.stages.unify.incremental`); both give the same pairs and profiles.
        """
        from custdim.stages.registry import STAGES

        if resume and stage is not None:
            raise UsageError("--resume continues the last run's own stages; it cannot be combined with --stage")
        selected = [s for s in STAGES if stage is None or s.name == stage]
        if not selected:
            raise StageError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGE_NAMES)}")
        if any(s.name == "publish" for s in selected) and self.config.export.pseudonymize:
            from custdim.stages.publish.pseudonym import load_key

            load_key(self.config)  # a missing key fails now, not after every stage before publish ran
        report = RunReport(run_id=new_run_id(), project=self.name, engine=engine or self.config.engine)
        report.project_sha256 = hashlib.sha256(Path(self.config.file).read_bytes()).hexdigest()
        with self._running(
            self.lake,
            selected,
            report,
            record=True,
            progress=progress,
            wait=wait,
            keep_steps=keep_steps,
            resume=resume,
            full=full,
        ):
            pass
        return report

    def preview_changes(self, progress: ProgressFn | None = None) -> pa.Table:
        """Run map -> merge of the current project file on the landed data, without publishing anything.

        Returns the IdChangeLog events this project file would cause against the published export. The stages
        write to a scratch area (``_preview/``) that is removed afterwards; no run report or stage record is kept.
        """
        from custdim.stages.registry import stage as stage_spec

        lake = _ScratchLake(self.lake.root)
        if not lake.exists(lake.export_manifest()):
            raise StageError("nothing is published yet: run `custdim run` first, then preview changes against it")
        for source in self.config.sources:
            for table in source.tables:
                if not lake.has_table(lake.raw_table(source.name, table.name)):
                    raise StageError(
                        f"{source.name}.{table.name} has not been landed: run `custdim run --stage ingest`"
                    )
        stages = [stage_spec(name) for name in ("map", "match", "cluster", "merge")]
        report = RunReport(run_id=f"preview-{new_run_id()}", project=self.name, engine=self.config.engine)
        with self._running(lake, stages, report, record=False, progress=progress, scratch=lake.scratch) as ctx:
            log = ctx.engine.read(lake.entity(ID_CHANGE_LOG))
            return ctx.engine.to_arrow(log.filter(log.RunId == report.run_id).order_by(["Event", "CustomerId"]))

    def train(self) -> tuple[str, MatchModel]:
        """Fit the Fellegi-Sunter model on the mapped records of the last run and save it; returns (path, model)."""
        from custdim.stages.unify.model import save
        from custdim.stages.unify.model import train as fit

        records = self.lake.work_table(*RECORDS)
        if not self.lake.has_table(records):
            raise StageError("no mapped records yet: run `custdim run` (or `custdim run --stage map`) first")
        report = RunReport(run_id=f"train-{new_run_id()}", project=self.name, engine=self.config.engine)
        with self._running(self.lake, [], report, record=False) as ctx:
            model = fit(ctx.engine, self.lake, ctx.engine.read(records), self.config.unify.fields())
            return save(self.lake, model), model

    def explain(self, customer_id: str) -> Explanation:
        """Why these records became one profile: its records, the pairs that joined them, where each value came from.

        Reads the published export only; CustdimError when no published profile has this CustomerId.
        """
        from custdim.stages.unify.explain import explain

        return explain(self.lake, customer_id)

    def blocking_plans(self) -> list[tuple[str, list[str], dict[str, Any] | None]]:
        """(rule, plan lines, stats of the last run) for every dedupe and match rule."""
        from custdim.stages.unify.blocking import plan_rule

        unify = self.config.unify
        stats: dict[str, Any] = {}
        for run in self.runs(20):
            match = run.stage("match")
            if match is not None and match.status == "succeeded":
                stats = match.details.get("rules", {})
                break
        out = []
        for d in unify.dedupe:
            for rule in d.rules:
                key = f"dedupe:{d.table}/{rule.name}"
                plan = plan_rule(unify.with_frequency_caps(rule), unify.default_country)
                out.append((key, plan.describe(unify.max_block_size), stats.get(key)))
        for rule in unify.match.rules if unify.match else []:
            key = f"match:{rule.name}"
            plan = plan_rule(unify.with_frequency_caps(rule), unify.default_country)
            out.append((key, plan.describe(unify.max_block_size), stats.get(key)))
        return out

    @contextmanager
    def _running(
        self,
        lake: Lake,
        stages: Sequence[StageSpec],
        report: RunReport,
        *,
        record: bool,
        progress: ProgressFn | None = None,
        wait: bool = False,
        keep_steps: bool = False,
        scratch: str | None = None,
        resume: bool = False,
        full: bool = False,
    ) -> Iterator[RunContext]:
        """The one run loop: hold the lock as ``report.run_id``, start an engine, run ``stages`` on ``lake``.

        Yields the run's context after the last stage, so a caller can read the outputs before the engine closes
        and the lock is released; the report fails if the caller's block fails. ``record``: the run's outcome
        belongs to the lake: leftovers of killed runs are recovered first, each stage's lineage record is
        withdrawn and committed, and the report is written to ``_runs/`` (also when the run fails). Runs that
        are not recorded (previews, training) leave none of that behind. ``scratch``: a folder only this run
        writes, cleared before the stages and removed after, while the lock is still held. ``resume``: ``stages``
        shrinks to what the last (failed or killed) run left to do, decided once the lock is held.
        """
        from custdim.engines import create_engine
        from custdim.stages import state
        from custdim.stages.context import RunContext
        from custdim.stages.publish.stage import recover
        from custdim.stages.registry import STAGES
        from custdim.stages.resume import plan as resume_plan

        # An unrecorded run has no stage records for a later run to check, so its outputs must never be published.
        assert record or all(spec.name != "publish" for spec in stages), "only a recorded run may publish"
        with RunLock(lake).hold(report.run_id, wait=wait) as notes:
            report.started_at = now_iso()  # a run waiting for the lock starts once it holds it
            failpoints.reached("run.locked")
            current: StageReport | None = None
            eng: Engine | None = None
            try:
                report.notes = notes + (recover(lake) if record else [])
                if resume:
                    stages = resume_plan(lake, self.runs(1, exclude=report.run_id), report)
                report.planned = [s.name for s in stages]
                if record:  # from now on the report tells a killed run from one never started
                    lake.write_json(lake.path("_runs", f"{report.run_id}.json"), report.to_json())
                if scratch is not None:
                    lake.remove(scratch)  # what a killed preview left behind
                if record and stages and stages[0].requires:
                    # Not from the first stage (--stage, --resume): the outputs below must form one run's chain.
                    state.check_chain(lake, stages[0].requires, {s.name: s for s in STAGES})
                eng = create_engine(report.engine, lake, self.config.spark)
                if keep_steps:
                    eng.keep_steps = lake.path("work", report.run_id, "steps")
                    report.notes.append(f"every step is kept under {lake.url('work', report.run_id, 'steps')}")
                ctx = RunContext(self.config, lake, eng, report, full=full or not record)
                if progress is not None:
                    ctx.progress = progress
                for spec in stages:
                    current = StageReport(spec.name)
                    report.stages.append(current)
                    started = time.perf_counter()
                    if record:
                        state.begin(lake, spec.name)
                    failpoints.reached(f"stage.{spec.name}.begun")
                    spec.run(ctx, current)
                    eng.release_steps()
                    failpoints.reached(f"stage.{spec.name}.ran")
                    if record:
                        state.commit(lake, spec, report.run_id)
                    current.seconds = round(time.perf_counter() - started, 3)
                    current.status = "succeeded"
                    current.peak_rss_mb = peak_rss_mb()
                current = None  # every stage succeeded: a failing caller's block fails the run, not a stage
                yield ctx
                report.status = "succeeded"
            except BaseException as exc:
                report.status = "failed"
                report.error = f"{type(exc).__name__}: {exc}"
                if current is not None:
                    current.status = "failed"
                raise
            finally:
                report.finished_at = now_iso()
                if record:
                    lake.write_json(lake.path("_runs", f"{report.run_id}.json"), report.to_json())
                if eng is not None:
                    eng.close()
                if scratch is not None:
                    lake.remove(scratch)

    def lock(self, purpose: str, wait: bool = False) -> AbstractContextManager[list[str]]:
        """Hold the lake's run lock for work that writes the lake outside the run loop."""
        return RunLock(self.lake).hold(f"{purpose}-{new_run_id()}", wait=wait)

    def export_history(self) -> list[dict[str, Any]]:
        """The export snapshots, newest first: complete, current, rows, and whether one can roll back to it."""
        from custdim.stages.publish.snapshots import history

        return history(self.lake)

    def export_rollback(self, snapshot: str, wait: bool = False) -> dict[str, Any]:
        """Publish an earlier complete snapshot again: its manifest replaces the current one in one atomic write,
        then the SQL catalog follows. Holds the run lock, so no run publishes meanwhile."""
        from custdim.stages.publish import catalog
        from custdim.stages.publish.snapshots import (
            legacy_document,
            manifest_snapshot,
            read_manifest,
            rollback_manifest,
            sync_model_json,
        )

        with self.lock("rollback", wait=wait):
            doc = rollback_manifest(self.lake, snapshot)
            before = read_manifest(self.lake)
            self.lake.write_json(self.lake.export_manifest(), doc)
            failpoints.reached("rollback.manifest_swapped")
            sync_model_json(self.lake, snapshot, legacy_document(self.lake, snapshot))
            catalog.build(self.lake, doc)
        return {"snapshot": snapshot, "previous": manifest_snapshot(before) if before else None}

    def ddl(self, dialect: str, location: str | None = None, schema_name: str = "custdim") -> str:
        """The published views as a DDL script for another engine (``custdim ddl``).

        ``location`` is the export folder as that engine addresses it (default: the lake's own export folder).
        """
        from custdim.ldw.ddl import DIALECTS, render_ddl
        from custdim.stages.publish.catalog import entity_schemas
        from custdim.stages.publish.snapshots import read_manifest

        if dialect not in DIALECTS:
            raise UsageError(f"unknown dialect {dialect!r}; valid values: {', '.join(DIALECTS)}")
        doc = read_manifest(self.lake)
        if doc is None:
            raise StageError("nothing is published yet: run `custdim run` first")
        schemas, kinds = entity_schemas(self.lake, doc)
        if "csv" in kinds.values():
            raise UsageError(
                "custdim ddl renders tables over Parquet or Delta exports; this export is CSV (export.format: csv)"
            )
        if location is None:
            if dialect == "synapse" and self.lake.is_local:
                raise UsageError(
                    "Synapse reads the export from Azure storage: pass --location "
                    "https://<account>.dfs.core.windows.net/<filesystem>/<path to the export folder>"
                )
            location = self.lake.url("export")
        # What was published decides, not the project file's current setting.
        folders = {posixpath.dirname(loc) for _, _, locs in manifest_from_json(doc)[1] for loc in locs[:1]}
        delta = all(self.lake.exists(self.lake.path("export", f, "_delta_log")) for f in folders)
        fmt = "delta" if delta else "parquet"
        return render_ddl(dialect, doc, schemas, location.rstrip("/"), fmt, schema_name)

    def runs(self, limit: int = 10, exclude: str | None = None) -> list[RunReport]:
        """The latest run reports, newest first (``exclude``: leave out this run id)."""
        root = self.lake.path("_runs")
        if not self.lake.exists(root):
            return []
        files = sorted((p for p in self.lake.fs.ls(root, detail=False) if p.endswith(".json")), reverse=True)
        if exclude is not None:
            files = [f for f in files if posixpath.basename(f) != f"{exclude}.json"]
        reports = [RunReport.from_json(self.lake.read_json(f)) for f in files[:limit]]
        holder = RunLock(self.lake).live_holder()
        for r in reports:
            # A report says "running" from the moment its run holds the lock; a run killed since never said more.
            if r.status == "running" and (holder is None or holder.run_id != r.run_id):
                r.status = "killed"
        return reports

    def suggest_mapping(self, tables: list[str] | None = None, min_confidence: float = 0.5) -> list[tuple[str, str]]:
        """(table, YAML for unify.tables) for each source table, proposed from its column names and values."""
        from custdim.semantic.suggest import suggest_mapping, suggestions_yaml
        from custdim.stages.ingest.landing import read_source_table

        names = tables or self.config.table_names()
        out = []
        for name in names:
            if name not in self.config.table_names():
                raise StageError(f"unknown table {name!r}; valid values: {', '.join(self.config.table_names())}")
            data = read_source_table(self.config, name).drop_columns(["_row"])
            out.append((name, suggestions_yaml(name, suggest_mapping(data), min_confidence)))
        return out

    def sql(self, query: str) -> pa.Table:
        """Run a user's read-only query against the published views (checked, on a locked-down connection)."""
        from custdim.ldw.query import run_query
        from custdim.stages.publish.catalog import ensure

        return run_query(ensure(self.lake), self.lake.url("export"), query)

    def sql_endpoint(self, statement_timeout: float, max_rows: int) -> Endpoint:
        """The published views as the SQL endpoint serves them (``custdim serve sql``), read-only."""
        from custdim.ldw.server import Endpoint, Limits
        from custdim.stages.publish.catalog import ensure

        return Endpoint(ensure(self.lake), self.lake.url("export"), Limits(statement_timeout, max_rows))

    def views(self) -> list[str]:
        """Names of the published views."""
        from custdim.ldw.query import views
        from custdim.stages.publish.catalog import ensure

        return views(ensure(self.lake), self.lake.url("export"))

    def profile(self) -> dict[str, object]:
        """Value profile of the last run's mapped records (the map stage's ``details["profile"]``, recomputed)."""
        from custdim.engines import create_engine
        from custdim.stages.unify.profile import profile_records

        path = self.lake.work_table(*RECORDS)
        if not self.lake.has_table(path):
            raise StageError("no mapped records yet: run `custdim run` (or `custdim run --stage map`) first")
        engine = create_engine(self.config.engine, self.lake, self.config.spark)
        try:
            return profile_records(engine, engine.read(path), self.config)
        finally:
            engine.close()

    def models(self) -> list[dict[str, Any]]:
        """The model cards under ``lake/models/`` (one per fitted prediction), by name."""
        root = self.lake.path("models")
        if not self.lake.exists(root):
            return []
        files = sorted(p for p in self.lake.fs.ls(root, detail=False) if p.endswith(".json"))
        return [{"name": posixpath.basename(f).removesuffix(".json"), **self.lake.read_json(f)} for f in files]

    def backtest(self) -> dict[str, dict[str, Any]]:
        """Re-run every switched-on model with ``as_of`` moved back by its horizon and score it on what happened
        next (the activities of the last run). Writes the results into the model cards and a run report."""
        from custdim.stages.predictions.backtest import backtest

        report = RunReport(run_id=new_run_id(), project=self.name, engine=self.config.engine)
        with self._running(self.lake, [], report, record=True) as ctx:
            stage = StageReport("backtest")
            report.stages.append(stage)
            started = time.perf_counter()
            results = backtest(ctx, stage)
            stage.seconds, stage.status = round(time.perf_counter() - started, 3), "succeeded"
        return results

    def segment_preview(self, name: str, limit: int = 10) -> Preview:
        """Segment ``name`` as the project file defines it now, over the published profiles; writes nothing."""
        from custdim.stages.insights.explore import preview

        return preview(self.config, self.lake, name, limit)

    def segment_overlap(self, names: list[str]) -> Overlap:
        """Members two or three published segments share."""
        from custdim.stages.insights.explore import overlap

        return overlap(self.config, self.lake, names)

    def segment_differentiators(self, name: str, top: int = 10) -> Differentiators:
        """Fields whose distribution in the published segment differs most from everyone's (total variation)."""
        from custdim.stages.insights.explore import differentiators

        return differentiators(self.config, self.lake, name, top)

    def segment_export(self, name: str, to: Path, fields: list[str] | None = None) -> Exported:
        """Write the published members of a segment to a CSV or Parquet file for a campaign tool."""
        from custdim.stages.insights.explore import export_members

        return export_members(self.config, self.lake, name, to, fields)
