"""The Project facade: load the project file, run stages on an engine over the lake, keep run reports.

The CLI (and later the web app and SQL endpoint) are thin layers over this class.
"""

from __future__ import annotations

import secrets
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from custdim import failpoints
from custdim.config import ProjectConfig, load_project_config
from custdim.errors import StageError
from custdim.lake import Lake
from custdim.lake.lock import RunLock
from custdim.report import RunReport, StageReport, now_iso, peak_rss_mb
from custdim.stages import STAGE_NAMES

if TYPE_CHECKING:
    import pyarrow as pa

    from custdim.engines.base import Engine
    from custdim.stages.context import ProgressFn, StageSpec


def new_run_id() -> str:
    """Sortable, unique run ids: UTC time to the microsecond plus a random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f") + "-" + secrets.token_hex(3)


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
    ) -> RunReport:
        """Run the whole pipeline, or one stage on the outputs of earlier runs.

        Holds the lake's run lock throughout (``wait``: queue behind a running run instead of failing). Once the
        lock is held, a run report is always written, also when the engine fails to start or a stage fails.
        ``keep_steps`` (debugging) also writes every intermediate step to ``work/<run_id>/steps/``.
        """
        from custdim.stages.registry import STAGES

        selected = [s for s in STAGES if stage is None or s.name == stage]
        if not selected:
            raise StageError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGE_NAMES)}")
        report = RunReport(run_id=new_run_id(), project=self.name, engine=engine or self.config.engine)
        with RunLock(self.lake).hold(report.run_id, wait=wait) as notes:
            report.started_at = now_iso()  # a run waiting for the lock starts once it holds it
            failpoints.reached("run.locked")
            self._execute(report, selected, progress, notes, keep_steps)
        return report

    def _execute(
        self,
        report: RunReport,
        selected: list[StageSpec],
        progress: ProgressFn | None,
        notes: list[str],
        keep_steps: bool,
    ) -> None:
        from custdim.engines import create_engine
        from custdim.stages import state
        from custdim.stages.context import RunContext
        from custdim.stages.publish.stage import recover
        from custdim.stages.registry import STAGES

        current: StageReport | None = None
        eng: Engine | None = None
        try:
            report.notes = notes + recover(self.lake)
            if len(selected) == 1:
                state.check_chain(self.lake, selected[0].requires, {s.name: s for s in STAGES})
            eng = create_engine(report.engine, self.lake, self.config.spark)
            if keep_steps:
                eng.keep_steps = self.lake.path("work", report.run_id, "steps")
                report.notes.append(f"every step is kept under {self.lake.url('work', report.run_id, 'steps')}")
            ctx = RunContext(self.config, self.lake, eng, report)
            if progress is not None:
                ctx.progress = progress
            for spec in selected:
                current = StageReport(spec.name)
                report.stages.append(current)
                started = time.perf_counter()
                state.begin(self.lake, spec.name)
                failpoints.reached(f"stage.{spec.name}.begun")
                spec.run(ctx, current)
                eng.release_steps()
                failpoints.reached(f"stage.{spec.name}.ran")
                state.commit(self.lake, spec, report.run_id)
                current.seconds = round(time.perf_counter() - started, 3)
                current.status = "succeeded"
                current.peak_rss_mb = peak_rss_mb()
            report.status = "succeeded"
        except BaseException as exc:
            report.status = "failed"
            report.error = f"{type(exc).__name__}: {exc}"
            if current is not None:
                current.status = "failed"
            raise
        finally:
            report.finished_at = now_iso()
            self.lake.write_json(self.lake.path("_runs", f"{report.run_id}.json"), report.to_json())
            if eng is not None:
                eng.close()

    def lock(self, purpose: str, wait: bool = False) -> AbstractContextManager[list[str]]:
        """Hold the lake's run lock for work that writes the lake outside a run (preview, training)."""
        return RunLock(self.lake).hold(f"{purpose}-{new_run_id()}", wait=wait)

    def runs(self, limit: int = 10) -> list[RunReport]:
        """The latest run reports, newest first."""
        root = self.lake.path("_runs")
        if not self.lake.exists(root):
            return []
        files = sorted((p for p in self.lake.fs.ls(root, detail=False) if p.endswith(".json")), reverse=True)
        return [RunReport.from_json(self.lake.read_json(f)) for f in files[:limit]]

    def suggest_mapping(self, tables: list[str] | None = None, min_confidence: float = 0.5) -> list[tuple[str, str]]:
        """(table, YAML for unify.tables) for each source table, proposed from its column names and values."""
        from custdim.semantic.suggest import suggest_mapping, suggestions_yaml
        from custdim.stages.ingest.readers import read_table

        names = tables or self.config.table_names()
        out = []
        for name in names:
            try:
                spec = self.config.source_table(name)
            except KeyError:
                raise StageError(
                    f"unknown table {name!r}; valid values: {', '.join(self.config.table_names())}"
                ) from None
            data = read_table(self.config.resolve(spec.path), spec, name).table.drop_columns(["_row"])
            out.append((name, suggestions_yaml(name, suggest_mapping(data), min_confidence)))
        return out

    def sql(self, query: str) -> pa.Table:
        """Run a user's read-only query against the published views (checked, on a locked-down connection)."""
        from custdim.ldw.query import run_query
        from custdim.stages.publish.catalog import ensure

        return run_query(ensure(self.lake), self.lake.path("export"), query)

    def views(self) -> list[str]:
        """Names of the published views."""
        from custdim.ldw.query import views
        from custdim.stages.publish.catalog import ensure

        return views(ensure(self.lake), self.lake.path("export"))

    def profile(self) -> dict[str, object]:
        """Value profile of the last run's mapped records (the map stage's ``details["profile"]``, recomputed)."""
        from custdim.engines import create_engine
        from custdim.stages.unify.map import RECORDS
        from custdim.stages.unify.profile import profile_records

        path = self.lake.work_table(*RECORDS)
        if not self.lake.has_table(path):
            raise StageError("no mapped records yet: run `custdim run` (or `custdim run --stage map`) first")
        engine = create_engine(self.config.engine, self.lake, self.config.spark)
        try:
            return profile_records(engine, engine.read(path), self.config)
        finally:
            engine.close()
