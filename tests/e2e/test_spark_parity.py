"""The same project file on Spark: the demo runs end to end and produces the same profiles as on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from custdim.demo.runner import DemoResult, run_demo

pytestmark = [pytest.mark.spark, pytest.mark.slow]

CUSTOMERS, SEED = 400, 11


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, spark_session: object) -> tuple[DemoResult, DemoResult]:
    duck = run_demo(tmp_path_factory.mktemp("duck"), customers=CUSTOMERS, seed=SEED, engine="duckdb")
    spark = run_demo(tmp_path_factory.mktemp("spark"), customers=CUSTOMERS, seed=SEED, engine="spark")
    return duck, spark


def rows(result: DemoResult, sql: str) -> list[dict[str, object]]:
    return result.project.sql(sql).to_pylist()


def test_spark_run_succeeds_end_to_end(both: tuple[DemoResult, DemoResult]) -> None:
    _, spark = both
    assert spark.report.engine == "spark" and spark.report.status == "succeeded"
    assert [s.status for s in spark.report.stages] == ["succeeded"] * 9
    assert Path(spark.project.lake.path("export", "export.manifest.cdm.json")).exists()


def test_same_alternate_key_groupings(both: tuple[DemoResult, DemoResult]) -> None:
    def groups(r: DemoResult) -> set[frozenset[tuple[object, ...]]]:
        by_id: dict[object, set[tuple[object, ...]]] = {}
        for k in rows(r, "SELECT * FROM AlternateKey"):
            by_id.setdefault(k["CustomerId"], set()).add((k["SourceName"], k["TableName"], k["SourceKey"]))
        return {frozenset(g) for g in by_id.values()}

    duck, spark = both
    assert groups(duck) == groups(spark)
    # Deterministic ids: not only the groupings, the CustomerIds themselves agree.
    sql = "SELECT SourceName, TableName, SourceKey, CustomerId FROM AlternateKey ORDER BY 1, 2, 3"
    assert rows(duck, sql) == rows(spark, sql)


def test_same_customer_fields(both: tuple[DemoResult, DemoResult]) -> None:
    duck, spark = both
    sql = "SELECT * FROM Customer ORDER BY CustomerId"
    assert rows(duck, sql) == rows(spark, sql)


def test_same_activities_and_dimension(both: tuple[DemoResult, DemoResult]) -> None:
    duck, spark = both
    sql = (
        "SELECT CustomerId, ActivityId, SourceTableName, ActivityTimeStamp, round(Amount, 2) AS Amount "
        "FROM UnifiedActivity ORDER BY ActivityId"
    )
    assert rows(duck, sql) == rows(spark, sql)
    sql = "SELECT CustomerId, ActivityCount, round(TotalAmount, 2) AS t FROM dim_customer ORDER BY CustomerId"
    assert rows(duck, sql) == rows(spark, sql)
    sql = "SELECT RuleName, count(*) AS n FROM MatchPairs GROUP BY 1 ORDER BY 1"
    assert rows(duck, sql) == rows(spark, sql)
    assert duck.quality == spark.quality


def test_same_measures_and_segments(both: tuple[DemoResult, DemoResult]) -> None:
    duck, spark = both
    measures = duck.project.sql("SELECT * FROM CustomerMeasure LIMIT 0").column_names
    floats = {"TotalTransactionValue", "AverageTransactionValue", "SpendLast12m", "ShareOfSpendLast12m"}
    columns = ", ".join(f"round({c}, 4) AS {c}" if c in floats else c for c in measures)
    sql = f"SELECT {columns} FROM CustomerMeasure ORDER BY CustomerId"
    assert rows(duck, sql) == rows(spark, sql)
    sql = "SELECT MeasureName, GroupBy, GroupKey, round(Value, 2) AS v FROM BusinessMeasure ORDER BY 1, 2, 3"
    assert rows(duck, sql) == rows(spark, sql)
    sql = "SELECT SegmentName, CustomerId FROM SegmentMembership ORDER BY 1, 2"
    assert rows(duck, sql) == rows(spark, sql)
    assert len(rows(duck, sql)) > 0
    sql = "SELECT SegmentName, Members, Added, Removed FROM SegmentHistory ORDER BY 1"
    assert rows(duck, sql) == rows(spark, sql)
    sql = "SELECT CustomerId, Segments FROM dim_customer ORDER BY CustomerId"
    assert rows(duck, sql) == rows(spark, sql)
