"""Shared fixtures: the issue's example project, a small generated demo run, and one Spark session per test run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custdim.project import Project

EXAMPLE_YAML = """\
name: example
lake: lake
engine: duckdb
sources:
  - name: crm
    type: files
    tables:
      - name: contacts
        path: data/contacts.csv
        format: csv
        primary_key: contact_id
  - name: shop
    type: files
    tables:
      - name: accounts
        path: data/accounts.parquet
        format: parquet
        primary_key: account_id
      - name: orders
        path: data/orders.jsonl
        format: jsonl
        primary_key: order_id
unify:
  tables:
    - table: crm.contacts
      fields:
        first_name: Person.FirstName
        last_name: Person.LastName
        email: Identity.Service.Email
        phone: Identity.Service.Phone
        city: Location.City
        zip: Location.PostalCode
    - table: shop.accounts
      fields:
        given_name: Person.FirstName
        family_name: Person.LastName
        email_address: Identity.Service.Email
        postcode: Location.PostalCode
  match:
    order: [crm.contacts, shop.accounts]
    rules:
      - name: same-email
        conditions:
          - {field: Email, precision: exact, normalize: [whitespace, lowercase]}
      - name: same-name-and-zip
        conditions:
          - {field: LastName, precision: exact, normalize: [lowercase, unicode]}
          - {field: FirstName, precision: exact, normalize: [lowercase, unicode]}
          - {field: PostalCode, precision: exact}
  merge:
    default: importance
activities:
  - table: shop.orders
    type: SalesOrder
    customer: {table: shop.accounts, foreign_key: account_id}   # orders.account_id -> accounts' primary key
    timestamp: ordered_at
    amount: total
"""

CONTACTS_CSV = """\
contact_id,first_name,last_name,email,phone,city,zip
C001,José,Müller,jose@example.com,(555) 123-4567,Boston,02134
C002,Anna,Smith,ANNA@EXAMPLE.COM ,555.222.3333,Salem,01970
C003,Bob,Brown,,5551112222,Boston,02134
C004,Carla,Diaz,carla@example.com,,Austin,73301
"""

ACCOUNTS = {
    "account_id": ["A01", "A02", "A03", "A04"],
    "given_name": ["Jose", "Anna", "Zed", "Bob"],
    "family_name": ["Muller", "Smith", "Zulu", "Brown"],
    "email_address": ["other@example.com", "anna@example.com", None, None],
    "postcode": ["02134", "01970", "99999", "02134"],
}

ORDERS = [
    {"order_id": "O1", "account_id": "A01", "ordered_at": "2026-01-02T10:00:00", "total": 10.5, "status": "done"},
    {"order_id": "O2", "account_id": "A02", "ordered_at": "2026-02-02T10:00:00", "total": 20.0, "status": "done"},
    {"order_id": "O3", "account_id": "A01", "ordered_at": "2026-03-02T10:00:00", "total": 7.25, "status": "returned"},
    {"order_id": "O4", "account_id": "A04", "ordered_at": "2026-03-05T09:30:00", "total": 3.0, "status": "done"},
]


def write_example(root: Path, contacts_csv: str = CONTACTS_CSV, yaml_text: str = EXAMPLE_YAML) -> Path:
    """Write the issue's example project file and small source files into ``root``."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "custdim.yaml").write_text(yaml_text, encoding="utf-8")
    (root / "data" / "contacts.csv").write_text(contacts_csv, encoding="utf-8")
    pq.write_table(pa.table(ACCOUNTS), root / "data" / "accounts.parquet")
    (root / "data" / "orders.jsonl").write_text("\n".join(json.dumps(o) for o in ORDERS) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """A folder holding the example project (not yet run)."""
    return write_example(tmp_path / "example")


@pytest.fixture
def example_project(example_dir: Path) -> Project:
    return Project.load(example_dir)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo pipeline at small scale on DuckDB, run once per test session."""
    from custdim.demo.runner import run_demo

    return run_demo(tmp_path_factory.mktemp("demo"), customers=1200, seed=7)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    """One local Spark session for the whole test run."""
    from custdim.engines.spark import get_session

    session = get_session()
    yield session
    session.stop()  # type: ignore[attr-defined]


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine_name(request: pytest.FixtureRequest) -> str:
    """Each engine's name, for tests that run whole projects: they run once per engine."""
    if request.param == "spark":
        request.getfixturevalue("spark_session")
    return str(request.param)


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Each engine over an empty local lake: tests using it run once per engine."""
    from custdim.engines import create_engine
    from custdim.lake import Lake

    if request.param == "spark":
        request.getfixturevalue("spark_session")
    eng = create_engine(request.param, Lake(str(tmp_path / "lake")))
    yield eng
    eng.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-xdist (``make test`` runs two workers), every Spark test goes to one worker, so a test run
    still starts one Spark session."""
    for item in items:
        if item.get_closest_marker("spark") is not None:
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A PostgreSQL server of this test run (tests/pg_server.py), started on first use and stopped at the end."""
    import os

    from tests import pg_server

    binaries = pg_server.find_binaries()
    if binaries is None:
        message = "no PostgreSQL server binaries (Debian: postgresql)"
        if os.environ.get("CUSTDIM_REQUIRE_CLIENTS"):
            pytest.fail(message)
        pytest.skip(message)
    server = pg_server.start(binaries)
    try:
        yield server
    finally:
        pg_server.stop(server, binaries)
