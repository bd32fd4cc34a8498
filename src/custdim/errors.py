"""One exception hierarchy for the whole project.

Every error a user can cause derives from :class:`CustdimError`; the CLI prints those as ``Error: ...`` and exits 1.
Anything else is a bug: the CLI still prints one line for it, and its traceback with ``--debug``.
"""

from __future__ import annotations


class CustdimError(Exception):
    """Base of all errors custdim raises on purpose.

    ``exit_code`` is the CLI's exit status for the error, so a scheduler can tell "fix the project" from "try
    again later" (see EXIT_CODES).
    """

    exit_code = 1


class ConfigError(ValueError, CustdimError):
    """The project file is wrong: the message names the file, the key path and what was expected."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.detail = message
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {message}")

    exit_code = 3


class SourceError(CustdimError):
    """A source file or table cannot be read at all (missing, empty, unreadable, database unreachable)."""

    exit_code = 4


class StageError(CustdimError):
    """A stage cannot run, e.g. because the stage it depends on never produced its output."""


class EngineError(CustdimError):
    """The chosen engine is not available or failed to start."""


class UsageError(CustdimError):
    """A command-line option is wrong or would do something unsafe; the message names the option."""

    exit_code = 2


EXIT_CODES = {
    0: "success (also: `--resume` found nothing to resume)",
    1: "the run failed: a stage failed, or an unexpected error (see the run report)",
    2: "the command line is wrong (unknown option, bad value)",
    3: "the project file is wrong: fix it; retrying will not help",
    4: "a source cannot be read (file missing, database unreachable): retrying may help once it is back",
    75: "the lake is busy: another run holds its lock; retry later or use --wait",
    130: "interrupted (Ctrl-C, SIGINT)",
}
"""The CLI's exit statuses, for cron, Airflow and other schedulers (``custdim run --help`` lists them)."""
