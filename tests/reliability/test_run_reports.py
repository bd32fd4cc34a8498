"""Every run that took the lake leaves a report, also when its engine cannot start."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.project import Project
from tests.conftest import write_example


def test_an_engine_that_cannot_start_still_writes_a_failed_run_report(tmp_path: Path) -> None:
    root = write_example(tmp_path / "project")
    result = CliRunner().invoke(app, ["run", "--project", str(root), "--engine", "nosuchengine"])
    assert result.exit_code == 1
    assert "Error: unknown engine 'nosuchengine'; valid engines: duckdb, spark" in result.output
    assert "Traceback" not in result.output
    reports = Project.load(root).runs()
    assert len(reports) == 1
    assert reports[0].status == "failed"
    assert reports[0].error is not None and "nosuchengine" in reports[0].error
    assert not (root / "lake" / "_runs" / ".lock").exists()
