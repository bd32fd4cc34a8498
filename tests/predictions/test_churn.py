"""Churn: features and labels by hand, no leakage past the cut-off, a project scored and validated end to end, too
little data."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from custdim.project import Project
from custdim.stages.predictions.churn import FEATURES, features, labels
from tests.insights.projects import shop
from tests.predictions.test_clv import MINIMAL, btyd_orders

CUT = dt.datetime(2025, 4, 1)


def activity(rows: list[tuple[str, str, str, float, bool, str | None]]) -> pa.Table:
    """UnifiedActivity-shaped rows: (customer, type, timestamp, amount, is return, category)."""
    return pa.table(
        {
            "CustomerId": [r[0] for r in rows],
            "ActivityType": [r[1] for r in rows],
            "ActivityTimeStamp": pa.array([dt.datetime.fromisoformat(r[2]) for r in rows], pa.timestamp("us")),
            "Amount": pa.array([r[3] for r in rows], pa.float64()),
            "IsReturn": [r[4] for r in rows],
            "Category": pa.array([r[5] for r in rows], pa.string()),
        }
    )


ROWS = [
    # a: purchase days 2024-10-05, 2025-01-10 (two orders), 2025-03-02; one return; two categories on lines.
    ("a", "SalesOrder", "2024-10-05 10:00:00", 40.0, False, None),
    ("a", "SalesOrder", "2025-01-10 09:00:00", 10.0, False, None),
    ("a", "SalesOrder", "2025-01-10 18:00:00", 20.0, False, None),
    ("a", "SalesOrder", "2025-02-01 10:00:00", -20.0, True, None),
    ("a", "SalesOrder", "2025-03-02 10:00:00", 30.0, False, None),
    ("a", "SalesOrderLine", "2025-03-02 10:00:00", 12.0, False, "shoes"),
    ("a", "SalesOrderLine", "2025-03-02 10:00:00", 18.0, False, "outdoor"),
    # b: one purchase, then one inside the outcome window (retained)
    ("b", "SalesOrder", "2025-03-31 23:00:00", 15.0, False, None),
    ("b", "SalesOrder", "2025-05-01 10:00:00", 15.0, False, None),
    # c: only after the cut-off: not a customer at the cut-off
    ("c", "SalesOrder", "2025-04-02 10:00:00", 15.0, False, None),
]


def by_id(t: pa.Table) -> dict[str, dict[str, object]]:
    return {r["CustomerId"]: r for r in t.to_pylist()}


def test_features_and_labels_by_hand(engine) -> None:  # type: ignore[no-untyped-def]
    t = engine.from_arrow(activity(ROWS))
    f = features(engine, t, "SalesOrder", CUT, 90)
    assert f.column_names == ["CustomerId", *FEATURES]
    got = by_id(f)
    assert set(got) == {"a", "b"}
    a, b = got["a"], got["b"]
    assert a["recency_days"] == 30 and a["frequency"] == 3 and a["tenure_days"] == 178
    assert a["mean_interpurchase_days"] == 74 and a["recency_vs_interpurchase"] == pytest.approx(30 / 74)
    # The last 90 days before 2025-04-01 start 2025-01-01: two purchase days there, one in the 90 days before.
    assert (a["purchases_last_window"], a["purchases_previous_window"], a["trend"]) == (2, 1, 1)
    assert a["total_spend"] == 100 and a["average_value"] == pytest.approx(100 / 3)
    assert a["return_rate"] == pytest.approx(1 / 4) and a["category_breadth"] == 2
    assert b["recency_days"] == 1 and b["frequency"] == 1 and b["mean_interpurchase_days"] is None
    assert b["category_breadth"] == 0
    y = labels(engine, t, "SalesOrder", CUT, 90, f["CustomerId"])
    assert dict(zip(f["CustomerId"].to_pylist(), y.tolist(), strict=True)) == {"a": 1, "b": 0}


def test_features_never_see_past_the_cut_off(engine) -> None:  # type: ignore[no-untyped-def]
    before = [r for r in ROWS if dt.datetime.fromisoformat(r[2]) < CUT]
    later = [(r[0], r[1], "2025-06-01 10:00:00", 999.0, r[4], "kids") for r in ROWS]
    drop = ["expected_purchases"]  # BG/NBD needs 20 repeat buyers; NaN here either way
    a = features(engine, engine.from_arrow(activity(before)), "SalesOrder", CUT, 90).drop_columns(drop)
    b = features(engine, engine.from_arrow(activity(ROWS + later)), "SalesOrder", CUT, 90).drop_columns(drop)
    assert a.to_pylist() == b.to_pylist()


# The minimal project of the CLV tests (one customer table, one field, one order table), with churn instead.
CHURN = MINIMAL.split("predictions:")[0].replace("name: minimal", "name: churn") + (
    "predictions:\n"
    "  churn: {definition_days: 90}\n"
    "segments:\n"
    "  - name: at-risk\n"
    '    all: [{field: RiskBand, op: "=", value: High}]\n'
)
CUSTOMERS = 1500


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("churn")
    with (root / "customers.csv").open("w", newline="") as fh:
        rows = [(f"C{i}", f"c{i}@example.com") for i in range(CUSTOMERS + 20)]  # 20 never buy
        csv.writer(fh).writerows([("id", "email"), *rows])
    with (root / "orders.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([("order_id", "customer", "at", "amount"), *btyd_orders(CUSTOMERS, seed=9)])
    (root / "custdim.yaml").write_text(CHURN, encoding="utf-8")
    p = Project.load(root)
    assert p.run().status == "succeeded"
    return p


def test_every_buyer_is_scored_with_bands_and_factors(project: Project) -> None:
    rows = project.sql("SELECT * FROM ChurnPrediction").to_pylist()
    assert len(rows) == CUSTOMERS + 20
    scored = [r for r in rows if r["ChurnScore"] is not None]
    assert len(scored) == CUSTOMERS  # the 20 without a purchase are not scored
    for r in scored:
        s = r["ChurnScore"]
        assert 0 <= s <= 1 and r["IsChurn"] == (s >= 0.5)
        assert r["RiskBand"] == ("High" if s >= 0.66 else "Medium" if s >= 0.33 else "Low")
        assert len(r["TopFactors"]) <= 3 and set(r["TopFactors"]) <= set(FEATURES)
    assert sum(1 for r in scored if r["TopFactors"]) > CUSTOMERS * 0.9
    assert len({r["RiskBand"] for r in scored}) >= 2
    dim = project.sql("SELECT count(ChurnScore) AS n, count(RiskBand) AS b FROM dim_customer").to_pylist()[0]
    assert dim == {"n": CUSTOMERS, "b": CUSTOMERS}
    high = sum(1 for r in scored if r["RiskBand"] == "High")
    members = project.sql("SELECT count(*) AS n FROM SegmentMembership WHERE SegmentName = 'at-risk'")
    assert members.to_pylist()[0]["n"] == high


def test_the_card_reports_held_out_quality_against_the_baseline_rule(project: Project) -> None:
    card = json.loads(Path(project.lake.path("models", "churn.json")).read_text())
    assert card["status"] == "succeeded" and card["definition_days"] == 90
    v = card["validation"]
    # Cut-offs step back 90 days at a time from the end of the as_of day (2025-07-01 00:00).
    assert v["holdout"] == {"from": "2025-04-02", "to": "2025-06-30"}
    assert v["trained_on_cutoffs"] == ["2025-01-02", "2024-10-04", "2024-07-06"]
    assert [c["cutoff"] for c in card["cutoffs"]] == ["2025-04-02", "2025-01-02", "2024-10-04", "2024-07-06"]
    # Simulated buy-till-you-die shoppers: history predicts who comes back better than chance.
    assert v["auc"] > 0.65 and v["baseline"]["auc_recency"] > 0.5
    assert v["baseline"]["days"] in {90, 45, 22, 11} and v["grade"] in {"A", "B", "C"}
    assert 0 < v["churn_rate"] < 1 and v["precision"] is not None and v["recall"] is not None
    assert list(card["importance"]) and set(card["importance"]) == set(FEATURES)
    report = project.runs(1)[0].stage("predictions")
    assert report is not None and report.details["churn"]["status"] == "succeeded"


def test_churn_with_too_little_data_is_skipped_and_the_run_goes_on(tmp_path: Path) -> None:
    p = shop(tmp_path, "predictions:\n  churn: {}\n  affinity: {}\n  recommendations: {}\n")
    report = p.run()
    assert report.status == "succeeded"
    stage = report.stage("predictions")
    assert stage is not None
    assert any(w.startswith("Churn skipped:") and "churn needs 500" in w for w in stage.warnings), stage.warnings
    assert any(w.startswith("Recommendations skipped:") for w in stage.warnings)
    assert p.sql("SELECT count(*) FROM ChurnPrediction")[0][0].as_py() == 0
    card = json.loads(Path(p.lake.path("models", "churn.json")).read_text())
    assert card["status"] == "skipped"
    # Affinity needs no minimum: the shop's lines with a brand get scores.
    assert "TopBrands" in p.sql("SELECT * FROM dim_customer LIMIT 0").column_names


def test_backtest_reruns_the_validation_into_the_card_and_a_run_report(project: Project) -> None:
    from typer.testing import CliRunner

    from custdim.cli.main import app

    fitted = json.loads(Path(project.lake.path("models", "churn.json")).read_text())
    result = CliRunner().invoke(app, ["models", "backtest", "-p", str(project.config.resolve(".")), "-f", "json"])
    assert result.exit_code == 0, result.output
    backtest = json.loads(result.output)["churn"]
    # The same activities and as_of: the backtest reproduces the run's validation exactly.
    assert {k: backtest[k] for k in fitted["validation"]} == fitted["validation"]
    card = json.loads(Path(project.lake.path("models", "churn.json")).read_text())
    assert card["backtest"] == backtest and card["validation"] == fitted["validation"]
    report = project.runs(1)[0].stage("backtest")
    assert report is not None and report.status == "succeeded" and report.details["churn"]["auc"] == backtest["auc"]
    table = CliRunner().invoke(app, ["models", "backtest", "-p", str(project.config.resolve("."))])
    assert table.exit_code == 0 and "AUC" in table.output and "grade" in table.output, table.output
    shown = CliRunner().invoke(app, ["models", "-p", str(project.config.resolve("."))])
    assert "churn: gradient-boosted trees" in shown.output and "importance" in shown.output, shown.output


def test_backtest_before_any_run_says_what_to_do(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from custdim.cli.main import app

    shop(tmp_path, "predictions:\n  churn: {}\n")
    result = CliRunner().invoke(app, ["models", "backtest", "-p", str(tmp_path)])
    assert result.exit_code != 0 and "run `custdim run` first" in result.output, result.output


@pytest.mark.spark
@pytest.mark.slow
def test_the_same_project_runs_on_spark(project: Project, tmp_path: Path, spark_session: object) -> None:
    import shutil

    root = Path(project.config.resolve("."))
    for name in ("customers.csv", "orders.csv"):
        shutil.copy(root / name, tmp_path / name)
    (tmp_path / "custdim.yaml").write_text(CHURN.replace("name: churn\n", "name: churn\nengine: spark\n"))
    spark = Project.load(tmp_path)
    assert spark.run().status == "succeeded"
    sql = "SELECT CustomerId, ChurnScore, RiskBand FROM ChurnPrediction ORDER BY CustomerId"
    duck_rows, spark_rows = project.sql(sql).to_pylist(), spark.sql(sql).to_pylist()
    assert len(duck_rows) == len(spark_rows)
    # Features are rounded to 6 decimals before training: both engines give the model the same numbers.
    for a, b in zip(duck_rows, spark_rows, strict=True):
        assert a["CustomerId"] == b["CustomerId"] and a["RiskBand"] == b["RiskBand"]
        assert a["ChurnScore"] == pytest.approx(b["ChurnScore"], abs=1e-6)
    cards = [json.loads(Path(p.lake.path("models", "churn.json")).read_text()) for p in (project, spark)]
    assert cards[0]["validation"] == cards[1]["validation"]
