"""One exception hierarchy for the whole project.

Every error a user can cause derives from :class:`CustdimError`; the CLI prints those as ``Error: ...`` and exits 1.
Anything else is a bug: the CLI still prints one line for it, and its traceback with ``--debug``.
"""

from __future__ import annotations


class CustdimError(Exception):
    """Base of all errors custdim raises on purpose."""


class ConfigError(ValueError, CustdimError):
    """The project file is wrong: the message names the file, the key path and what was expected."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.detail = message
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {message}")


class SourceError(CustdimError):
    """A source file or table cannot be read at all (missing, empty, unreadable)."""


class StageError(CustdimError):
    """A stage cannot run, e.g. because the stage it depends on never produced its output."""


class EngineError(CustdimError):
    """The chosen engine is not available or failed to start."""


class UsageError(CustdimError):
    """A command-line option is wrong or would do something unsafe; the message names the option."""
