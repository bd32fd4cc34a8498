"""Cloud storage emulators, started once per test run on loopback and stopped at its end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulators import servers


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Emulator]:
    """moto's S3 server (AWS_* variables point at it while it runs)."""
    with servers.moto_s3(tmp_path_factory.mktemp("moto")) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Emulator]:
    """Azurite's blob service (AZURE_STORAGE_CONNECTION_STRING points at it while it runs)."""
    with servers.azurite(tmp_path_factory.mktemp("azurite")) as emulator:
        yield emulator
