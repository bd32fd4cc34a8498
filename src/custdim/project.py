"""The Project facade: load the project file, run stages on an engine over the lake, keep run reports.

The CLI (and later the web app and SQL endpoint) are thin layers over this class.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from custdim.config import ProjectConfig, load_project_config
from custdim.errors import StageError
from custdim.lake import Lake
from custdim.report import RunReport, StageReport, now_iso, peak_rss_mb
from custdim.stages import STAGE_NAMES

if TYPE_CHECKING:
    import pyarrow as pa

    from custdim.stages.context import ProgressFn, RunContext


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
        """Check what can be checked without running: source files exist. Returns notes for the user."""
        from custdim.stages.ingest.readers import list_files

        notes = []
        for source in self.config.sources:
            for table in source.tables:
                _, files = list_files(self.config.resolve(table.path))
                notes.append(f"{source.name}.{table.name}: {len(files)} file(s), format {table.file_format}")
        return notes

    def run(self, stage: str | None = None, progress: ProgressFn | None = None, engine: str | None = None) -> RunReport:
        """Run the whole pipeline, or one stage on the outputs of earlier runs. Always writes a run report."""
        from custdim.engines import create_engine
        from custdim.stages.context import RunContext
        from custdim.stages.registry import STAGES

        selected = [s for s in STAGES if stage is None or s.name == stage]
        if not selected:
            raise StageError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGE_NAMES)}")
        engine_name = engine or self.config.engine
        report = RunReport(run_id=new_run_id(), project=self.name, engine=engine_name)
        current: StageReport | None = None
        eng = create_engine(engine_name, self.lake, self.config.spark)
        try:
            ctx = RunContext(self.config, self.lake, eng, report)
            if progress is not None:
                ctx.progress = progress
            if stage is not None:
                self._check_inputs(ctx, selected[0].requires)
            for spec in selected:
                current = StageReport(spec.name)
                report.stages.append(current)
                started = time.perf_counter()
                spec.run(ctx, current)
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
            eng.close()
        return report

    def _check_inputs(self, ctx: RunContext, requires: tuple[str, ...]) -> None:
        from custdim.stages.registry import stage as stage_spec

        for name in requires:
            missing = [p for p in stage_spec(name).outputs(ctx) if not self.lake.exists(p)]
            if missing:
                raise StageError(
                    f"stage {name!r} has not produced {missing[0]} yet: run it first "
                    f"(`custdim run --stage {name}` or a full `custdim run`)"
                )

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
        """Run a read-only SQL query against the logical data warehouse views."""
        from custdim.engines.duckdb_catalog import query as run_query
        from custdim.stages.publish.stage import catalog_path

        return run_query(catalog_path(self.lake), query)

    def views(self) -> list[str]:
        from custdim.engines.duckdb_catalog import list_views
        from custdim.stages.publish.stage import catalog_path

        return list_views(catalog_path(self.lake))
