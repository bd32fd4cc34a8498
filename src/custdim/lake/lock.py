"""One run at a time per lake: a lock file in ``_runs/`` naming its holder.

Two runs over one lake would overwrite each other's work tables and race on the publish swap, so every command
that writes the lake holds this lock. The file is created exclusively: with O_EXCL on local disks, with a conditional
create (If-None-Match: *) on S3 and Azure Blob Storage, so of two runs starting together exactly one gets it. Its
JSON names the holder's run id, host, pid and start time, so a second run can say who is in the way. A lock whose holder
process is gone (same host, pid no longer alive or reused by another program) is stale and is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from custdim.errors import CustdimError
from custdim.report import now_iso

if TYPE_CHECKING:
    from custdim.lake.layout import Lake

LOCK_FILE = ".lock"
POLL_SECONDS = 0.5


class LakeBusyError(CustdimError):
    """Another run holds the lake's lock."""

    exit_code = 75  # EX_TEMPFAIL (sysexits.h): schedulers read it as "try again later"


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    host: str
    pid: int
    started_at: str
    # The holder process's start time (Linux clock ticks since boot): a recycled pid does not look alive.
    process_start: str | None = None

    def describe(self) -> str:
        return f"{self.run_id}, started {self.started_at}, pid {self.pid} on {self.host}"


def _process_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(holder: LockHolder) -> bool:
    if holder.host != socket.gethostname():
        return True  # cannot tell from here: never take over another machine's lock
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return holder.process_start is None or _process_start(holder.pid) in (None, holder.process_start)


class RunLock:
    """The lake's run lock. Use :meth:`hold` as a context manager."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.path = lake.path("_runs", LOCK_FILE)

    def holder(self) -> LockHolder | None:
        """Who holds the lock now (None when free or unreadable)."""
        try:
            # One request (cat_file), not open+read: on Azure a file object checks the blob, then downloads it; a
            # lock released between the two raised the SDK's own not-found error instead of FileNotFoundError.
            data = json.loads(self.lake.fs.cat_file(self.path).decode("utf-8"))
            return LockHolder(**data)
        except (OSError, ValueError, TypeError):  # UnicodeDecodeError is a ValueError
            return None

    def live_holder(self) -> LockHolder | None:
        """Who holds the lock now and is still running (None when free, unreadable or left by a dead process)."""
        current = self.holder()
        return current if current is not None and _alive(current) else None

    def _try_create(self, holder: LockHolder) -> bool:
        self.lake.makedirs(self.lake.path("_runs"))
        text = json.dumps(asdict(holder), indent=2) + "\n"
        if self.lake.is_local:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return True
        # Object stores create a blob conditionally (S3 PutObject If-None-Match: *, Azure Blob commit with
        # If-None-Match: *): of two runs creating the lock at once exactly one succeeds, the other gets a conflict.
        try:
            with self.lake.fs.open(self.path, "xb") as fh:
                fh.write(text.encode("utf-8"))
        except FileExistsError:
            return False
        except (NotImplementedError, ValueError):
            return self._check_write_read_back(holder, text)
        return True

    def _check_write_read_back(self, holder: LockHolder, text: str) -> bool:
        """For filesystems without an exclusive create: the last writer wins and the loser backs off (a narrow
        race remains between the check and the write)."""
        if self.lake.exists(self.path):
            return False
        with self.lake.fs.open(self.path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return self.holder() == holder

    def acquire(self, run_id: str, wait: bool = False, timeout: float | None = None) -> list[str]:
        """Take the lock for ``run_id``; returns notes (e.g. a stale lock taken over). Raises LakeBusyError."""
        me = LockHolder(run_id, socket.gethostname(), os.getpid(), now_iso(), _process_start(os.getpid()))
        notes: list[str] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._try_create(me):
            current = self.holder()
            if current is not None and not _alive(current):
                notes.append(f"took over a stale lock left by run {current.describe()}")
                self._remove_if(current)
                continue
            if current is None and self.lake.exists(self.path):
                # Being written this very moment, or left empty by a crash during the write: give it a moment.
                time.sleep(POLL_SECONDS)
                if self.holder() is None:
                    self.lake.remove(self.path)
                continue
            if not wait or (deadline is not None and time.monotonic() > deadline):
                who = current.describe() if current else "unknown"
                raise LakeBusyError(
                    f"another run ({who}) is using this lake ({self.lake.root}); "
                    "wait for it to finish or run with --wait"
                )
            time.sleep(POLL_SECONDS)
        return notes

    def _remove_if(self, holder: LockHolder) -> None:
        if self.holder() == holder:
            with suppress(FileNotFoundError):
                self.lake.fs.rm(self.path)

    def release(self, run_id: str) -> None:
        current = self.holder()
        if current is not None and current.run_id == run_id and current.pid == os.getpid():
            self._remove_if(current)

    @contextmanager
    def hold(self, run_id: str, wait: bool = False) -> Iterator[list[str]]:
        """Hold the lock for the duration of the block; yields the acquisition notes."""
        notes = self.acquire(run_id, wait=wait)
        try:
            yield notes
        finally:
            self.release(run_id)
