"""``custdim run --stage X`` refuses inputs that a killed or later run left mismatched; projects can move."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from custdim.errors import StageError
from custdim.failpoints import FAILPOINT_EXIT
from custdim.project import Project
from custdim.stages import STAGE_NAMES, state
from tests.conftest import write_example
from tests.reliability.published import assert_consistent_export, cli_sql, custdim


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = write_example(tmp_path / "project")
    Project.load(root).run()
    return root


def test_every_stage_records_the_run_that_produced_its_outputs(project_dir: Path) -> None:
    project = Project.load(project_dir)
    run_id = project.runs(1)[0].run_id
    records = {name: state.read(project.lake, name) for name in ("ingest", "map", "merge", "activities", "publish")}
    assert all(r is not None and r.run_id == run_id for r in records.values())
    assert records["activities"].inputs == {"merge": run_id}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("point", "refused", "unfinished"),
    [
        # Killed after merge wrote its entities but before it committed them: neither stage above may use them.
        ("stage.merge.ran", "publish", "merge"),
        ("stage.merge.ran", "activities", "merge"),
        # Killed in the middle of activities, after a complete merge.
        ("stage.activities.begun", "publish", "activities"),
    ],
)
def test_a_stage_refuses_outputs_of_a_run_that_died_half_way(
    project_dir: Path, point: str, refused: str, unfinished: str
) -> None:
    before = assert_consistent_export(project_dir)
    result = custdim("run", "--project", str(project_dir), failpoint=point)
    assert result.returncode == FAILPOINT_EXIT

    result = custdim("run", "--project", str(project_dir), "--stage", refused)
    assert result.returncode == 1
    assert f"the outputs of stage {unfinished!r} are missing or incomplete" in result.stderr
    assert "Traceback" not in result.stderr
    assert assert_consistent_export(project_dir) == before

    # Re-running the unfinished stage, then the refused one, repairs the chain.
    assert custdim("run", "--project", str(project_dir), "--stage", unfinished).returncode == 0
    if refused != unfinished:
        # Every stage between the unfinished one and the refused one is rebuilt on the repaired outputs.
        chain = STAGE_NAMES[STAGE_NAMES.index(unfinished) + 1 : STAGE_NAMES.index(refused) + 1]
        for name in chain:
            result = custdim("run", "--project", str(project_dir), "--stage", name)
            assert result.returncode == 0, result.stderr
    assert_consistent_export(project_dir)


def test_a_stage_refuses_inputs_from_different_runs(project_dir: Path) -> None:
    project = Project.load(project_dir)
    project.run(stage="merge")  # merge now holds a newer run than the one activities was built on
    with pytest.raises(StageError, match=r"stage 'activities' .* was built on the outputs of 'merge' from run"):
        project.run(stage="publish")
    for name in ("activities", "measures", "predictions", "segments"):
        project.run(stage=name)
    assert project.run(stage="publish").status == "succeeded"
    keys = project.sql(
        "SELECT count(*) FROM AlternateKey a LEFT JOIN Customer c USING (CustomerId) WHERE c.CustomerId IS NULL"
    )
    assert keys.column(0).to_pylist() == [0]


def test_a_copied_project_reads_its_own_lake(project_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(project_dir, copy)
    original_count = cli_sql(project_dir, "SELECT count(*) FROM Customer")
    # The original moves on; the copy must not follow it.
    contacts = project_dir / "data" / "contacts.csv"
    contacts.write_text(contacts.read_text() + "C099,Newbie,Person,new@example.com,,Austin,73301\n")
    Project.load(project_dir).run()
    assert cli_sql(project_dir, "SELECT count(*) FROM Customer") != original_count
    assert cli_sql(copy, "SELECT count(*) FROM Customer") == original_count
    assert_consistent_export(copy)


def test_a_moved_project_still_answers(project_dir: Path, tmp_path: Path) -> None:
    count = cli_sql(project_dir, "SELECT count(*) FROM dim_customer")
    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    shutil.move(project_dir, moved)
    assert cli_sql(moved, "SELECT count(*) FROM dim_customer") == count
    assert Project.load(moved).run().status == "succeeded"
    assert_consistent_export(moved)
