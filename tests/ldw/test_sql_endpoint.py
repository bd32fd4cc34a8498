"""The SQL endpoint (`custdim serve sql`) with real clients: psql, psycopg 3, SQLAlchemy + pandas, pgjdbc.

One endpoint serves the session's demo project for the module; tests that change a project or the limits start
their own. Every answer is compared with the same query through `Project.sql` (the CLI's path), not just run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from custdim.project import Project
from tests.ldw.endpoint import PASSWORD, USER, Endpoint, client_program, start_endpoint

if TYPE_CHECKING:
    from custdim.demo.runner import DemoResult

pytestmark = pytest.mark.slow

ENTITIES = {
    "AlternateKey", "BrandAffinity", "BusinessMeasure", "ChurnPrediction", "ClvPrediction", "Customer",
    "CustomerMeasure", "CustomerProvenance", "IdChangeLog", "InterestAffinity", "MatchPairs",
    "ProductRecommendation", "SegmentHistory", "SegmentMembership", "UnifiedActivity",
}  # fmt: skip
DERIVED = {"dim_customer", "fact_activity", "dim_date"}
JDBC_JAR = "/usr/share/java/postgresql.jar"


@pytest.fixture(scope="module")
def served(demo_run: DemoResult) -> Iterator[Endpoint]:
    endpoint = start_endpoint(demo_run.directory)
    yield endpoint
    endpoint.stop()


def one(project: Project, sql: str) -> Any:
    return project.sql(sql).column(0)[0].as_py()


def test_psql_lists_tables_and_views_and_runs_a_select(served: Endpoint, demo_run: DemoResult) -> None:
    psql = client_program("psql")
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    base = [psql, "-X", "-h", "127.0.0.1", "-p", str(served.port), "-U", USER, "-d", "custdim", "-A", "-t", "-F", "|"]

    def run(command: str) -> list[str]:
        result = subprocess.run(
            [*base, "-c", command], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if line]

    tables = {line.split("|")[1]: line.split("|")[2] for line in run(r"\dt")}
    assert set(tables) == ENTITIES and set(tables.values()) == {"table"}
    views = {line.split("|")[1]: line.split("|")[2] for line in run(r"\dv")}
    assert set(views) == DERIVED and set(views.values()) == {"view"}
    (count,) = run('SELECT count(*), sum("ActivityCount") FROM dim_customer')
    expected = demo_run.project.sql('SELECT count(*), sum("ActivityCount") FROM dim_customer').to_pylist()[0]
    assert count == "|".join(str(v) for v in expected.values())
    columns = run(r'\d "Customer"')
    assert any(line.startswith("CustomerId|text") for line in columns), columns
    assert any(line.startswith("SourceRecordCount|integer") for line in columns), columns


def test_psycopg_server_side_parameters_of_every_type(served: Endpoint, demo_run: DemoResult) -> None:
    project = demo_run.project
    sample = project.sql(
        'SELECT "CustomerId", "ActivityTimeStamp", "ActivityDate", "Amount", "DateKey" FROM fact_activity '
        'WHERE "Amount" > 0 ORDER BY "ActivityId" LIMIT 1'
    ).to_pylist()[0]
    day: dt.date = sample["ActivityDate"]
    when: dt.datetime = sample["ActivityTimeStamp"]
    query = (
        'SELECT count(*) AS n, sum("Amount") AS total FROM fact_activity WHERE "DateKey" >= %s '
        'AND "ActivityDate" >= %s AND "ActivityTimeStamp" <= %s AND "Amount" >= %s AND "IsReturn" = %s '
        'AND "ActivityType" = %s'
    )
    params = (20000101, day, when, Decimal("0.5"), False, "SalesOrder")
    literal = (
        'SELECT count(*) AS n, sum("Amount") AS total FROM fact_activity WHERE "DateKey" >= 20000101 '
        f'AND "ActivityDate" >= DATE \'{day}\' AND "ActivityTimeStamp" <= TIMESTAMP \'{when}\' AND "Amount" >= 0.5 '
        'AND "IsReturn" = false AND "ActivityType" = \'SalesOrder\''
    )
    expected = project.sql(literal).to_pylist()[0]
    assert expected["n"] > 0
    with psycopg.connect(served.dsn) as con:
        for _ in range(3):  # prepare=True: a named server-side statement, bound again each time
            row = con.execute(query, params, prepare=True).fetchone()
            assert row is not None
            assert row[0] == expected["n"] and row[1] == pytest.approx(expected["total"])
        # Values come back typed: text, date, timestamp, double, integer, boolean.
        cur = con.execute(
            'SELECT "CustomerId", "ActivityDate", "ActivityTimeStamp", "Amount", "DateKey", "IsReturn" '
            'FROM fact_activity WHERE "CustomerId" = %s AND "ActivityTimeStamp" = %s',
            (sample["CustomerId"], when),
        )
        got = cur.fetchone()
        assert got is not None
        assert got[:5] == (sample["CustomerId"], day, when, sample["Amount"], sample["DateKey"])
        assert got[5] is False or got[5] is True
        assert [d.name for d in cur.description] == [
            "CustomerId", "ActivityDate", "ActivityTimeStamp", "Amount", "DateKey", "IsReturn",
        ]  # fmt: skip
        version = con.execute("SELECT version()").fetchone()
        assert version is not None and str(version[0]).startswith("PostgreSQL 16")
        con.execute("SET application_name = 'tests'")
        assert con.execute("SHOW application_name").fetchone() == ("tests",)


def test_sqlalchemy_lists_tables_and_pandas_reads(served: Endpoint, demo_run: DemoResult) -> None:
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{served.port}/custdim")
    try:
        with engine.connect() as con:
            inspector = sa.inspect(con)
            assert set(inspector.get_table_names()) == ENTITIES
            assert set(inspector.get_view_names()) == DERIVED
            columns = {c["name"]: str(c["type"]) for c in inspector.get_columns("dim_date")}
            assert columns["Date"] == "DATE" and columns["DateKey"] == "INTEGER" and columns["IsWeekend"] == "BOOLEAN"
            frame = pd.read_sql(
                sa.text('SELECT "SegmentName", count(*) AS n FROM "SegmentMembership" WHERE "SegmentName" <> :skip '
                        'GROUP BY 1 ORDER BY 1'),
                con,
                params={"skip": "nobody"},
            )  # fmt: skip
    finally:
        engine.dispose()
    expected = demo_run.project.sql(
        'SELECT "SegmentName", count(*) AS n FROM SegmentMembership GROUP BY 1 ORDER BY 1'
    ).to_pandas()
    assert frame.to_dict("records") == expected.to_dict("records")


def test_jdbc_metadata_prepared_statement_and_fetch_size(served: Endpoint, demo_run: DemoResult) -> None:
    java = client_program("java")
    jar = client_program("pgjdbc (libpostgresql-jdbc-java)", JDBC_JAR)
    probe = Path(__file__).parent / "clients" / "JdbcProbe.java"
    url = f"jdbc:postgresql://127.0.0.1:{served.port}/custdim"
    result = subprocess.run(
        [java, "-cp", jar, str(probe), url, USER, PASSWORD], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    project = demo_run.project
    assert out["product"] == "PostgreSQL 16"
    assert set(out["tables"].split(",")) == ENTITIES
    assert set(out["views"].split(",")) == DERIVED
    assert out["customer_columns"].split(",") == project.sql("SELECT * FROM Customer LIMIT 0").column_names
    expected = project.sql(
        "SELECT count(*) AS n, sum(Amount) AS total FROM fact_activity WHERE ActivityType = 'SalesOrder'"
    ).to_pylist()[0]
    for round_ in range(6):
        n, total = out[f"prepared_{round_}"].split(";")
        assert int(n) == expected["n"] and float(total) == pytest.approx(expected["total"])
    assert int(out["fetched"]) == one(project, "SELECT count(*) FROM Customer") > 100
    assert out["drop"] == "25006"


def test_wrong_password_and_unknown_user_are_refused(served: Endpoint) -> None:
    for dsn in (served.dsn.replace(PASSWORD, "wrong"), served.dsn.replace(f"user={USER}", "user=mallory")):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(dsn, connect_timeout=10)


def test_writes_and_escapes_are_sql_errors_and_change_nothing(served: Endpoint, demo_run: DemoResult) -> None:
    project = demo_run.project
    catalog = Path(project.lake.catalog())
    before = hashlib.sha256(catalog.read_bytes()).hexdigest()
    customers = one(project, "SELECT count(*) FROM Customer")
    refused = {
        'DROP VIEW "Customer"': "25006",
        'INSERT INTO "Customer" ("CustomerId") VALUES (\'x\')': "25006",
        'DELETE FROM "Customer"': "25006",
        "CREATE TABLE t AS SELECT 1": "25006",
        "COPY (SELECT 1) TO '/tmp/out.csv'": "25006",
        "SELECT * FROM read_csv('/etc/passwd')": "42501",
        "SELECT getenv('HOME')": "42501",
        "ATTACH '/tmp/x.duckdb' AS x": "25006",
    }
    with psycopg.connect(served.dsn, autocommit=True) as con:
        for sql, state in refused.items():
            with pytest.raises(psycopg.Error) as info:
                con.execute(sql)
            assert info.value.sqlstate == state, f"{sql}: {info.value.sqlstate} {info.value}"
        # The session survives its refused statements.
        assert con.execute('SELECT count(*) FROM "Customer"').fetchone() == (customers,)
        assert con.execute('SELECT count(*) FROM public."Customer"').fetchone() == (customers,)
    assert hashlib.sha256(catalog.read_bytes()).hexdigest() == before


def test_sixteen_clients_in_parallel_all_get_correct_answers(served: Endpoint, demo_run: DemoResult) -> None:
    project = demo_run.project
    profiles = {
        r["CustomerId"]: (r["LastName"], r["ActivityCount"])
        for r in project.sql('SELECT "CustomerId", "LastName", "ActivityCount" FROM dim_customer').to_pylist()
    }
    by_type = {r["ActivityType"]: r["n"] for r in project.sql(
        'SELECT "ActivityType", count(*) AS n FROM fact_activity GROUP BY 1').to_pylist()}  # fmt: skip
    ids = sorted(profiles)
    errors: list[str] = []

    def client(k: int) -> None:
        try:
            with psycopg.connect(served.dsn) as con:
                for q in range(50):
                    if q % 5 == 4:
                        kind = sorted(by_type)[(k + q) % len(by_type)]
                        got = con.execute(
                            'SELECT count(*) FROM fact_activity WHERE "ActivityType" = %s', (kind,)
                        ).fetchone()
                        if got != (by_type[kind],):
                            errors.append(f"client {k} query {q}: {kind} -> {got}")
                    else:
                        cid = ids[(k * 50 + q) * 7 % len(ids)]
                        got = con.execute(
                            'SELECT "LastName", "ActivityCount" FROM dim_customer WHERE "CustomerId" = %s', (cid,)
                        ).fetchone()
                        if got != profiles[cid]:
                            errors.append(f"client {k} query {q}: {cid} -> {got}, expected {profiles[cid]}")
        except Exception as exc:  # a failure in a thread must reach the assertion below
            errors.append(f"client {k}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "clients still running after 5 minutes"
    assert not errors, errors[:5]


def test_timeout_and_row_limit_are_sql_errors(demo_run: DemoResult) -> None:
    endpoint = start_endpoint(demo_run.directory, "--statement-timeout", "1", "--max-rows", "100")
    try:
        with psycopg.connect(endpoint.dsn, autocommit=True) as con:
            slow = (
                'SELECT count(*) FROM dim_date a, dim_date b, dim_date c, dim_date d WHERE a."DayName" <> d."MonthName"'
            )
            with pytest.raises(psycopg.Error) as info:
                con.execute(slow)
            assert info.value.sqlstate == "57014", info.value
            with pytest.raises(psycopg.Error) as info:
                con.execute('SELECT * FROM "Customer"').fetchall()
            assert info.value.sqlstate == "54000" and "100 rows" in str(info.value)
            # At the limit is fine, and the connection is still usable after both errors.
            assert len(con.execute('SELECT * FROM "Customer" LIMIT 100').fetchall()) == 100
    finally:
        endpoint.stop()


def test_a_new_publish_is_served_without_a_restart(example_dir: Path) -> None:
    project = Project.load(example_dir)
    project.run()
    endpoint = start_endpoint(example_dir)
    try:
        assert re.search(r"database custdim, \d+ views, 1 user\(s\)", endpoint.banner), endpoint.banner
        with psycopg.connect(endpoint.dsn, autocommit=True) as con:
            before = con.execute('SELECT count(*) FROM "Customer"').fetchone()
            contacts = example_dir / "data" / "contacts.csv"
            contacts.write_text(contacts.read_text() + "N901,Nova,Newcomer,nova@example.com,,Austin,73301\n")
            project.run()
            after = con.execute('SELECT count(*) FROM "Customer"').fetchone()
            assert before is not None and after == (before[0] + 1,)
            names = con.execute('SELECT "FirstName" FROM dim_customer WHERE "FirstName" = %s', ("Nova",)).fetchall()
            assert names == [("Nova",)]
    finally:
        out = endpoint.stop()
    assert "Traceback" not in out


def test_users_come_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from custdim.errors import UsageError
    from custdim.ldw.server import load_users

    users = tmp_path / "users.txt"
    users.write_text("# analysts\nann:pa:ss\n\nbob:secret\n")
    assert load_users(users) == {"ann": "pa:ss", "bob": "secret"}
    users.write_text("ann\n")
    with pytest.raises(UsageError, match=r"users.txt, line 1: expected name:password"):
        load_users(users)
    monkeypatch.setenv("CUSTDIM_SQL_USERS", "ann:x, bob:y")
    assert load_users(None) == {"ann": "x", "bob": "y"}
    monkeypatch.setenv("CUSTDIM_SQL_USERS", "ann:x,ann:y")
    with pytest.raises(UsageError, match="listed twice"):
        load_users(None)
    monkeypatch.delenv("CUSTDIM_SQL_USERS")
    with pytest.raises(UsageError, match="--users-file FILE"):
        load_users(None)
