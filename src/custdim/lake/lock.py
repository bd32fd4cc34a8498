"""One run at a time per lake: a lock file in ``_runs/`` naming its holder.

Two runs over one lake would overwrite each other's work tables and race on the publish swap, so every command
that writes the lake holds this lock. The file is created exclusively and whole: on local disks by hard-linking a
written private file to the lock's name, on S3 and Azure Blob Storage by a conditional create (If-None-Match: *), so
of two runs starting together exactly one gets it and nobody reads a half-written lock. Its JSON names the holder's run
id, host, pid and start time, so a second run can say who is in the way. A lock whose holder process is gone (same
host, pid no longer alive or reused by another program) is stale and is taken over; a waiting run removes another's
lock only then, or when the file stays unreadable, and only if it still holds the bytes it judged.
"""

from __future__ import annotations

import json
import os
import socket
import threading
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


def _parse(raw: bytes | None) -> LockHolder | None:
    if raw is None:
        return None
    try:
        return LockHolder(**json.loads(raw.decode("utf-8")))
    except (ValueError, TypeError):  # UnicodeDecodeError is a ValueError
        return None


def _create_local(path: str, text: str) -> bool:
    """Create the lock file with its content in one step: written to a private file first, then hard-linked to the
    lock's name, which fails if the name exists. A reader never sees an empty lock, even if this process dies
    between creating and writing it."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    Path(tmp).write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError:
        # No hard links on this filesystem (some network mounts): exclusive create, then write.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


class RunLock:
    """The lake's run lock. Use :meth:`hold` as a context manager."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.path = lake.path("_runs", LOCK_FILE)

    def _raw(self) -> bytes | None:
        """The lock file's bytes, None when there is none. Other read errors (a throttled or failed request) raise
        OSError: an unreadable lock is not a free one."""
        try:
            # One request (cat_file), not open+read: on Azure a file object checks the blob, then downloads it; a
            # lock released between the two raised the SDK's own not-found error instead of FileNotFoundError.
            return bytes(self.lake.fs.cat_file(self.path))
        except FileNotFoundError:
            return None

    def holder(self) -> LockHolder | None:
        """Who holds the lock now (None when free or unreadable)."""
        try:
            raw = self._raw()
        except OSError:
            return None
        return None if raw is None else _parse(raw)

    def live_holder(self) -> LockHolder | None:
        """Who holds the lock now and is still running (None when free, unreadable or left by a dead process)."""
        current = self.holder()
        return current if current is not None and _alive(current) else None

    def _try_create(self, holder: LockHolder) -> bool:
        self.lake.makedirs(self.lake.path("_runs"))
        text = json.dumps(asdict(holder), indent=2) + "\n"
        if self.lake.is_local:
            return _create_local(self.path, text)
        # Object stores create a blob conditionally (S3 PutObject If-None-Match: *, Azure Blob commit with
        # If-None-Match: *): of two runs creating the lock at once exactly one succeeds, the other gets a conflict.
        # The blob appears whole in that one request, so a lock is never seen half-written.
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
            try:
                raw = self._raw()
            except OSError:
                raw, current = b"", None  # could not read it this time: treat it as held by someone unknown
            else:
                if raw is None:
                    continue  # released between our create and our read: try again at once
                current = _parse(raw)
                if current is None:
                    # Not a lock this version writes (locks appear whole): a damaged file, or one left by an older
                    # version that crashed mid-write. Removed only when it is still the same bytes after a pause,
                    # so a lock that changed hands meanwhile is never the one removed.
                    time.sleep(POLL_SECONDS)
                    if self._raw_or_none() == raw:
                        notes.append("removed an unreadable lock file")
                        self._remove_if_bytes(raw)
                    continue
                if not _alive(current):
                    notes.append(f"took over a stale lock left by run {current.describe()}")
                    self._remove_if_bytes(raw)
                    continue
            if not wait or (deadline is not None and time.monotonic() > deadline):
                who = current.describe() if current else "unknown"
                raise LakeBusyError(
                    f"another run ({who}) is using this lake ({self.lake.root}); "
                    "wait for it to finish or run with --wait"
                )
            time.sleep(POLL_SECONDS)
        return notes

    def _raw_or_none(self) -> bytes | None:
        try:
            return self._raw()
        except OSError:
            return None

    def _remove_if_bytes(self, raw: bytes) -> None:
        """Remove the lock if it still holds exactly ``raw``. Only a dead or damaged lock is removed by another
        run; its bytes are re-read right before the delete, so the window in which a new holder's lock could be
        removed is one request wide, and only opens when a run crashed."""
        if self._raw_or_none() == raw:
            with suppress(FileNotFoundError):
                self.lake.fs.rm(self.path)

    def release(self, run_id: str) -> None:
        raw = self._raw_or_none()
        current = _parse(raw)
        if raw is not None and current is not None and current.run_id == run_id and current.pid == os.getpid():
            self._remove_if_bytes(raw)

    @contextmanager
    def hold(self, run_id: str, wait: bool = False) -> Iterator[list[str]]:
        """Hold the lock for the duration of the block; yields the acquisition notes."""
        notes = self.acquire(run_id, wait=wait)
        try:
            yield notes
        finally:
            self.release(run_id)
