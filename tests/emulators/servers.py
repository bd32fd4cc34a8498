"""Cloud storage emulators for the test suite: Azurite (Azure Blob) and moto's S3 server, on loopback only.

Each server runs as a child process on a free port chosen at start, with its data in a temporary folder, and is
stopped by the fixture that started it. Azurite comes from npm: ``package.json`` / ``package-lock.json`` beside this
file pin it, and ``npm ci`` installs it on first use. Without node/npm (or moto) the tests that need an emulator are
skipped with the reason, unless ``CUSTDIM_REQUIRE_CLIENTS=1`` makes a missing client a failure (CI sets it).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
REQUIRE_ENV = "CUSTDIM_REQUIRE_CLIENTS"
START_SECONDS = 60
NPM_SECONDS = 900

# Azurite's well-known development account (public, documented, only ever valid against the emulator).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
S3_KEY_ID = "testing"
S3_SECRET = "testing"  # moto accepts any credentials
S3_REGION = "us-east-1"


def unavailable(reason: str) -> None:
    """Skip the requesting test, or fail it when the clients are required."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Emulator:
    """A running emulator: the environment variables that point clients at it, and its process."""

    name: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    containers: list[str] = field(default_factory=list)

    def new_container(self, scheme: str) -> str:
        """A new, empty bucket/container; returns its URL (``<scheme>://<name>``)."""
        import fsspec

        name = f"t{uuid.uuid4().hex[:12]}"
        fs = fsspec.filesystem(scheme)
        fs.mkdir(name)
        self.containers.append(name)
        return f"{scheme}://{name}"


def _wait_until_listening(name: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} at start:\n{log.read_text(errors='replace')}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{name} did not listen on {LOOPBACK}:{port} within {START_SECONDS} s")


@contextmanager
def _running(name: str, command: list[str], port: int, log: Path, env: dict[str, str]) -> Iterator[Emulator]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=HERE)
    try:
        _wait_until_listening(name, port, process, log)
        with _environment(env):
            yield Emulator(name, env, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    # Set for this process and every custdim child process the tests start; restored when the emulator stops.
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def azurite_script() -> Path:
    """Azurite's blob service entry point, installed with ``npm ci`` from the lock file when missing."""
    script = HERE / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if script.exists():
        return script
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("Azurite needs node and npm, which are not installed")
    # pytest-xdist workers may get here together: one installs, the others wait for it and find the script.
    with (HERE / ".npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if script.exists():
            return script
        result = subprocess.run(
            [str(npm), "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=NPM_SECONDS,
            check=False,
        )
    if result.returncode != 0 or not script.exists():
        unavailable(f"npm ci could not install Azurite:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return script


@contextmanager
def azurite(data_dir: Path) -> Iterator[Emulator]:
    """Azurite's blob service; clients find it through AZURE_STORAGE_CONNECTION_STRING."""
    script = azurite_script()
    node = shutil.which("node")
    assert node is not None
    port = free_port()
    command = [
        node,
        str(script),
        "--blobHost",
        LOOPBACK,
        "--blobPort",
        str(port),
        "--location",
        str(data_dir),
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
    ]
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://{LOOPBACK}:{port}/{AZURITE_ACCOUNT};"
    )
    env = {"AZURE_STORAGE_CONNECTION_STRING": connection}
    with _running("Azurite", command, port, data_dir / "azurite.log", env) as emulator:
        yield emulator


@contextmanager
def moto_s3(data_dir: Path) -> Iterator[Emulator]:
    """moto's S3 server; clients find it through AWS_ENDPOINT_URL and the AWS_* keys."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("s3fs") is None:
        unavailable("the S3 tests need moto[server] and s3fs (pip install -e '.[dev,cloud]')")
    port = free_port()
    # Our entry point, not moto.server: it keeps S3's atomic conditional create (see moto_s3.py).
    command = [sys.executable, str(HERE / "moto_s3.py"), "-H", LOOPBACK, "-p", str(port)]
    env = {
        "AWS_ACCESS_KEY_ID": S3_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_ENDPOINT_URL": f"http://{LOOPBACK}:{port}",
        "AWS_REGION": S3_REGION,
        "AWS_DEFAULT_REGION": S3_REGION,
    }
    with _running("moto S3", command, port, data_dir / "moto.log", env) as emulator:
        yield emulator
