"""Start ``custdim serve sql`` as a real child process on a free loopback port, for the endpoint tests."""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

USER, PASSWORD = "analyst", "s3cret-Passw0rd"
READY = "custdim SQL endpoint on"
REQUIRE_CLIENTS = "CUSTDIM_REQUIRE_CLIENTS"  # set by CI: a missing client program fails instead of skipping


@dataclass
class Endpoint:
    process: subprocess.Popen[str]
    port: int
    banner: str

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} password={PASSWORD} dbname=custdim"

    def stop(self) -> str:
        """Stop the server (Ctrl-C) and return what it printed."""
        self.process.send_signal(2)
        try:
            out, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return out + err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_endpoint(project: Path, *options: str, users: str = f"{USER}:{PASSWORD}") -> Endpoint:
    port = free_port()
    env = {**os.environ, "CUSTDIM_SQL_USERS": users}
    command = [sys.executable, "-m", "custdim.cli.main", "serve", "sql", "-p", str(project), "--port", str(port)]
    process = subprocess.Popen([*command, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the endpoint exited: {process.communicate()}")
        if selector.select(timeout=0.5):
            line = process.stdout.readline()
            if READY in line:
                return Endpoint(process, port, line.strip())
    process.kill()
    raise AssertionError(f"the endpoint did not start: {process.communicate()}")


def client_program(name: str, *candidates: str) -> str:
    """The path of a client program; skipped when missing, unless CI requires every client."""
    for candidate in candidates or (name,):
        found = shutil.which(candidate) if "/" not in candidate else (candidate if Path(candidate).exists() else None)
        if found:
            return found
    if os.environ.get(REQUIRE_CLIENTS):
        pytest.fail(f"{name} is not installed (.ci/run installs it)")
    pytest.skip(f"{name} is not installed")
