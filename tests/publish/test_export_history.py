"""custdim export history / rollback: list the snapshots, publish an earlier one again, then carry on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.errors import ConfigError, StageError
from custdim.project import Project
from custdim.stages.publish import snapshots


def add_contact(root: Path, n: int) -> None:
    contacts = root / "data" / "contacts.csv"
    contacts.write_text(contacts.read_text() + f"N{n:03d},New{n},Person{n},new{n}@example.com,,Austin,73301\n")


def customers(project: Project) -> int:
    return int(project.sql("SELECT count(*) AS n FROM Customer").column("n")[0].as_py())


def test_history_and_rollback(example_dir: Path) -> None:
    project = Project.load(example_dir)
    project.run()
    first = customers(project)
    add_contact(example_dir, 1)
    project.run()
    assert customers(project) == first + 1
    runner = CliRunner()
    listed = runner.invoke(app, ["export", "history", "-p", str(example_dir), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    snaps = json.loads(listed.output)
    assert [s["current"] for s in snaps] == [True, False] and all(s["complete"] and s["can_roll_back"] for s in snaps)
    newest, oldest = snaps[0]["snapshot"], snaps[1]["snapshot"]
    assert snaps[1]["rows"]["Customer"] == first

    result = runner.invoke(app, ["export", "rollback", oldest, "-p", str(example_dir)])
    assert result.exit_code == 0, result.output
    assert f"published snapshot {oldest} (was {newest})" in result.output
    # Readers see the earlier snapshot at once: the manifest and the SQL views follow it.
    assert snapshots.manifest_snapshot(snapshots.read_manifest(project.lake) or {}) == oldest
    assert snapshots.model_json_snapshot(project.lake) == oldest
    assert customers(project) == first
    table = runner.invoke(app, ["export", "history", "-p", str(example_dir)])
    assert table.exit_code == 0 and "published" in table.output and newest in table.output, table.output

    # The next run publishes anew; the rolled-back snapshot stays until pruning reaches it.
    project.run()
    assert customers(project) == first + 1
    assert [s["current"] for s in project.export_history()] == [True, False, False]


def test_rollback_refuses_what_it_cannot_publish(example_dir: Path) -> None:
    project = Project.load(example_dir)
    with pytest.raises(StageError, match="no snapshot '20260101T000000"):
        project.export_rollback("20260101T000000.000000-abcdef")
    project.run()
    current = project.export_history()[0]["snapshot"]
    with pytest.raises(StageError, match="already the published one; no other snapshot to roll back to"):
        project.export_rollback(current)
    with pytest.raises(StageError, match="no snapshot 'nope'"):
        project.export_rollback("nope")
    # A snapshot a run died writing (no completion marker) is listed as incomplete and refused.
    Path(project.lake.snapshot("20260101T000000.000000-dead00")).mkdir(parents=True)
    assert project.export_history()[-1] == {
        "snapshot": "20260101T000000.000000-dead00", "complete": False, "current": False, "completed_at": None,
        "rows": {}, "can_roll_back": False,
    }  # fmt: skip
    with pytest.raises(StageError, match="incomplete"):
        project.export_rollback("20260101T000000.000000-dead00")
    result = CliRunner().invoke(app, ["export", "rollback", "nope", "-p", str(example_dir)])
    assert result.exit_code != 0 and "no snapshot 'nope'" in result.output and "Traceback" not in result.output


def test_a_rollback_killed_after_the_manifest_swap_leaves_a_consistent_export(example_dir: Path) -> None:
    from custdim.failpoints import FAILPOINT_EXIT
    from tests.reliability.published import assert_consistent_export, custdim

    project = Project.load(example_dir)
    project.run()
    add_contact(example_dir, 2)
    project.run()
    oldest = project.export_history()[-1]["snapshot"]
    result = custdim("export", "rollback", oldest, "-p", str(example_dir), failpoint="rollback.manifest_swapped")
    assert result.returncode == FAILPOINT_EXIT, result.stderr
    # The manifest is the commit point: readers rebuild the stale catalog and see the rolled-back snapshot whole.
    assert assert_consistent_export(example_dir) == oldest
    assert project.export_history()[-1]["current"]
    # model.json still names the snapshot it was written for until the next run under the lock puts it right.
    project.run()
    newest = project.export_history()[0]["snapshot"]
    assert snapshots.model_json_snapshot(project.lake) == newest


def test_keep_snapshots_is_a_setting(example_dir: Path) -> None:
    (example_dir / "custdim.yaml").write_text(
        (example_dir / "custdim.yaml").read_text() + "export:\n  keep_snapshots: 1\n", encoding="utf-8"
    )
    project = Project.load(example_dir)
    project.run()
    project.run(stage="publish")
    snaps = project.export_history()
    assert len(snaps) == 1 and snaps[0]["current"]
    (example_dir / "custdim.yaml").write_text(
        (example_dir / "custdim.yaml").read_text().replace("keep_snapshots: 1", "keep_snapshots: 0"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        Project.load(example_dir)
    assert "export.keep_snapshots" in str(err.value)
