"""A throw-away PostgreSQL server for the tests: a new cluster in a temp folder, on a free loopback port.

Started once per test run (per pytest-xdist worker) by the ``postgres`` fixture in conftest.py and stopped at the
end. The server binaries come from the machine (Debian's ``postgresql`` package; ``.ci/run`` installs it). initdb
refuses to run as root, so as root the cluster belongs to the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ADMIN = "custdim_admin"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    data_dir: Path

    def url(self, database: str, password: str | None = None) -> str:
        """A SQLAlchemy URL (psycopg 3) for ``database``; ``password`` overrides the real one."""
        return f"postgresql+psycopg://{self.user}:{password or self.password}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} password={self.password} dbname={database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')
            con.execute(f'CREATE DATABASE "{name}"')


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: PATH, pg_config --bindir, or Debian's versioned folders."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        folder = Path(done.stdout.strip())
        if (folder / "initdb").exists():
            return folder
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(binaries: Path) -> PostgresServer:
    """initdb a new cluster (SCRAM passwords only) and start it on 127.0.0.1."""
    root = Path(tempfile.mkdtemp(prefix="custdim-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    password = secrets.token_urlsafe(18)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for p in (root, sockets, pwfile):
            os.chown(p, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", ADMIN, "--pwfile", str(pwfile),
         "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC"
    subprocess.run(
        [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"),
         "-w", "-t", "60", "start"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return PostgresServer("127.0.0.1", port, ADMIN, password, data)


def stop(server: PostgresServer, binaries: Path) -> None:
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*as_user, str(binaries / "pg_ctl"), "-D", str(server.data_dir), "-m", "immediate", "-w", "stop"],
        check=False, capture_output=True,
    )  # fmt: skip
    shutil.rmtree(server.data_dir.parent, ignore_errors=True)
