"""One run at a time: a second run over the same lake fails at once with the holder's name, or waits with --wait."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from custdim.lake.lock import LakeBusyError, RunLock
from custdim.project import Project
from tests.conftest import write_example
from tests.reliability.published import assert_consistent_export, custdim, start

HOLD = "run.locked:sleep=6"


def wait_for_lock(project_dir: Path, timeout: float = 60) -> dict[str, object]:
    lock = project_dir / "lake" / "_runs" / ".lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().strip():
            return dict(json.loads(lock.read_text()))
        time.sleep(0.1)
    raise AssertionError("the first run never took the lock")


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return write_example(tmp_path / "project")


def test_a_second_run_fails_at_once_naming_the_run_in_the_way(project_dir: Path) -> None:
    first = start("run", "--project", str(project_dir), failpoint=HOLD)
    holder = wait_for_lock(project_dir)

    began = time.monotonic()
    second = custdim("run", "--project", str(project_dir))
    assert time.monotonic() - began < 30  # it did not wait for the first run
    assert second.returncode == 75  # EX_TEMPFAIL: the lake is busy, try again later
    assert f"another run ({holder['run_id']}, started " in second.stderr
    assert "is using this lake" in second.stderr and "--wait" in second.stderr
    assert "Traceback" not in second.stderr + second.stdout

    _, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    assert_consistent_export(project_dir)
    assert not (project_dir / "lake" / "_runs" / ".lock").exists()


def test_two_runs_started_together_one_wins_and_the_export_is_complete(project_dir: Path) -> None:
    runs = [start("run", "--project", str(project_dir), failpoint="run.locked:sleep=3") for _ in range(2)]
    results = [(p.wait(timeout=180), p.communicate()[1]) for p in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 75], results
    loser = next(err for code, err in results if code == 75)
    assert "is using this lake" in loser and "Traceback" not in loser
    assert_consistent_export(project_dir)
    reports = Project.load(project_dir).runs()
    assert [r.status for r in reports] == ["succeeded"]


def test_wait_queues_behind_the_running_run(project_dir: Path) -> None:
    first = start("run", "--project", str(project_dir), failpoint="run.locked:sleep=4")
    wait_for_lock(project_dir)
    second = custdim("run", "--project", str(project_dir), "--wait")
    assert second.returncode == 0, second.stderr
    assert first.wait(timeout=180) == 0
    reports = Project.load(project_dir).runs()
    assert [r.status for r in reports] == ["succeeded", "succeeded"]
    # The waiting run started only after the first one had finished.
    assert reports[0].started_at >= reports[1].finished_at  # type: ignore[operator]
    assert_consistent_export(project_dir)


def test_a_lock_left_by_a_dead_process_is_taken_over(project_dir: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    lock = project_dir / "lake" / "_runs" / ".lock"
    lock.parent.mkdir(parents=True)
    holder = {"run_id": "crashed-run", "host": socket.gethostname(), "pid": pid, "started_at": "2026-01-01"}
    lock.write_text(json.dumps(holder))

    report = Project.load(project_dir).run()
    assert report.status == "succeeded"
    assert any("stale lock" in note and "crashed-run" in note for note in report.notes)
    assert not lock.exists()


def test_a_live_holder_on_this_host_is_respected(project_dir: Path) -> None:
    project = Project.load(project_dir)
    lock = RunLock(project.lake)
    with lock.hold("holder-run"):
        with pytest.raises(LakeBusyError, match=r"another run \(holder-run, started .*pid " + str(os.getpid())):
            project.run()
        # Writers outside a run (unify diff, unify train) take the same lock.
        with pytest.raises(LakeBusyError):
            project.lock("preview").__enter__()
    assert lock.holder() is None


def test_a_damaged_lock_file_is_removed_only_when_it_stays_damaged(project_dir: Path) -> None:
    """A lock file that is not a lock (bytes no run writes) is cleared after a pause; the note says so, and the
    lock this run then takes is whole from the start (never an empty file a reader could catch)."""
    project = Project.load(project_dir)
    lock_path = project_dir / "lake" / "_runs" / ".lock"
    lock_path.parent.mkdir(parents=True)
    lock_path.write_bytes(b"\x00\x00 not json")
    lock = RunLock(project.lake)
    assert lock.holder() is None
    notes = lock.acquire("after-damage")
    assert notes == ["removed an unreadable lock file"]
    holder = json.loads(lock_path.read_text())
    assert holder["run_id"] == "after-damage" and holder["pid"] == os.getpid()
    assert sorted(p.name for p in lock_path.parent.iterdir()) == [".lock"]  # no private file left behind
    lock.release("after-damage")
    assert not lock_path.exists()
