"""Which run produced each stage's work tables, and from which inputs.

A stage's outputs are committed by a small record (``work/_state/<stage>.json``) written after the stage finished;
the record is removed when the stage starts again. So a stage killed half-way has no record, and a stage re-run
later makes the records of the stages built on it stale. ``custdim run --stage X`` checks the whole chain of
records below X first and refuses to mix outputs of different runs (a new Customer with an old AlternateKey).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from custdim.errors import StageError
from custdim.report import now_iso

if TYPE_CHECKING:
    from custdim.lake import Lake
    from custdim.stages.context import StageSpec

STATE_VERSION = 1


@dataclass(frozen=True)
class StageRecord:
    stage: str
    run_id: str
    # For each stage this one read: the run whose outputs it read.
    inputs: dict[str, str] = field(default_factory=dict)
    finished_at: str = field(default_factory=now_iso)
    version: int = STATE_VERSION


def read(lake: Lake, stage: str) -> StageRecord | None:
    """The commit record of a stage (None if it never finished, or was started again and did not finish)."""
    path = lake.state(stage)
    if not lake.exists(path):
        return None
    try:
        data = lake.read_json(path)
        return StageRecord(**data)
    except (ValueError, TypeError):
        return None  # an unreadable record commits nothing


def begin(lake: Lake, stage: str) -> None:
    """Withdraw a stage's commit record before it starts overwriting its outputs."""
    lake.remove(lake.state(stage))


def commit(lake: Lake, spec: StageSpec, run_id: str) -> StageRecord:
    """Record that ``run_id`` finished ``spec`` on the current outputs of the stages it requires."""
    inputs = {}
    for name in spec.requires:
        upstream = read(lake, name)
        assert upstream is not None, f"{spec.name} ran without a committed {name}"
        inputs[name] = upstream.run_id
    record = StageRecord(spec.name, run_id, inputs)
    lake.write_json(lake.state(spec.name), asdict(record))
    return record


def _missing(name: str) -> StageError:
    return StageError(
        f"the outputs of stage {name!r} are missing or incomplete (it never finished, or the last run stopped "
        f"during it): run `custdim run --stage {name}` first, or a full `custdim run`"
    )


def check_chain(lake: Lake, requires: tuple[str, ...], specs: dict[str, StageSpec]) -> None:
    """Refuse to run a stage on inputs that are missing, half-written or from runs that do not fit together."""
    seen: set[str] = set()
    todo = list(requires)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        record = read(lake, name)
        if record is None:
            raise _missing(name)
        for upstream, used in record.inputs.items():
            current = read(lake, upstream)
            if current is None:
                raise _missing(upstream)
            if current.run_id != used:
                raise StageError(
                    f"stage {name!r} (run {record.run_id}) was built on the outputs of {upstream!r} from run {used}, "
                    f"but {upstream!r} now holds run {current.run_id}: the work tables do not belong to one run; "
                    f"run `custdim run --stage {name}` first, or a full `custdim run`"
                )
        todo.extend(specs[name].requires)
