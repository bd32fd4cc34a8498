"""`custdim sql` is read-only for real: every escape from the views is refused and leaves the project untouched.

Two layers are tested separately: the query guard (what users see) and the locked-down DuckDB connection on its
own, which must hold even when the guard is bypassed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.engines import duckdb_reader
from custdim.ldw.guard import QueryError, QueryRejected, check_query
from custdim.ldw.query import run_query, views
from custdim.project import Project
from tests.conftest import write_example

VIEWS = [
    "AlternateKey",
    "BrandAffinity",
    "BusinessMeasure",
    "ChurnPrediction",
    "ClvPrediction",
    "Customer",
    "CustomerMeasure",
    "CustomerProvenance",
    "IdChangeLog",
    "InterestAffinity",
    "MatchPairs",
    "ProductRecommendation",
    "SegmentHistory",
    "SegmentMembership",
    "UnifiedActivity",
    "dim_customer",
    "dim_date",
    "fact_activity",
]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The example project after one full run: published snapshot, manifest and SQL catalog."""
    project = Project.load(write_example(tmp_path_factory.mktemp("sql_guard") / "project"))
    report = project.run()
    assert report.status == "succeeded"
    return project


def catalog(project: Project) -> str:
    return project.lake.catalog()


def export_dir(project: Project) -> str:
    return project.lake.path("export")


def checksum(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def sandbox(published: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Run from an empty working folder; afterwards the project and that folder must be exactly as before."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    root = published.config.resolve(".")
    before = checksum(Path(root))
    yield {
        "project": root,
        "lake": published.lake.base,
        "export": export_dir(published),
        "outside": str(tmp_path / "outside"),
    }
    assert checksum(Path(root)) == before, "the query changed the project folder or its lake"
    assert list(cwd.iterdir()) == [], "the query wrote into the working folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd"], "the query wrote next to the working folder"


# (query template, text the rejection must contain). {export}, {lake} and {outside} are filled in per test.
HOSTILE = [
    # The reproductions.
    ("COPY (SELECT * FROM Customer) TO '{export}/export.manifest.cdm.json'", "COPY statements are not allowed"),
    ("COPY (SELECT * FROM Customer) TO '{outside}/x.csv'", "COPY statements are not allowed"),
    ("COPY (SELECT * FROM Customer) TO 'x.csv'", "COPY statements are not allowed"),
    ("COPY Customer TO 'x.parquet' (FORMAT parquet)", "COPY statements are not allowed"),
    ("ATTACH 'x.duckdb' AS x (READ_WRITE)", "ATTACH statements are not allowed"),
    ("ATTACH 'x.duckdb' AS x (READ_WRITE); CREATE TABLE x.t AS SELECT * FROM Customer", "several statements"),
    ("CREATE TABLE x.t AS SELECT * FROM Customer", "CREATE statements are not allowed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "table functions are not allowed (READ_CSV in FROM)"),
    ("SELECT read_text('/etc/passwd')", "the function read_text() is not allowed"),
    ("SELECT * FROM read_text('/etc/passwd')", "table functions are not allowed (READ_TEXT in FROM)"),
    ("SELECT content FROM read_blob('{export}/export.manifest.cdm.json')", "table functions are not allowed"),
    # Other statements.
    ("DETACH x", "DETACH statements are not allowed"),
    ("INSERT INTO Customer SELECT * FROM Customer", "INSERT statements are not allowed"),
    ("UPDATE Customer SET City = 'x'", "UPDATE statements are not allowed"),
    ("DELETE FROM Customer", "DELETE statements are not allowed"),
    ("DROP VIEW Customer", "DROP statements are not allowed"),
    ("ALTER VIEW Customer RENAME TO c", "ALTER statements are not allowed"),
    ("CREATE OR REPLACE VIEW Customer AS SELECT 1", "CREATE statements are not allowed"),
    ("INSTALL httpfs", "INSTALL statements are not allowed"),
    ("FORCE INSTALL httpfs", "FORCE INSTALL statements are not allowed"),
    ("LOAD httpfs", "LOAD statements are not allowed"),
    ("SET enable_external_access = true", "SET statements are not allowed"),
    ("SET allowed_directories = ['/']", "SET statements are not allowed"),
    ("RESET enable_external_access", "RESET statements are not allowed"),
    ("PRAGMA database_list", "PRAGMA statements are not allowed"),
    ("CALL pragma_version()", "CALL statements are not allowed"),
    ("EXPORT DATABASE '{outside}'", "EXPORT statements are not allowed"),
    ("IMPORT DATABASE '{outside}'", "IMPORT statements are not allowed"),
    ("USE memory", "USE statements are not allowed"),
    ("CHECKPOINT", "CHECKPOINT statements are not allowed"),
    ("VACUUM", "VACUUM statements are not allowed"),
    ("SELECT * INTO t FROM Customer", "SELECT ... INTO is not allowed"),
    # Files and table functions.
    ("SELECT * FROM read_parquet('../..')", "table functions are not allowed (READ_PARQUET in FROM)"),
    ("SELECT * FROM read_parquet('{export}/snapshots/*/Customer/*.parquet')", "(READ_PARQUET in FROM)"),
    ("SELECT * FROM read_parquet('{lake}/raw/**/*.parquet')", "(READ_PARQUET in FROM)"),
    ("SELECT * FROM 'file.csv'", "reading files is not allowed ('file.csv' used as a table)"),
    ("SELECT * FROM '{export}/export.manifest.cdm.json'", "reading files is not allowed"),
    ('SELECT * FROM "data.parquet"', "reading files is not allowed"),
    ("SELECT * FROM glob('*')", "table functions are not allowed (GLOB in FROM)"),
    ("SELECT * FROM parquet_scan('{export}')", "table functions are not allowed"),
    ("SELECT * FROM sniff_csv('/etc/passwd')", "table functions are not allowed"),
    ("SELECT * FROM read_json_auto('{export}/export.manifest.cdm.json')", "table functions are not allowed"),
    ("SELECT * FROM duckdb_settings()", "table functions are not allowed"),
    ("SELECT * FROM range(3)", "table functions are not allowed"),
    ("SELECT * FROM unnest([1, 2])", "table functions are not allowed"),
    ("SELECT * FROM Customer, LATERAL read_csv('/etc/passwd')", "table functions are not allowed"),
    ("SELECT * FROM query('COPY (SELECT 1) TO ''x.csv''')", "table functions are not allowed"),
    # Several statements, and statements hidden by comments.
    ("SELECT 1; SELECT 2", "several statements in one query (SELECT, SELECT)"),
    ("SELECT 1; COPY (SELECT 1) TO 'x.csv'", "several statements in one query (SELECT, COPY)"),
    ("SELECT 1 -- harmless\n; COPY (SELECT 1) TO 'x.csv'", "several statements in one query (SELECT, COPY)"),
    ("SELECT 1 /* ; */; ATTACH 'x.duckdb'", "several statements in one query (SELECT, ATTACH)"),
    ("/* SELECT */ COPY (SELECT 1) TO 'x.csv' -- SELECT", "COPY statements are not allowed"),
    # Table functions wrapped in CTEs and subqueries.
    ("WITH a AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM a", "table functions are not allowed"),
    ("SELECT * FROM (SELECT * FROM read_text('/etc/passwd')) s", "table functions are not allowed"),
    ("SELECT * FROM Customer WHERE City IN (SELECT * FROM read_csv('/etc/passwd'))", "table functions are not allowed"),
    ("SELECT (SELECT count(*) FROM glob('/*'))", "table functions are not allowed"),
    ("SELECT * FROM Customer UNION ALL SELECT * FROM read_csv('/etc/passwd')", "table functions are not allowed"),
    # A non-recursive CTE that names itself reads the outer object, here a DuckDB system view.
    ("WITH duckdb_databases AS (SELECT * FROM duckdb_databases) SELECT * FROM duckdb_databases", "not a view"),
    ("SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) a, x", "'x' is not a view of the catalog"),
    # Environment and settings.
    ("SELECT getenv('HOME')", "the function getenv() is not allowed"),
    ("SELECT current_setting('allowed_directories')", "the function current_setting() is not allowed"),
    ("SELECT json_execute_serialized_sql('x')", "the function json_execute_serialized_sql() is not allowed"),
    # Names outside the catalog.
    ("SELECT * FROM other_db.t", "the qualified name other_db.t is not allowed"),
    ("SELECT * FROM information_schema.tables", "the qualified name information_schema.tables is not allowed"),
    ("SELECT * FROM duckdb_tables", "'duckdb_tables' is not a view of the catalog"),
    ("SELECT * FROM _custdim_catalog", "'_custdim_catalog' is not a view of the catalog"),
    # Not a query at all.
    ("", "the query is empty"),
    ("  -- only a comment\n", "the query is empty"),
    ("SELECT (1", "cannot parse the query: Expecting )"),
    ("SELECT " + "coalesce(1, " * 300 + "1" + ")" * 300, "nested too deeply"),
]


@pytest.mark.parametrize(("template", "message"), HOSTILE, ids=[f"{i:02d}" for i in range(len(HOSTILE))])
def test_hostile_query_is_rejected_and_changes_nothing(
    published: Project, sandbox: dict[str, str], template: str, message: str
) -> None:
    sql = template.format(**sandbox)
    with pytest.raises(QueryRejected) as caught:
        run_query(catalog(published), export_dir(published), sql)
    text = str(caught.value)
    assert text.startswith("query rejected: ")
    assert message in text
    assert "Views: " + ", ".join(sorted(VIEWS, key=str.lower)) in text


@pytest.mark.parametrize(
    "template",
    [
        "COPY (SELECT * FROM Customer) TO '{export}/export.manifest.cdm.json'",
        "ATTACH '{outside}.duckdb' AS x (READ_WRITE); CREATE TABLE x.t AS SELECT * FROM Customer",
        "SELECT * FROM read_csv('/etc/passwd')",
    ],
)
def test_the_cli_refuses_with_a_one_line_error(published: Project, sandbox: dict[str, str], template: str) -> None:
    result = CliRunner().invoke(app, ["sql", "-p", published.config.resolve("."), template.format(**sandbox)])
    assert result.exit_code == 1
    assert "query rejected: " in result.output


# --- The engine connection on its own, the guard bypassed. -------------------------------------------------------

ENGINE_HOSTILE = [
    # Anything but one SELECT is refused before DuckDB runs it: allowed_directories may be written as well as read.
    ("COPY (SELECT * FROM Customer) TO '{export}/export.manifest.cdm.json'", "exactly one SELECT statement"),
    ("COPY (SELECT * FROM Customer) TO '{outside}/x.csv'", "exactly one SELECT statement"),
    ("ATTACH '{outside}.duckdb' AS x (READ_WRITE)", "exactly one SELECT statement"),
    ("SET enable_external_access = true", "exactly one SELECT statement"),
    ("SELECT 1; COPY (SELECT 1) TO 'x.csv'", "exactly one SELECT statement"),
    ("EXPORT DATABASE '{outside}'", "exactly one SELECT statement"),
    # SELECTs that reach outside the export folder are stopped by DuckDB's file access lock.
    ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
    ("SELECT * FROM read_text('/etc/passwd')", "disabled by configuration"),
    ("SELECT * FROM '{project}/data/contacts.csv'", "disabled by configuration"),
    ("SELECT * FROM read_csv('{project}/data/contacts.csv')", "disabled by configuration"),
    ("SELECT * FROM read_parquet('{lake}/raw/**/*.parquet')", "disabled by configuration"),
    ("SELECT * FROM read_parquet('{export}/../raw/**/*.parquet')", "disabled by configuration"),
    ("SELECT * FROM read_text('{export}-old/x')", "disabled by configuration"),
    ("SELECT * FROM glob('/etc/*')", "disabled by configuration"),
]


@pytest.mark.parametrize(("template", "message"), ENGINE_HOSTILE)
def test_the_reader_refuses_without_the_guard(
    published: Project, sandbox: dict[str, str], template: str, message: str
) -> None:
    with pytest.raises(QueryError, match=r"^query failed: ") as caught:
        duckdb_reader.query(catalog(published), template.format(**sandbox), [export_dir(published)])
    assert message in str(caught.value)


RAW_HOSTILE = [
    ("COPY (SELECT * FROM Customer) TO '{outside}/x.csv'", "disabled by configuration"),
    ("COPY (SELECT * FROM Customer) TO 'x.csv'", "disabled by configuration"),
    ("ATTACH '{outside}.duckdb' AS x (READ_WRITE)", "disabled by configuration"),
    ("SET enable_external_access = true", "the configuration has been locked"),
    ("SET allowed_directories = ['/']", "the configuration has been locked"),
    ("SET lock_configuration = false", "the configuration has been locked"),
    ("SET temp_directory = '{outside}'", "the configuration has been locked"),
    ("RESET enable_external_access", "the configuration has been locked"),
    ("LOAD httpfs", "disabled"),
    ("INSTALL httpfs", "disabled by configuration"),
]


@pytest.mark.parametrize(("template", "message"), RAW_HOSTILE)
def test_the_locked_connection_refuses_any_statement(
    published: Project, sandbox: dict[str, str], template: str, message: str
) -> None:
    con = duckdb_reader.connect(catalog(published), [export_dir(published)])
    try:
        with pytest.raises(Exception, match=message):
            con.execute(template.format(**sandbox))
    finally:
        con.close()


def test_the_connection_is_locked_down(published: Project) -> None:
    con = duckdb_reader.connect(catalog(published), [export_dir(published)])
    try:
        settings = dict(con.execute("SELECT name, value FROM duckdb_settings()").fetchall())
        allowed = con.execute("SELECT current_setting('allowed_directories')").fetchall()[0][0]
    finally:
        con.close()
    assert allowed == [export_dir(published).rstrip("/") + "/"]
    assert settings["enable_external_access"] == "false"
    assert settings["lock_configuration"] == "true"
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["python_enable_replacements"] == "false"
    assert settings["allow_persistent_secrets"] == "false"
    assert settings["temp_directory"] == ""


def test_a_second_connection_must_ask_for_the_same_lock_down(published: Project, tmp_path: Path) -> None:
    first = duckdb_reader.connect(catalog(published), [export_dir(published)])
    try:
        # DuckDB shares one instance per file: the second connection finds the first one's lock.
        assert duckdb_reader.query(catalog(published), "SELECT count(*) FROM Customer", [export_dir(published)])
        with pytest.raises(QueryError, match="different lock-down"):
            duckdb_reader.query(catalog(published), "SELECT 1", [str(tmp_path)])
    finally:
        first.close()


def test_a_missing_catalog_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match=r"no SQL catalog at .*run `custdim run` first"):
        run_query(str(tmp_path / "catalog.duckdb"), str(tmp_path), "SELECT 1")
    assert list(tmp_path.iterdir()) == []


# --- What still works. ----------------------------------------------------------------------------------------


def test_views_lists_the_catalog(published: Project) -> None:
    assert views(catalog(published), export_dir(published)) == VIEWS


def sql(project: Project, query: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = run_query(catalog(project), export_dir(project), query).to_pylist()
    return rows


def test_ordinary_queries_still_work(published: Project, sandbox: dict[str, str]) -> None:
    customers = sql(published, "SELECT * FROM Customer ORDER BY CustomerId")
    n = len(customers)
    assert n == 5
    assert sql(published, "SELECT count(*) AS n FROM dim_customer") == [{"n": n}]
    assert sql(published, "select COUNT(*) as n from customer") == [{"n": n}]
    assert sql(published, "FROM Customer SELECT CustomerId ORDER BY 1") == [
        {"CustomerId": c["CustomerId"]} for c in customers
    ]
    joined = sql(
        published,
        "SELECT c.CustomerId, count(a.SourceKey) AS keys FROM Customer c "
        "JOIN AlternateKey a USING (CustomerId) GROUP BY ALL ORDER BY ALL",
    )
    assert [r["CustomerId"] for r in joined] == [c["CustomerId"] for c in customers]
    assert sum(r["keys"] for r in joined) == sql(published, "SELECT count(*) AS n FROM AlternateKey")[0]["n"]  # type: ignore[misc]
    per_customer = {c["CustomerId"]: c["SourceRecordCount"] for c in customers}
    assert {r["CustomerId"]: r["keys"] for r in joined} == per_customer


def test_ctes_windows_and_aggregates_still_work(published: Project, sandbox: dict[str, str]) -> None:
    ranked = sql(
        published,
        "WITH acts AS (SELECT CustomerId, Amount, ActivityTimeStamp FROM UnifiedActivity), "
        "ranked AS (SELECT *, row_number() OVER (PARTITION BY CustomerId ORDER BY ActivityTimeStamp DESC) AS rn "
        "FROM acts) SELECT CustomerId, count(*) AS n, max(rn) AS top FROM ranked GROUP BY CustomerId ORDER BY 1",
    )
    assert ranked and all(r["n"] == r["top"] for r in ranked)
    totals = sql(
        published,
        "SELECT d.CustomerId, d.ActivityCount, coalesce(sum(u.Amount), 0) AS total FROM dim_customer d "
        "LEFT JOIN UnifiedActivity u USING (CustomerId) GROUP BY ALL HAVING count(u.ActivityId) > 0 ORDER BY 1",
    )
    assert {r["CustomerId"]: r["ActivityCount"] for r in totals} == {r["CustomerId"]: r["n"] for r in ranked}
    latest = sql(
        published,
        "SELECT CustomerId FROM UnifiedActivity "
        "QUALIFY row_number() OVER (PARTITION BY CustomerId ORDER BY ActivityTimeStamp DESC) = 1 ORDER BY 1",
    )
    assert [r["CustomerId"] for r in latest] == [r["CustomerId"] for r in ranked]
    assert sql(
        published,
        "WITH RECURSIVE r AS (SELECT 1 AS k UNION ALL SELECT k + 1 FROM r WHERE k < 3) "
        "SELECT k FROM r UNION ALL VALUES (10) ORDER BY k",
    ) == [{"k": 1}, {"k": 2}, {"k": 3}, {"k": 10}]
    assert sql(published, "SELECT CustomerId FROM Customer EXCEPT SELECT CustomerId FROM dim_customer") == [], (
        "every customer is in dim_customer"
    )


# --- The guard's rules, without a database. ----------------------------------------------------------------


def test_the_guard_returns_the_checked_query_without_comments() -> None:
    checked = check_query("select count(*) from CUSTOMER -- the total\n;", VIEWS)
    assert checked == "SELECT COUNT(*) FROM CUSTOMER"
    assert check_query("WITH Customer AS (SELECT 1 AS x) SELECT x FROM Customer", []) == (
        "WITH Customer AS (SELECT 1 AS x) SELECT x FROM Customer"
    )


def test_the_guard_scopes_cte_names() -> None:
    # A later CTE may use an earlier one; a CTE name is unknown outside its query and before its definition.
    assert check_query("WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b", [])
    with pytest.raises(QueryRejected, match="'b' is not a view"):
        check_query("WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a", [])
    with pytest.raises(QueryRejected, match="'a' is not a view"):
        check_query("SELECT * FROM (WITH a AS (SELECT 1) SELECT * FROM a) s JOIN a USING (x)", [])


def test_a_rejection_without_views_says_how_to_get_them() -> None:
    with pytest.raises(QueryRejected, match=r"Views: none \(run `custdim run` first\)"):
        check_query("SELECT * FROM Customer", [])
