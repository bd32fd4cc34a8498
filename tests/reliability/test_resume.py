"""``custdim run --resume`` finishes a killed run on its own committed outputs; exit statuses for schedulers."""

from __future__ import annotations

from pathlib import Path

import pytest

from custdim.errors import EXIT_CODES
from custdim.failpoints import FAILPOINT_EXIT
from custdim.project import Project
from custdim.stages import STAGE_NAMES, state
from tests.conftest import write_example
from tests.reliability.published import assert_consistent_export, cli_sql, custdim

CUSTOMERS = "SELECT CustomerId, FirstName, LastName, Email FROM Customer ORDER BY CustomerId"


def _records(project_dir: Path) -> dict[str, str]:
    lake = Project.load(project_dir).lake
    out = {}
    for name in STAGE_NAMES:
        record = state.read(lake, name)
        assert record is not None, name
        out[name] = record.run_id
    return out


@pytest.fixture
def reference(tmp_path: Path) -> list[list[str]]:
    """The profiles an uninterrupted run publishes."""
    root = write_example(tmp_path / "reference")
    assert custdim("run", "--project", str(root)).returncode == 0
    return cli_sql(root, CUSTOMERS)


def test_a_killed_run_is_finished_by_resume_on_its_own_outputs(tmp_path: Path, reference: list[list[str]]) -> None:
    root = write_example(tmp_path / "project")
    killed = custdim("run", "--project", str(root), failpoint="stage.match.ran")
    assert killed.returncode == FAILPOINT_EXIT
    project = Project.load(root)
    [dead] = project.runs(1)
    assert dead.status == "killed" and dead.planned == list(STAGE_NAMES)
    assert "killed" in custdim("status", "--project", str(root)).stdout

    resumed = custdim("run", "--project", str(root), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumes run {dead.run_id}" in " ".join(resumed.stdout.split())
    [report] = project.runs(1)
    assert report.status == "succeeded" and report.resumes == dead.run_id
    # match ran but was never committed: it runs again, with everything after it, and nothing before it.
    assert [s.name for s in report.stages] == list(STAGE_NAMES[STAGE_NAMES.index("match") :])
    records = _records(root)
    assert {records[n] for n in STAGE_NAMES[: STAGE_NAMES.index("match")]} == {dead.run_id}
    assert {records[n] for n in STAGE_NAMES[STAGE_NAMES.index("match") :]} == {report.run_id}
    assert_consistent_export(root)
    assert cli_sql(root, CUSTOMERS) == reference

    # The run is finished: resuming again does nothing, and says so.
    again = custdim("run", "--project", str(root), "--resume")
    assert again.returncode == 0 and "nothing to resume" in again.stdout
    assert project.runs(1)[0].stages == []


def test_resume_of_a_resume_and_of_a_run_killed_in_its_first_stage(tmp_path: Path) -> None:
    root = write_example(tmp_path / "project")
    assert custdim("run", "--project", str(root), failpoint="stage.ingest.begun").returncode == FAILPOINT_EXIT
    first = custdim("run", "--project", str(root), "--resume", failpoint="stage.segments.ran")
    assert first.returncode == FAILPOINT_EXIT
    project = Project.load(root)
    [middle] = project.runs(1)
    assert middle.planned == list(STAGE_NAMES) and middle.status == "killed"
    done = custdim("run", "--project", str(root), "--resume")
    assert done.returncode == 0, done.stderr
    [last] = project.runs(1)
    assert last.resumes == middle.run_id
    assert [s.name for s in last.stages] == list(STAGE_NAMES[STAGE_NAMES.index("segments") :])
    assert_consistent_export(root)


def test_resume_refuses_an_edited_project_file_and_stage(tmp_path: Path) -> None:
    root = write_example(tmp_path / "project")
    assert custdim("run", "--project", str(root), failpoint="stage.merge.ran").returncode == FAILPOINT_EXIT
    project_file = root / "custdim.yaml"
    project_file.write_text(project_file.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    refused = custdim("run", "--project", str(root), "--resume")
    assert refused.returncode == 1
    assert "the project file changed since run" in refused.stderr and "Traceback" not in refused.stderr
    both = custdim("run", "--project", str(root), "--resume", "--stage", "publish")
    assert both.returncode == 2 and "cannot be combined with --stage" in both.stderr
    # A full run is always possible.
    assert custdim("run", "--project", str(root)).returncode == 0


def test_resume_on_a_new_lake_says_there_is_nothing(tmp_path: Path) -> None:
    root = write_example(tmp_path / "project")
    result = custdim("run", "--project", str(root), "--resume")
    assert result.returncode == 1 and "this lake has no runs yet" in result.stderr


def test_exit_statuses_tell_a_scheduler_what_to_do(tmp_path: Path) -> None:
    root = write_example(tmp_path / "project")
    project_file = root / "custdim.yaml"
    text = project_file.read_text(encoding="utf-8")

    project_file.write_text(text.replace("engine: duckdb", "engine: oracle"), encoding="utf-8")
    assert custdim("run", "--project", str(root)).returncode == 3  # the project file is wrong

    project_file.write_text(text, encoding="utf-8")
    (root / "data" / "orders.jsonl").unlink()
    missing = custdim("run", "--project", str(root))
    assert missing.returncode == 4 and "orders" in missing.stderr  # a source cannot be read
    [report] = Project.load(root).runs(1)
    assert report.status == "failed"

    assert custdim("run", "--project", str(root), "--no-such-option").returncode == 2
    documented = custdim("run", "--help").stdout
    for code in (0, 1, 2, 3, 4, 75, 130):
        assert code in EXIT_CODES and f"{code} " in " ".join(documented.split())
