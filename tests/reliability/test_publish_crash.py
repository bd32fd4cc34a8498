"""A run killed at any step of publishing, once or several times in a row, never leaves readers a broken export.

Each crash is a real ``custdim`` process ended with ``os._exit`` at a named point (no cleanup runs, as with
``kill -9``). After every crash: ``custdim sql`` answers from one complete snapshot, the manifest and the catalog
name that same snapshot, and the next run succeeds and leaves no temporary files behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from custdim.contracts import EXPORT_ENTITIES
from custdim.failpoints import FAILPOINT_EXIT
from custdim.project import Project
from custdim.stages.publish import snapshots
from custdim.stages.publish.stage import KEEP_SNAPSHOTS
from tests.conftest import write_example
from tests.reliability.published import assert_consistent_export, custdim, leftovers

PUBLISH_POINTS = (
    "run.locked",
    "stage.publish.begun",
    "publish.start",
    # The copy loop does the same for every entity: a crash after the first, the second and the last copy covers
    # it (one subprocess run each; all sixteen took ~100 s of the suite).
    *(f"publish.copied.{name}" for name in (EXPORT_ENTITIES[0], EXPORT_ENTITIES[1], EXPORT_ENTITIES[-1])),
    "publish.snapshot_complete",
    "publish.manifest_swapped",
    "catalog.before_swap",
    "publish.catalog_swapped",
    "publish.pruned_one",
    "publish.pruned",
    "stage.publish.ran",
)


@pytest.fixture(scope="module")
def published_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project published KEEP_SNAPSHOTS times, so that the next publish also prunes one."""
    root = write_example(tmp_path_factory.mktemp("template") / "project")
    project = Project.load(root)
    project.run()
    for _ in range(KEEP_SNAPSHOTS - 1):
        project.run(stage="publish")
    assert len(snapshots.all_snapshots(project.lake)) == KEEP_SNAPSHOTS
    return root


def copy_of(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(template, target)
    return target


def crash(project_dir: Path, point: str, *args: str) -> None:
    result = custdim("run", "--project", str(project_dir), *args, failpoint=point)
    assert result.returncode == FAILPOINT_EXIT, f"{point} was not reached:\n{result.stdout}\n{result.stderr}"


def add_contact(project_dir: Path, n: int) -> None:
    contacts = project_dir / "data" / "contacts.csv"
    contacts.write_text(contacts.read_text() + f"N{n:03d},New{n},Person{n},new{n}@example.com,,Austin,73301\n")


@pytest.mark.parametrize("point", PUBLISH_POINTS)
def test_a_crash_at_any_publish_step_leaves_a_complete_export(
    published_template: Path, tmp_path: Path, point: str
) -> None:
    project_dir = copy_of(published_template, tmp_path)
    before = assert_consistent_export(project_dir)

    crash(project_dir, point, "--stage", "publish")
    after_crash = assert_consistent_export(project_dir)
    # Until the manifest is replaced readers keep the old snapshot; from then on they see the new one.
    committed = point in ("publish.manifest_swapped", "catalog.before_swap") or point.startswith(
        ("publish.catalog", "publish.pruned", "stage.publish.ran")
    )
    assert (after_crash != before) == committed

    result = custdim("run", "--project", str(project_dir), "--stage", "publish")
    assert result.returncode == 0, result.stderr
    final = assert_consistent_export(project_dir)
    assert final not in (before, after_crash)
    assert leftovers(project_dir) == []
    lake = Project.load(project_dir).lake
    snaps = snapshots.all_snapshots(lake)
    assert all(snapshots.is_complete(lake, s) for s in snaps)
    assert len(snaps) == KEEP_SNAPSHOTS


@pytest.mark.parametrize(
    "points",
    [
        # The sequence: two crashes mid-copy, then one right after pruning.
        ("publish.copied.AlternateKey", "publish.copied.UnifiedActivity", "publish.pruned_one"),
        ("publish.manifest_swapped", "catalog.before_swap", "publish.copied.Customer"),
        ("publish.pruned_one", "publish.pruned_one", "publish.snapshot_complete"),
    ],
    ids=["mid-copy-twice-then-prune", "around-the-swap", "pruning-twice"],
)
def test_three_crashes_in_a_row_then_a_clean_run(
    published_template: Path, tmp_path: Path, points: tuple[str, ...]
) -> None:
    project_dir = copy_of(published_template, tmp_path)
    seen = [assert_consistent_export(project_dir)]
    for n, point in enumerate(points):
        add_contact(project_dir, n)  # each run publishes something new, so old and new exports differ
        crash(project_dir, point)
        seen.append(assert_consistent_export(project_dir))

    result = custdim("run", "--project", str(project_dir))
    assert result.returncode == 0, result.stderr
    assert assert_consistent_export(project_dir) not in seen
    assert leftovers(project_dir) == []
    names = Project.load(project_dir).sql("SELECT FirstName FROM Customer").column(0).to_pylist()
    assert {f"New{n}" for n in range(len(points))} <= set(names)


def test_a_csv_export_survives_crashes_the_same_way(tmp_path: Path) -> None:
    """The commit protocol does not depend on the file format (readers count CSV rows by parsing them)."""
    project_dir = write_example(tmp_path / "project")
    text = (project_dir / "custdim.yaml").read_text()
    (project_dir / "custdim.yaml").write_text(text + "\nexport:\n  format: csv\n")
    Project.load(project_dir).run()
    before = assert_consistent_export(project_dir)
    for point in ("publish.copied.UnifiedActivity", "publish.snapshot_complete"):
        crash(project_dir, point, "--stage", "publish")
        assert assert_consistent_export(project_dir) == before
    crash(project_dir, "publish.manifest_swapped", "--stage", "publish")
    swapped = assert_consistent_export(project_dir)
    assert swapped != before
    add_contact(project_dir, 0)
    result = custdim("run", "--project", str(project_dir))
    assert result.returncode == 0, result.stderr
    assert assert_consistent_export(project_dir) not in (before, swapped)
    assert leftovers(project_dir) == []
    names = Project.load(project_dir).sql("SELECT FirstName FROM Customer").column(0).to_pylist()
    assert "New0" in names


def test_a_crash_after_the_swap_is_repaired_by_the_next_reader(published_template: Path, tmp_path: Path) -> None:
    project_dir = copy_of(published_template, tmp_path)
    add_contact(project_dir, 7)
    crash(project_dir, "publish.manifest_swapped")
    # The manifest already names the new snapshot; the catalog still named the old one until a reader came.
    names = Project.load(project_dir).sql("SELECT FirstName FROM Customer").column(0).to_pylist()
    assert "New7" in names
    assert_consistent_export(project_dir)


def test_temp_files_of_a_killed_catalog_build_are_removed_by_the_next_run(
    published_template: Path, tmp_path: Path
) -> None:
    project_dir = copy_of(published_template, tmp_path)
    crash(project_dir, "catalog.before_swap", "--stage", "publish")
    assert leftovers(project_dir), "the killed build left its temporary catalog"
    report = Project.load(project_dir).run(stage="publish")
    assert leftovers(project_dir) == []
    assert any("leftover" in note for note in report.notes)
