"""DDL for other engines: golden files per dialect, and the DuckDB and Spark scripts run on real Parquet files.

The golden files under ``golden/`` are the exact output for a fixed input (the export's real entity schemas and a
hand-written manifest). After an intended change, regenerate them with ``CUSTDIM_UPDATE_GOLDEN=1 pytest
tests/ldw`` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import uuid
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from custdim.errors import UsageError
from custdim.ldw.ddl import DIALECTS, ddl_statements, pbids, render_ddl

GOLDEN = Path(__file__).parent / "golden"
RUN_ID = "20260105T101500.000000-a1b2c3"
S, I32, I64, F64, BOOL = pa.string(), pa.int32(), pa.int64(), pa.float64(), pa.bool_()
TS = pa.timestamp("us")

# The entities and column types of a published demo export (measures: two of the demo's).
SCHEMAS: dict[str, pa.Schema] = {
    name: pa.schema(fields)
    for name, fields in {
        "Customer": [
            ("CustomerId", S),
            ("FirstName", S),
            ("LastName", S),
            ("Email", S),
            ("Phone", S),
            ("City", S),
            ("PostalCode", S),
            ("PreviousCustomerId", S),
            ("SourceRecordCount", I32),
        ],
        "AlternateKey": [
            ("CustomerId", S),
            ("SourceName", S),
            ("TableName", S),
            ("SourceKey", S),
            ("IsDedupeWinner", BOOL),
        ],
        "MatchPairs": [
            ("CustomerId", S),
            ("LeftSourceName", S),
            ("LeftTableName", S),
            ("LeftSourceKey", S),
            ("RightSourceName", S),
            ("RightTableName", S),
            ("RightSourceKey", S),
            ("RuleName", S),
            ("Score", F64),
            ("ConditionScores", S),
            ("BlockingKey", S),
            ("Stage", S),
        ],
        "UnifiedActivity": [
            ("CustomerId", S),
            ("ActivityId", S),
            ("SourceTableName", S),
            ("SourceActivityId", S),
            ("ActivityType", S),
            ("ActivityTimeStamp", TS),
            ("Amount", F64),
            ("IsReturn", BOOL),
            ("Title", S),
            ("Product", S),
            ("Brand", S),
            ("Category", S),
            ("status", S),
        ],
        "CustomerProvenance": [
            ("CustomerId", S),
            ("Field", S),
            ("SourceName", S),
            ("TableName", S),
            ("SourceKey", S),
            ("Policy", S),
        ],
        "IdChangeLog": [
            ("RunId", S),
            ("CustomerId", S),
            ("Event", S),
            ("RelatedCustomerIds", S),
            ("RecordCount", I64),
        ],
        "CustomerMeasure": [("CustomerId", S), ("TotalSpend", F64), ("OrderCount", I64)],
        "BusinessMeasure": [("MeasureName", S), ("GroupBy", S), ("GroupKey", S), ("Value", F64)],
        "SegmentMembership": [("SegmentName", S), ("CustomerId", S)],
        "SegmentHistory": [
            ("RunId", S),
            ("AsOf", pa.date32()),
            ("RunAt", TS),
            ("SegmentName", S),
            ("Members", I64),
            ("Added", I64),
            ("Removed", I32),
        ],
        "ClvPrediction": [
            ("CustomerId", S),
            ("Frequency", I64),
            ("Recency", F64),
            ("Age", F64),
            ("ExpectedPurchases", F64),
            ("ProbabilityAlive", F64),
            ("ExpectedAverageValue", F64),
            ("CLVScore", F64),
            ("ValueBand", S),
        ],
        "ChurnPrediction": [
            ("CustomerId", S),
            ("ChurnScore", F64),
            ("IsChurn", BOOL),
            ("RiskBand", S),
            ("TopFactors", pa.list_(S)),
        ],
        "BrandAffinity": [
            ("CustomerId", S),
            ("Name", S),
            ("Score", I64),
            ("Level", S),
            ("Rank", I64),
            ("Spend", F64),
            ("Share", F64),
            ("PopulationShare", F64),
        ],
        "InterestAffinity": [
            ("CustomerId", S),
            ("Name", S),
            ("Score", I64),
            ("Level", S),
            ("Rank", I64),
            ("Spend", F64),
            ("Share", F64),
            ("PopulationShare", F64),
        ],
        "ProductRecommendation": [("CustomerId", S), ("ProductId", S), ("Rank", I64), ("Score", F64)],
    }.items()
}

LOCATIONS = {
    "duckdb": "/data/custdim/export",
    "synapse": "https://acct.dfs.core.windows.net/lake/custdim/export",
    "spark": "abfss://lake@acct.dfs.core.windows.net/custdim/export",
    "trino": "s3://bucket/custdim/export",
}
GOLDEN_CASES = [(d, "parquet") for d in DIALECTS] + [("synapse", "delta"), ("trino", "delta")]


def manifest(names: list[str], run_id: str = RUN_ID) -> dict[str, object]:
    """A published manifest document in the export's layout: one partition per entity in its snapshot folder."""
    return {
        "jsonSchemaSemanticVersion": "1.0.0",
        "manifestName": "export",
        "entities": [
            {
                "type": "LocalEntity",
                "entityName": name,
                "entityPath": f"snapshots/{run_id}/{name}.cdm.json/{name}",
                "dataPartitions": [{"location": f"snapshots/{run_id}/{name}/part-00000.parquet"}],
            }
            for name in names
        ],
        "relationships": [],
    }


DOC = manifest(list(SCHEMAS))


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CUSTDIM_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8", newline="\n")
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True), text.splitlines(keepends=True), f"golden/{name}", "rendered"
        )
        pytest.fail(f"{name} differs from the golden file (CUSTDIM_UPDATE_GOLDEN=1 rewrites it):\n" + "".join(diff))


@pytest.mark.parametrize(("dialect", "fmt"), GOLDEN_CASES)
def test_the_ddl_matches_its_golden_file(dialect: str, fmt: str) -> None:
    text = render_ddl(dialect, DOC, SCHEMAS, LOCATIONS[dialect], fmt=fmt)
    check_golden(f"{dialect}.sql" if fmt == "parquet" else f"{dialect}_{fmt}.sql", text)
    assert text == render_ddl(dialect, DOC, SCHEMAS, LOCATIONS[dialect], fmt=fmt)  # deterministic


OPENROWSET = re.compile(r"OPENROWSET\(BULK '(?:[^']|'')*', FORMAT = '[A-Z]+'\)")


@pytest.mark.parametrize(("dialect", "fmt"), [c for c in GOLDEN_CASES if c[0] in ("synapse", "trino")])
def test_synapse_and_trino_statements_parse_back(dialect: str, fmt: str) -> None:
    read = {"synapse": "tsql", "trino": "trino"}[dialect]
    statements = ddl_statements(dialect, DOC, SCHEMAS, LOCATIONS[dialect], fmt=fmt)
    views = set()
    for stmt in statements:
        # sqlglot cannot parse OPENROWSET(BULK ...): that call alone is swapped for a table name before parsing.
        parsed = sqlglot.parse_one(OPENROWSET.sub("[rowset]", stmt), read=read)
        assert parsed.sql(dialect=read)  # and renders again
        if isinstance(parsed, exp.Create) and parsed.kind == "VIEW":
            views.add(parsed.this.name)
            assert parsed.this.db == "custdim"
    if dialect == "synapse":
        assert views == {*SCHEMAS, "dim_customer", "fact_activity", "dim_date"}
        assert all(OPENROWSET.search(s) for s in statements[: len(SCHEMAS)])
        # T-SQL has no arrays: the list columns are string aggregations.
        dim_customer = next(s for s in statements if "[dim_customer] AS" in s)
        assert dim_customer.count("STRING_AGG(") == 3 and "WITHIN GROUP (ORDER BY" in dim_customer
    else:
        assert views == {"dim_customer", "fact_activity", "dim_date"}


def test_trino_columns_have_trino_types() -> None:
    statements = ddl_statements("trino", DOC, SCHEMAS, LOCATIONS["trino"])
    churn = next(s for s in statements if s.startswith('CREATE TABLE hive.custdim."ChurnPrediction"'))
    assert '"TopFactors" ARRAY(VARCHAR)' in churn and '"ChurnScore" DOUBLE' in churn and '"IsChurn" BOOLEAN' in churn
    history = next(s for s in statements if s.startswith('CREATE TABLE hive.custdim."SegmentHistory"'))
    assert '"AsOf" DATE' in history and '"RunAt" TIMESTAMP(3)' in history and '"Removed" INTEGER' in history


# ---------------------------------------------------------------------------------------------------------------
# The scripts run on real engines over Parquet files in the manifest's layout.

DAY = dt.datetime(2026, 1, 2, 9, 0)
DATA = {
    "Customer": {"CustomerId": ["c1", "c2"], "FirstName": ["Ann", "Bo"], "SourceRecordCount": [2, 1]},
    "UnifiedActivity": {
        "CustomerId": ["c1", "c1", "c2"],
        "ActivityId": ["a1", "a2", "a3"],
        "ActivityType": ["SalesOrder", "SalesOrder", "WebVisit"],
        "ActivityTimeStamp": [DAY, DAY + dt.timedelta(days=9, hours=3), DAY + dt.timedelta(days=1)],
        "Amount": [10.0, 5.5, None],
    },
    "SegmentMembership": {"SegmentName": ["vip", "active", "active"], "CustomerId": ["c1", "c1", "c2"]},
    "BrandAffinity": {"CustomerId": ["c1", "c1"], "Name": ["Zeta", "Acme"], "Rank": [2, 1]},
    "ClvPrediction": {"CustomerId": ["c1"], "CLVScore": [42.0], "ValueBand": ["high"]},
}


def write_export(root: Path, names: list[str], run_id: str = RUN_ID) -> dict[str, object]:
    """Parquet files for every entity (rows from DATA, empty otherwise) under root, and their manifest."""
    for name in names:
        schema = SCHEMAS.get(name, SCHEMAS["Customer"])
        rows = DATA.get(name, {})
        n = len(next(iter(rows.values()))) if rows else 0
        table = pa.table({f.name: pa.array(rows.get(f.name, [None] * n), f.type) for f in schema}, schema=schema)
        folder = root / "snapshots" / run_id / name
        folder.mkdir(parents=True)
        pq.write_table(table, folder / "part-00000.parquet")
    return manifest(names, run_id)


def check_rows(dim_customer: list[dict[str, object]], dim_date: list[dict[str, object]]) -> None:
    by_id = {r["CustomerId"]: r for r in dim_customer}
    assert set(by_id) == {"c1", "c2"}
    ann, bo = by_id["c1"], by_id["c2"]
    assert (ann["ActivityCount"], ann["TotalAmount"], ann["CLVScore"]) == (2, 15.5, 42.0)
    assert list(ann["TopBrands"]) == ["Acme", "Zeta"]  # type: ignore[call-overload]
    assert list(ann["Segments"]) == ["active", "vip"]  # type: ignore[call-overload]
    assert (bo["ActivityCount"], bo["TotalAmount"], bo["CLVScore"], bo["TopBrands"]) == (1, 0.0, None, None)
    assert len(dim_date) == 10  # 2026-01-02 .. 2026-01-11
    assert sorted(r["DateKey"] for r in dim_date) == list(range(20260102, 20260112))
    sunday = next(r for r in dim_date if r["DateKey"] == 20260111)
    assert (sunday["DayOfWeek"], sunday["DayName"], sunday["WeekOfYear"], sunday["IsWeekend"]) == (7, "Sunday", 2, True)


def test_the_duckdb_script_runs_on_duckdb(tmp_path: Path) -> None:
    doc = write_export(tmp_path, list(SCHEMAS))
    con = ibis.duckdb.connect()
    try:
        for stmt in ddl_statements("duckdb", doc, SCHEMAS, str(tmp_path)):
            con.con.execute(stmt)
        views = {r[0] for r in con.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert views == {*SCHEMAS, "dim_customer", "fact_activity", "dim_date"}

        def rows(sql: str) -> list[dict[str, object]]:
            return list(con.con.sql(sql).to_arrow_table().to_pylist())

        check_rows(rows("SELECT * FROM dim_customer"), rows("SELECT * FROM dim_date"))
        facts = rows("SELECT ActivityId, DateKey FROM fact_activity ORDER BY ActivityId")
        assert facts == [
            {"ActivityId": "a1", "DateKey": 20260102},
            {"ActivityId": "a2", "DateKey": 20260111},
            {"ActivityId": "a3", "DateKey": 20260103},
        ]
    finally:
        con.disconnect()


@pytest.mark.spark
def test_the_spark_script_runs_on_spark(tmp_path: Path, spark_session: object) -> None:
    spark = spark_session
    doc = write_export(tmp_path, list(SCHEMAS))
    schema = f"custdim_test_{uuid.uuid4().hex[:8]}"
    try:
        for stmt in ddl_statements("spark", doc, SCHEMAS, str(tmp_path), schema_name=schema):
            spark.sql(stmt)  # type: ignore[attr-defined]
        for stmt in ddl_statements("spark", doc, SCHEMAS, str(tmp_path), schema_name=schema):
            spark.sql(stmt)  # type: ignore[attr-defined]  # a second run replaces everything

        def rows(sql: str) -> list[dict[str, object]]:
            return [r.asDict() for r in spark.sql(sql).collect()]  # type: ignore[attr-defined]

        check_rows(rows(f"SELECT * FROM {schema}.dim_customer"), rows(f"SELECT * FROM {schema}.dim_date"))
        assert rows(f"SELECT count(*) AS n FROM {schema}.fact_activity") == [{"n": 3}]
    finally:
        spark.sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[attr-defined]
    assert all(p.exists() for p in tmp_path.rglob("part-00000.parquet"))  # dropping the tables kept the files


# ---------------------------------------------------------------------------------------------------------------
# Names, errors, Power BI.

ODD = 'Odd "Name" ]x'


def test_unknown_dialects_and_formats_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"duckdb, synapse, spark, trino.*'oracle'"):
        render_ddl("oracle", DOC, SCHEMAS, "/x")
    with pytest.raises(UsageError, match="parquet, delta"):
        render_ddl("spark", DOC, SCHEMAS, "/x", fmt="orc")
    with pytest.raises(UsageError, match="location"):
        render_ddl("spark", DOC, SCHEMAS, "/x\n; DROP TABLE y")


@pytest.mark.parametrize(
    ("dialect", "read"), [("duckdb", "duckdb"), ("synapse", "tsql"), ("spark", "spark"), ("trino", "trino")]
)
def test_odd_names_are_quoted(dialect: str, read: str) -> None:
    names = ["Customer", "UnifiedActivity", ODD]
    schemas = {**{n: SCHEMAS[n] for n in names[:2]}, ODD: pa.schema([("Col 'q'", S)])}
    location = "/lake/it's here"
    statements = ddl_statements(dialect, manifest(names), schemas, location, schema_name='my "schema"')
    tables = set()
    for stmt in statements:
        parsed = sqlglot.parse_one(OPENROWSET.sub("[rowset]", stmt), read=read)
        tables |= {(t.name, t.db) for t in parsed.find_all(exp.Table)}
        literals = {lit.this for lit in parsed.find_all(exp.Literal) if lit.is_string}
        assert all(location in lit for lit in literals if "here" in lit)
    expected_db = "" if dialect == "duckdb" else 'my "schema"'
    assert (ODD, expected_db) in tables


def test_odd_names_work_on_duckdb(tmp_path: Path) -> None:
    names = ["Customer", "UnifiedActivity", ODD]
    doc = write_export(tmp_path, names)
    schemas = {n: SCHEMAS.get(n, SCHEMAS["Customer"]) for n in names}
    con = ibis.duckdb.connect()
    try:
        for stmt in ddl_statements("duckdb", doc, schemas, str(tmp_path)):
            con.con.execute(stmt)
        quoted = exp.to_identifier(ODD, quoted=True).sql(dialect="duckdb")
        assert con.con.execute(f"SELECT count(*) FROM {quoted}").fetchall() == [(0,)]
    finally:
        con.disconnect()


def test_pbids_is_a_power_bi_postgresql_connection() -> None:
    doc = json.loads(json.dumps(pbids("lake.example.com", 5433, "custdim")))
    assert doc["version"] == "0.1"
    (connection,) = doc["connections"]
    assert connection["details"]["protocol"] == "postgresql"
    assert connection["details"]["address"] == {"server": "lake.example.com:5433", "database": "custdim"}
    assert connection["mode"] == "DirectQuery"
