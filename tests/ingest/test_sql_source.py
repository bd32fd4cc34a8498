"""``type: sql`` sources against a real PostgreSQL server (started by the tests) and a real SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.errors import ConfigError
from custdim.project import Project
from tests.conftest import EXAMPLE_YAML, write_example
from tests.pg_server import PostgresServer

CONTACTS_DDL = """
CREATE SCHEMA crm;
CREATE TABLE crm.contacts (
    contact_id text PRIMARY KEY, first_name text, last_name text, email varchar(200), phone text, city text,
    zip char(5), visits integer, points bigint, balance numeric(12,2), score double precision, born date,
    created timestamp, updated timestamptz, active boolean, ref uuid, tags jsonb, note text
);
INSERT INTO crm.contacts VALUES
 ('C001','José','Müller','jose@example.com','(555) 123-4567','Boston','02134',3,9000000000,1234.50,0.1,
  '1980-02-29','2024-01-01 10:00:00','2024-01-01 10:00:00+02',true,'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"vip": true, "n": [1, 2]}','Straße 😀'),
 ('C002','Anna','Smith','anna@example.com','555.222.3333','Salem','01970',NULL,NULL,NULL,NULL,NULL,NULL,NULL,
  NULL,NULL,NULL,''),
 ('C003','Bob','Brown',NULL,'5551112222','Boston','02134',0,-1,-0.01,-2.5e10,'2000-01-01','1999-12-31 23:59:59.123456',
  '2024-06-01 00:00:00-05',false,NULL,'[]',NULL),
 ('C004','Carla','Diaz','carla@example.com',NULL,'Austin','73301',1,1,0,0,'1990-05-05',NULL,NULL,true,NULL,NULL,'x');
CREATE TABLE crm.dupes (id text, name text);
INSERT INTO crm.dupes VALUES ('1','a'), ('1','b'), (NULL,'c'), ('2','d');
"""

SQL_SOURCE = """\
  - name: crm
    type: sql
    url: ${CRM_DB_URL}
    tables:
      - name: contacts
        table: crm.contacts
        primary_key: contact_id
        chunk_rows: CHUNK
"""


def _yaml(chunk: int = 50_000) -> str:
    """The example project with its CRM contacts read from a database instead of a CSV file."""
    start = EXAMPLE_YAML.index("  - name: crm")
    end = EXAMPLE_YAML.index("  - name: shop")
    return EXAMPLE_YAML[:start] + SQL_SOURCE.replace("CHUNK", str(chunk)) + EXAMPLE_YAML[end:]


@pytest.fixture(scope="module")
def crm_db(postgres: PostgresServer) -> str:
    import psycopg

    postgres.create_database("crm")
    with psycopg.connect(postgres.dsn("crm"), autocommit=True) as con:
        con.execute(CONTACTS_DDL)
    return postgres.url("crm")


def _landed(project: Project, table: str = "contacts") -> pa.Table:
    files = project.lake.parquet_files(project.lake.raw_table("crm", table))
    return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("contact_id" if table == "contacts" else "id")


@pytest.mark.parametrize("chunk", [50_000, 1])
def test_postgres_rows_land_value_for_value_with_their_types(
    tmp_path: Path, crm_db: str, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setenv("CRM_DB_URL", crm_db)
    root = write_example(tmp_path / "project", yaml_text=_yaml(chunk))
    project = Project.load(root)
    report = project.run()
    assert report.status == "succeeded"
    t = _landed(project)
    types = {f.name: f.type for f in t.schema}
    assert types["visits"] == pa.int32() and types["points"] == pa.int64() and types["balance"] == pa.decimal128(12, 2)
    assert types["score"] == pa.float64() and types["born"] == pa.date32() and types["created"] == pa.timestamp("us")
    assert types["updated"] == pa.timestamp("us", tz="UTC") and types["active"] == pa.bool_()
    assert types["ref"] == types["tags"] == types["zip"] == pa.string()
    rows = {r["contact_id"]: r for r in t.to_pylist()}
    jose, anna, bob = rows["C001"], rows["C002"], rows["C003"]
    assert jose["first_name"] == "José" and jose["note"] == "Straße 😀" and jose["zip"] == "02134"
    assert jose["points"] == 9_000_000_000 and jose["balance"] == Decimal("1234.50") and jose["score"] == 0.1
    assert jose["born"] == dt.date(1980, 2, 29) and jose["created"] == dt.datetime(2024, 1, 1, 10)
    assert jose["updated"] == dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)  # +02 converted, never dropped
    assert jose["ref"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" and jose["tags"] == '{"n": [1, 2], "vip": true}'
    assert anna["note"] == "" and anna["email"] == "anna@example.com" and anna["visits"] is None  # '' is not NULL
    assert bob["created"] == dt.datetime(1999, 12, 31, 23, 59, 59, 123456) and bob["balance"] == Decimal("-0.01")
    assert bob["score"] == -2.5e10 and bob["tags"] == "[]" and bob["active"] is False
    ingest = report.stage("ingest")
    assert ingest is not None and ingest.rows_in["crm.contacts"] == 4 == ingest.rows_out["crm.contacts"]
    assert report.stage("merge").rows_out["Customer"] > 0  # type: ignore[union-attr]


def test_a_query_with_declared_types_and_key_rejects(
    tmp_path: Path, crm_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_DB_URL", crm_db)
    yaml = _yaml().replace(
        "        chunk_rows: 50000\n",
        "        chunk_rows: 2\n"
        "      - name: dupes\n"
        "        query: \"SELECT id, name, '12' AS n FROM crm.dupes ORDER BY name\"\n"
        "        primary_key: id\n"
        "        columns: {n: int}\n",
    )
    root = write_example(tmp_path / "project", yaml_text=yaml)
    project = Project.load(root)
    stage = project.run(stage="ingest").stages[0]
    landed = _landed(project, "dupes")
    assert landed.to_pylist() == [
        {
            "id": "1",
            "name": "a",
            "n": 12,
            "_ingested_at": landed["_ingested_at"][0].as_py(),
            "_run_id": landed["_run_id"][0].as_py(),
        },
        {
            "id": "2",
            "name": "d",
            "n": 12,
            "_ingested_at": landed["_ingested_at"][1].as_py(),
            "_run_id": landed["_run_id"][1].as_py(),
        },
    ]
    assert stage.rows_in["crm.dupes"] == 4 and stage.rows_out["crm.dupes"] == 2
    assert stage.rejected == {"crm.dupes.duplicate_key": 1, "crm.dupes.null_key": 1}


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("edit", "env", "code", "message"),
    [
        (None, None, 3, "environment variable CRM_DB_URL is not set"),
        (("        table: crm.contacts", "        table: crm.nosuch"), "ok", 4, 'relation "crm.nosuch" does not exist'),
        (None, "wrong-password", 4, "password authentication failed"),
        (("        table: crm.contacts", '        query: "DELETE FROM crm.contacts"'), "ok", 3, "only a SELECT"),
        (
            ("        table: crm.contacts", '        query: "SELECT 1; DROP TABLE crm.contacts"'),
            "ok",
            3,
            "exactly one SELECT",
        ),
        (
            (
                "        table: crm.contacts",
                '        query: "WITH d AS (DELETE FROM crm.contacts RETURNING *) SELECT * FROM d"',
            ),
            "ok",
            3,
            "only a SELECT",
        ),
    ],
)
def test_mistakes_are_one_clear_line_and_never_show_the_password(
    tmp_path: Path,
    crm_db: str,
    postgres: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    edit: tuple[str, str] | None,
    env: str | None,
    code: int,
    message: str,
) -> None:
    import psycopg

    yaml = _yaml()
    if edit is not None:
        yaml = yaml.replace(*edit)
    root = write_example(tmp_path / "project", yaml_text=yaml)
    if env == "ok":
        monkeypatch.setenv("CRM_DB_URL", crm_db)
    elif env == "wrong-password":
        monkeypatch.setenv("CRM_DB_URL", postgres.url("crm", password="not-the-password"))
    else:
        monkeypatch.delenv("CRM_DB_URL", raising=False)
    got, out = _cli("run", "-p", str(root))
    assert got == code, out
    assert message in out and "Traceback" not in out
    assert postgres.password not in out and "not-the-password" not in out
    with psycopg.connect(postgres.dsn("crm")) as con:  # nothing was written through the source
        assert con.execute("SELECT count(*) FROM crm.contacts").fetchone() == (4,)


def test_a_plain_password_in_the_url_is_refused(tmp_path: Path) -> None:
    yaml = _yaml().replace("url: ${CRM_DB_URL}", "url: postgresql://etl:hunter2@db.example.com/crm")
    root = write_example(tmp_path / "project", yaml_text=yaml)
    with pytest.raises(ConfigError, match=r"sources\[0\]\.url: .*password in plain text") as info:
        Project.load(root)
    assert "hunter2" not in str(info.value)


def test_validate_names_a_misspelt_key_of_a_database_table(
    tmp_path: Path, crm_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_DB_URL", crm_db)
    root = write_example(
        tmp_path / "project", yaml_text=_yaml().replace("primary_key: contact_id", "primary_key: contactid", 1)
    )
    code, out = _cli("validate", "-p", str(root))
    assert code == 3 and "sources[0].tables[0].primary_key" in out and "contact_id" in out


def test_sqlite_columns_land_as_text_and_declared_types_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as con:
        con.execute(
            "CREATE TABLE contacts (contact_id TEXT, first_name TEXT, last_name TEXT, email TEXT, zip TEXT, "
            "n INTEGER, amount REAL)"
        )
        con.executemany(
            "INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?)",
            [("C001", "José", "Müller", "jose@example.com", "02134", 7, 0.1),
             ("C002", "Anna", "Smith", None, "01970", None, 12.5),
             ("C003", "Bob", "Brown", "bob@example.com", "02134", "seven", 1e-7)],
        )  # fmt: skip
    monkeypatch.setenv("CRM_DB_URL", f"sqlite:///{db}")
    yaml = _yaml().replace(
        "        table: crm.contacts\n", "        table: contacts\n        columns: {n: int, amount: double}\n"
    )
    root = write_example(tmp_path / "project", yaml_text=yaml)
    project = Project.load(root)
    stage = project.run(stage="ingest").stages[0]
    landed = {r["contact_id"]: r for r in _landed(project).to_pylist()}
    assert landed["C001"]["n"] == 7 and landed["C001"]["amount"] == 0.1 and landed["C001"]["zip"] == "02134"
    assert landed["C002"]["n"] is None and landed["C002"]["email"] is None
    assert "C003" not in landed  # 'seven' is not an int: rejected with the reason, not changed
    rejects = pq.read_table(project.lake.rejects_table("crm", "contacts")).to_pylist()
    assert [r["_reason"] for r in rejects] == ["column 'n': cannot parse seven as int (whole numbers only)"]
    assert stage.rows_in["crm.contacts"] == 3 == stage.rows_out["crm.contacts"] + 1
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM contacts").fetchone() == (3,)


def test_rows_are_fetched_and_written_chunk_by_chunk(
    tmp_path: Path, crm_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec

    from custdim.stages.ingest.landing import TableRef, stage_table

    monkeypatch.setenv("CRM_DB_URL", crm_db)
    config = Project.load(write_example(tmp_path / "project", yaml_text=_yaml(chunk=3))).config
    key, source, table = next(iter(config.iter_tables()))
    staging = tmp_path / "staging"
    staging.mkdir()
    staged = stage_table(TableRef(config, source, table, key), fsspec.filesystem("file"), str(staging))
    parts = sorted(staging.glob("*.parquet"))
    assert staged.rows == 4 and len(parts) == 2  # 3 + 1 rows
    schemas = {pq.read_schema(p) for p in parts}
    assert len(schemas) == 1  # one schema for every chunk, whatever its values
    assert [r["_row"] for p in parts for r in pq.read_table(p).to_pylist()] == [1, 2, 3, 4]


def test_a_cursor_reads_only_changed_rows_and_lands_what_a_full_read_would(
    tmp_path: Path, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    postgres.create_database("members")
    with psycopg.connect(postgres.dsn("members"), autocommit=True) as con:
        con.execute(
            "CREATE SCHEMA crm; CREATE TABLE crm.contacts (contact_id text PRIMARY KEY, first_name text, "
            "last_name text, email text, phone text, city text, zip text, updated_at timestamptz NOT NULL)"
        )
        for i in range(1, 41):
            con.execute(
                "INSERT INTO crm.contacts VALUES (%s, %s, 'Lee', %s, NULL, 'Boston', '02134', %s)",
                (
                    f"C{i:03d}",
                    f"F{i}",
                    f"f{i}@example.com",
                    dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i),
                ),
            )
    monkeypatch.setenv("CRM_DB_URL", postgres.url("members"))
    yaml = _yaml(chunk=7).replace(
        "        chunk_rows: 7\n", "        chunk_rows: 7\n        incremental: {cursor: updated_at}\n"
    )
    root = write_example(tmp_path / "project", yaml_text=yaml)
    project = Project.load(root)
    first = project.run(stage="ingest").stages[0]
    assert first.rows_in["crm.contacts"] == 40 and first.details["changes"]["crm.contacts"]["read"] == "whole table"

    with psycopg.connect(postgres.dsn("members"), autocommit=True) as con:
        con.execute("UPDATE crm.contacts SET city = 'Salem', updated_at = '2024-03-01Z' WHERE contact_id = 'C005'")
        con.execute(
            "INSERT INTO crm.contacts VALUES "
            "('C041', 'New', 'Lee', 'new@example.com', NULL, 'Lowell', '01850', '2024-03-02Z')"
        )
    second = project.run(stage="ingest").stages[0]
    changes = second.details["changes"]["crm.contacts"]
    assert changes["read"] == "changed rows only"
    # C040 (the last run's latest cursor, read again: the same instant may hold rows it did not see), C005, C041.
    assert second.rows_in["crm.contacts"] == 3 and changes["carried"] == 40
    landed = {r["contact_id"]: r for r in _landed(project).to_pylist()}
    assert len(landed) == 41 and landed["C005"]["city"] == "Salem" and landed["C041"]["first_name"] == "New"
    rejected = sum(second.rejected.values())
    assert second.rows_out["crm.contacts"] + rejected + changes["superseded"] + changes["deleted"] == 3 + 40

    fresh_root = write_example(tmp_path / "fresh", yaml_text=yaml)
    fresh = Project.load(fresh_root)
    fresh.run(stage="ingest")
    strip = ("_ingested_at", "_run_id")
    assert [{k: v for k, v in r.items() if k not in strip} for r in _landed(project).to_pylist()] == [
        {k: v for k, v in r.items() if k not in strip} for r in _landed(fresh).to_pylist()
    ]

    # Other settings for the table (a declared type): the whole table is read again.
    (root / "custdim.yaml").write_text(
        yaml.replace("        chunk_rows: 7\n", "        chunk_rows: 8\n"), encoding="utf-8"
    )
    third = Project.load(root).run(stage="ingest").stages[0]
    assert third.details["changes"]["crm.contacts"]["read"] == "whole table" and third.rows_in["crm.contacts"] == 41
