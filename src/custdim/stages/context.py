"""What a stage gets to work with: the project, the lake, the engine and the run's report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from custdim.config import ProjectConfig
    from custdim.engines.base import Engine
    from custdim.lake import Lake
    from custdim.report import RunReport, StageReport

# (description, completed, total) -> None; the CLI renders it as a progress bar.
ProgressFn = Callable[[str, int, int], None]


def _no_progress(description: str, completed: int, total: int) -> None:
    return None


@dataclass
class RunContext:
    config: ProjectConfig
    lake: Lake
    engine: Engine
    run: RunReport
    progress: ProgressFn = field(default=_no_progress)
    # Match every record afresh (`custdim run --full`; always for unrecorded runs) instead of only the changed ones.
    full: bool = False

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @contextmanager
    def steps(self, description: str, total: int) -> Iterator[Callable[[], None]]:
        """Report progress of a stage made of ``total`` steps: call the yielded function after each one."""
        done = 0
        self.progress(description, 0, total)

        def advance() -> None:
            nonlocal done
            done += 1
            self.progress(description, done, total)

        yield advance


@dataclass(frozen=True)
class StageSpec:
    """A stage's name, the stages whose outputs it reads, and its body."""

    name: str
    requires: tuple[str, ...]
    run: Callable[[RunContext, StageReport], None]
    outputs: Callable[[RunContext], list[str]]
    description: str
