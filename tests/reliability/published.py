"""Helpers for the reliability suite: run the real CLI in a child process and check what readers would see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.failpoints import ENV as FAILPOINT_ENV
from custdim.project import Project
from custdim.stages.publish import snapshots
from custdim.stages.publish.catalog import catalog_snapshot
from custdim.stages.publish.formats import count_rows, format_of


def _env(failpoint: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != FAILPOINT_ENV}
    if failpoint:
        env[FAILPOINT_ENV] = failpoint
    return env


def custdim(*args: str, failpoint: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the ``custdim`` command in a child process (a kill there cannot take the test down with it)."""
    command = [sys.executable, "-m", "custdim.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, env=_env(failpoint), timeout=timeout, check=False)


def start(*args: str, failpoint: str | None = None) -> subprocess.Popen[str]:
    """Start the ``custdim`` command without waiting for it."""
    command = [sys.executable, "-m", "custdim.cli.main", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(failpoint))


def cli_sql(project_dir: Path, query: str) -> list[list[str]]:
    """``custdim sql --format json`` as a user types it; returns the rows."""
    result = CliRunner().invoke(app, ["sql", "--project", str(project_dir), "--format", "json", query])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    rows = json.loads(result.output)
    assert isinstance(rows, list)
    return [list(r.values()) for r in rows]


def assert_consistent_export(project_dir: Path) -> str:
    """Readers see one complete snapshot: the manifest and the catalog name it, and every row of it is there.

    Returns the published snapshot's run id.
    """
    count = cli_sql(project_dir, "SELECT count(*) AS n FROM dim_customer")
    project = Project.load(project_dir)
    lake = project.lake
    doc = snapshots.read_manifest(lake)
    assert doc is not None
    published = snapshots.manifest_snapshot(doc)
    assert published is not None
    assert catalog_snapshot(lake) == published, "the catalog and the manifest name different snapshots"
    marker = json.loads(Path(snapshots.marker(lake, published)).read_text())
    for entity in doc["entities"]:
        files = [Path(lake.path("export", p["location"])) for p in entity["dataPartitions"]]
        assert all(f.exists() for f in files), f"{entity['entityName']}: a published partition is missing"
        kind = format_of(str(files[0]))
        rows = count_rows(lake, [str(f) for f in files], kind)
        assert rows == marker["rows"][entity["entityName"]]
    assert count == [[marker["rows"]["Customer"]]]
    for name, expected in marker["rows"].items():
        assert project.sql(f'SELECT count(*) FROM "{name}"').column(0).to_pylist() == [expected]
    # model.json is written just after the manifest: it names the same snapshot or the one before, whole either way.
    legacy = snapshots.model_json_snapshot(lake)
    if legacy is not None:
        assert snapshots.is_complete(lake, legacy), f"model.json names the incomplete snapshot {legacy}"
        doc = json.loads(Path(lake.path("export", "model.json")).read_text())
        for entity in doc["entities"]:
            missing = [p["location"] for p in entity["partitions"] if not Path(p["location"]).exists()]
            assert not missing, f"model.json: {entity['name']} partitions are missing: {missing[:3]}"
    return published


def leftovers(project_dir: Path) -> list[str]:
    """Temporary files a killed run could leave behind."""
    lake = Path(project_dir) / "lake"
    return sorted(
        str(p.relative_to(lake)) for p in lake.rglob("*") if ".tmp-" in p.name or p.name.startswith(".catalog")
    )
