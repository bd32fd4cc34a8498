"""The demo end to end at small scale on DuckDB: counts add up, quality is real, the SQL views answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from custdim.demo.runner import load_truth
from custdim.stages import STAGE_NAMES

if TYPE_CHECKING:
    from custdim.demo.runner import DemoResult

pytestmark = pytest.mark.slow


def test_every_stage_succeeded_and_wrote_a_report(demo_run: DemoResult) -> None:
    report = demo_run.report
    assert report.status == "succeeded"
    assert [s.name for s in report.stages] == list(STAGE_NAMES)
    assert all(s.status == "succeeded" and s.seconds > 0 for s in report.stages)
    saved = json.loads(Path(demo_run.project.lake.path("_runs", f"{report.run_id}.json")).read_text())
    assert saved["status"] == "succeeded" and saved["version"] == 1
    assert [s["name"] for s in saved["stages"]] == [s.name for s in report.stages]


def test_nothing_is_lost_at_ingest(demo_run: DemoResult) -> None:
    ingest = demo_run.report.stage("ingest")
    assert ingest is not None
    for table, rows_read in ingest.rows_in.items():
        rejected = sum(n for k, n in ingest.rejected.items() if k.startswith(table + "."))
        assert rows_read == ingest.rows_out[table] + rejected, table
        lake = demo_run.project.lake
        files = lake.parquet_files(lake.raw_table(*table.split(".")))
        assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == ingest.rows_out[table]


def test_every_source_record_has_exactly_one_profile(demo_run: DemoResult) -> None:
    truth = load_truth(demo_run.dataset.truth_path)
    rows = demo_run.project.sql("SELECT SourceName, TableName, SourceKey, CustomerId FROM AlternateKey").to_pylist()
    keys = [(r["SourceName"], r["TableName"], r["SourceKey"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(truth)  # the generator's good records, no more, no less
    (profiles,) = demo_run.project.sql("SELECT count(DISTINCT CustomerId) FROM AlternateKey").column(0).to_pylist()
    (customers,) = demo_run.project.sql("SELECT count(*) FROM Customer").column(0).to_pylist()
    assert profiles == customers


def test_match_quality_against_truth(demo_run: DemoResult) -> None:
    q = demo_run.quality
    # Dedupe plus fuzzy and nickname-aware rules: precise, with recall limited by records sharing nothing usable.
    assert q.precision > 0.97
    assert q.recall > 0.93
    assert q.f1 > 0.95


def test_dim_customer_has_one_row_per_customer_with_activity_facts(demo_run: DemoResult) -> None:
    sql = demo_run.project.sql
    (n_dim, n_distinct) = sql("SELECT count(*), count(DISTINCT CustomerId) FROM dim_customer").to_pylist()[0].values()
    (n_customer,) = sql("SELECT count(*) FROM Customer").column(0).to_pylist()
    assert n_dim == n_distinct == n_customer
    check = sql("""
        SELECT d.CustomerId, d.ActivityCount, d.TotalAmount, d.FirstActivityAt, d.LastActivityAt,
               count(a.ActivityId) AS n, coalesce(sum(a.Amount), 0) AS total, min(a.ActivityTimeStamp) AS first
        FROM dim_customer d LEFT JOIN UnifiedActivity a USING (CustomerId)
        GROUP BY ALL
    """).to_pylist()
    assert any(r["n"] > 0 for r in check)
    for r in check:
        assert r["ActivityCount"] == r["n"]
        assert r["TotalAmount"] == pytest.approx(float(r["total"]))
        assert r["FirstActivityAt"] == r["first"]
        assert (r["LastActivityAt"] is None) == (r["n"] == 0)


def test_activities_link_through_alternate_keys(demo_run: DemoResult) -> None:
    sql = demo_run.project.sql
    rows = sql("""
        SELECT a.SourceTableName, count(*) AS n, count(k.CustomerId) AS linked
        FROM UnifiedActivity a LEFT JOIN (SELECT DISTINCT CustomerId FROM AlternateKey) k USING (CustomerId)
        GROUP BY 1 ORDER BY 1
    """).to_pylist()
    assert [r["SourceTableName"] for r in rows] == ["pos.receipt_lines", "pos.receipts", "shop.orders"]
    assert all(r["n"] == r["linked"] for r in rows)
    activities = demo_run.report.stage("activities")
    assert activities is not None
    # The generator plants orders for accounts that do not exist; they are counted, not silently dropped.
    assert activities.rejected.get("shop.orders", 0) > 0
    assert sum(activities.rows_in.values()) == activities.rows_out["UnifiedActivity"] + sum(
        activities.rejected.values()
    )
    cols = sql("SELECT * FROM UnifiedActivity LIMIT 1").column_names
    assert cols[:12] == [
        "CustomerId",
        "ActivityId",
        "SourceTableName",
        "SourceActivityId",
        "ActivityType",
        "ActivityTimeStamp",
        "Amount",
        "IsReturn",
        "Title",
        "Product",
        "Brand",
        "Category",
    ]
    assert {"status", "channel", "store_id"} <= set(cols)


def test_customer_fields_and_leading_zeros(demo_run: DemoResult) -> None:
    cols = demo_run.project.sql("SELECT * FROM Customer LIMIT 1").column_names
    assert cols == [
        "CustomerId",
        "FirstName",
        "LastName",
        "Email",
        "Phone",
        "Street",
        "City",
        "PostalCode",
        "BirthDate",
        "CardNumber",
        "Emails",
        "Phones",
        "PreviousCustomerId",
        "SourceRecordCount",
    ]
    zeros = demo_run.project.sql("SELECT count(*) FROM Customer WHERE PostalCode LIKE '0%'").column(0).to_pylist()[0]
    assert zeros > 0
    keys = demo_run.project.sql("SELECT count(*) FROM AlternateKey WHERE SourceKey LIKE 'C0%'").column(0).to_pylist()
    assert keys[0] > 0


def test_measures_and_segments_are_useful(demo_run: DemoResult) -> None:
    p = demo_run.project
    profiles = p.sql("SELECT count(*) AS n FROM Customer").column("n")[0].as_py()
    sizes = {
        r["SegmentName"]: r["n"]
        for r in p.sql("SELECT SegmentName, count(*) AS n FROM SegmentMembership GROUP BY 1").to_pylist()
    }
    defined = [s.name for s in p.config.segments]
    assert len(defined) >= 5
    assert all(0 < sizes.get(name, 0) < profiles for name in defined), sizes
    # win-back is lapsed-high-value AND reachable-by-email
    both = (
        p.sql(
            "SELECT count(*) AS n FROM SegmentMembership a JOIN SegmentMembership b USING (CustomerId) "
            "WHERE a.SegmentName = 'lapsed-high-value' AND b.SegmentName = 'reachable-by-email'"
        )
        .column("n")[0]
        .as_py()
    )
    assert sizes["win-back"] == both
    segments = demo_run.report.stage("segments")
    assert segments is not None and list(segments.details["segments"]) == defined

    columns = p.sql("SELECT * FROM dim_customer LIMIT 0").column_names
    assert {"TotalTransactionValue", "DaysSinceLastPurchase", "FavouriteCategory", "Segments"} <= set(columns)
    # The total transaction value is the sum of the customer's orders and receipts.
    check = (
        p.sql(
            "SELECT count(*) AS n FROM CustomerMeasure m LEFT JOIN (SELECT CustomerId, sum(Amount) AS s "
            "FROM UnifiedActivity WHERE ActivityType = 'SalesOrder' GROUP BY 1) a USING (CustomerId) "
            "WHERE abs(m.TotalTransactionValue - coalesce(a.s, 0)) > 0.005"
        )
        .column("n")[0]
        .as_py()
    )
    assert check == 0

    lines = p.sql(
        "SELECT count(*) AS n, count(Product) AS p, count(Brand) AS b, count(Category) AS c "
        "FROM UnifiedActivity WHERE ActivityType = 'SalesOrderLine'"
    ).to_pylist()[0]
    assert lines["n"] > 0 and lines["n"] == lines["p"] == lines["b"] == lines["c"]


def test_clv_is_fitted_validated_and_beats_past_spend_on_the_demo(demo_run: DemoResult) -> None:
    p = demo_run.project
    card = json.loads(Path(p.lake.path("models", "clv.json")).read_text())
    assert card["status"] == "succeeded"
    scored = p.sql("SELECT count(CLVScore) AS n FROM dim_customer").column("n")[0].as_py()
    assert scored == card["customers"]["customers_with_purchases"] > 0
    v = card["validation"]
    assert v["status"] == "succeeded"
    # The demo's shoppers buy at their own rate, stop at some point and spend at their own level: ranking by
    # predicted value finds next year's best customers better than ranking by past spend does.
    assert v["top_decile_revenue_capture"] > v["baseline_top_decile_by_past_spend"]


def test_churn_affinity_and_recommendations_on_the_demo(demo_run: DemoResult) -> None:
    p = demo_run.project
    churn = json.loads(Path(p.lake.path("models", "churn.json")).read_text())
    assert churn["status"] == "succeeded"
    v = churn["validation"]
    # Held out: the last 90 days before as_of, trained on the three windows before it.
    assert v["status"] == "succeeded" and v["auc"] > 0.6 and v["grade"] in {"A", "B", "C"}
    scored = p.sql("SELECT count(ChurnScore) AS n FROM dim_customer").column("n")[0].as_py()
    assert scored == churn["scored_customers"] > 0
    recs = json.loads(Path(p.lake.path("models", "recommendations.json")).read_text())
    assert recs["status"] == "succeeded" and recs["validation"]["status"] == "succeeded"
    assert 0 <= recs["validation"]["hit_rate"] <= 1
    per_customer = p.sql(
        "SELECT CustomerId, count(*) AS n, min(Rank) AS lo, max(Rank) AS hi FROM ProductRecommendation GROUP BY 1"
    ).to_pylist()
    assert len(per_customer) == recs["customers_recommended"] > 0
    assert all(r["n"] == 5 and r["lo"] == 1 and r["hi"] == 5 for r in per_customer)
    # allow_repeat is off: nobody is recommended a product they bought.
    repeats = (
        p.sql(
            "SELECT count(*) AS n FROM ProductRecommendation r JOIN UnifiedActivity a "
            "ON a.CustomerId = r.CustomerId AND a.Product = r.ProductId AND a.ActivityType = 'SalesOrderLine' "
            "AND NOT coalesce(a.IsReturn, false)"
        )
        .column("n")[0]
        .as_py()
    )
    assert repeats == 0
    top = p.sql(
        "SELECT d.TopBrands, b.Name FROM dim_customer d JOIN BrandAffinity b "
        "ON b.CustomerId = d.CustomerId AND b.Rank = 1"
    ).to_pylist()
    assert top and all(r["TopBrands"][0] == r["Name"] and len(r["TopBrands"]) <= 3 for r in top)
    levels = {r["Level"] for r in p.sql("SELECT DISTINCT Level FROM InterestAffinity").to_pylist()}
    assert levels <= {"Very high", "High", "Medium", "Low"} and len(levels) >= 3


def test_segments_use_churn_and_affinity(demo_run: DemoResult) -> None:
    p = demo_run.project
    sizes = {
        r["SegmentName"]: r["n"]
        for r in p.sql("SELECT SegmentName, count(*) AS n FROM SegmentMembership GROUP BY 1").to_pylist()
    }
    at_risk = p.sql(
        "SELECT count(*) AS n FROM dim_customer WHERE ValueBand = 'High' AND RiskBand = 'High'"
    ).to_pylist()[0]["n"]
    assert sizes.get("valuable-at-risk", 0) == at_risk > 0
    kestrel = p.sql(
        "SELECT count(*) AS n FROM BrandAffinity WHERE Rank = 1 AND Name = 'Kestrel' AND Score >= 70"
    ).to_pylist()[0]["n"]
    assert sizes.get("kestrel-lovers", 0) == kestrel > 0


def test_validate_accepts_the_demo_project_and_checks_columns_borrowed_from_a_parent(
    demo_run: DemoResult, tmp_path: Path
) -> None:
    """Receipt lines take the member and the time from their receipt: validate looks for them there too."""
    from custdim.config.loader import load_project_config
    from custdim.errors import ConfigError
    from custdim.preflight import validate_project

    validate_project(load_project_config(demo_run.directory))
    text = (demo_run.directory / "custdim.yaml").read_text()
    lines_block = text.index("  - table: pos.receipt_lines")
    broken = text[:lines_block] + text[lines_block:].replace("timestamp: purchased_at", "timestamp: purchasd_at", 1)
    project = tmp_path / "custdim.yaml"
    project.write_text(broken.replace("path: data/", f"path: {demo_run.directory}/data/"))
    with pytest.raises(ConfigError) as info:
        validate_project(load_project_config(tmp_path))
    assert info.value.key == "activities[2].timestamp"
    assert "pos.receipt_lines or pos.receipts" in str(info.value) and "'purchased_at'" in str(info.value)
