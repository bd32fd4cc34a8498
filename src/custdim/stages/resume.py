"""`custdim run --resume`: what is left of the last run when it failed or was killed.

A run commits each stage with a record naming the run (see :mod:`custdim.stages.state`). Resuming continues the
last run's own plan from its first stage without such a record, on exactly the outputs that run committed, so the
result is one run's chain of outputs, never a mix: the project file must be the one that run read, and the stages
below the resume point are checked as one chain before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custdim.errors import StageError
from custdim.stages import state

if TYPE_CHECKING:
    from custdim.lake import Lake
    from custdim.report import RunReport
    from custdim.stages.context import StageSpec


def plan(lake: Lake, last: list[RunReport], report: RunReport) -> list[StageSpec]:
    """The stages ``report``'s run must run to finish ``last[0]`` (the lake's previous run); notes why in the report.

    Empty when the previous run succeeded. Raises StageError when there is nothing that can be resumed safely.
    """
    from custdim.stages.registry import stage

    if not last:
        raise StageError("nothing to resume: this lake has no runs yet; run `custdim run`")
    previous = last[0]
    if previous.status == "succeeded":
        report.notes.append(f"nothing to resume: the last run ({previous.run_id}) succeeded")
        return []
    if not previous.planned or previous.project_sha256 is None:
        raise StageError(
            f"run {previous.run_id} was made by an older custdim that did not record its plan; "
            "run `custdim run` in full instead of resuming it"
        )
    if previous.project_sha256 != report.project_sha256:
        raise StageError(
            f"the project file changed since run {previous.run_id} stopped: resuming would mix outputs of two "
            "project files; run `custdim run` in full"
        )
    done: list[str] = []
    for name in previous.planned:
        record = state.read(lake, name)
        if record is None or record.run_id != previous.run_id:
            break
        done.append(name)
    remaining = previous.planned[len(done) :]
    report.resumes = previous.run_id
    how = "was killed" if previous.status in ("running", "killed") else previous.status
    if remaining:
        report.notes.append(
            f"resumes run {previous.run_id}, which {how} after {len(done)} of {len(previous.planned)} stages "
            f"({', '.join(done) or 'none finished'}): runs {', '.join(remaining)}"
        )
    else:
        report.notes.append(f"resumes run {previous.run_id}: every stage it planned had finished; nothing to run")
    return [stage(name) for name in remaining]
