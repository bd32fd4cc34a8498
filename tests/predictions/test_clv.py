"""The CLV model in the pipeline: BTYD summaries by hand, a minimal project scored end to end, too little data."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from custdim.project import Project
from custdim.stages.predictions.clv import summaries
from tests.insights.projects import shop

END = dt.datetime(2025, 7, 1)  # the end of the as_of day 2025-06-30


def activity(rows: list[tuple[str, str, str, float | None, bool]]) -> pa.Table:
    """UnifiedActivity-shaped rows: (customer, type, timestamp, amount, is return)."""
    return pa.table(
        {
            "CustomerId": [r[0] for r in rows],
            "ActivityType": [r[1] for r in rows],
            "ActivityTimeStamp": pa.array([dt.datetime.fromisoformat(r[2]) for r in rows], pa.timestamp("us")),
            "Amount": pa.array([r[3] for r in rows], pa.float64()),
            "IsReturn": [r[4] for r in rows],
        }
    )


def test_summaries_follow_the_btyd_conventions(engine) -> None:  # type: ignore[no-untyped-def]
    rows = [
        # a: first purchase 2025-01-01 (two orders that day: one purchase day of 30), repeats 01-11 (20) and 01-21 (40)
        ("a", "SalesOrder", "2025-01-01 09:00:00", 10.0, False),
        ("a", "SalesOrder", "2025-01-01 17:00:00", 20.0, False),
        ("a", "SalesOrder", "2025-01-11 10:00:00", 20.0, False),
        ("a", "SalesOrder", "2025-01-15 10:00:00", -20.0, True),  # a return is no purchase
        ("a", "SalesOrder", "2025-01-21 10:00:00", 40.0, False),
        ("a", "WebVisit", "2025-03-01 10:00:00", None, False),  # another activity type
        ("a", "SalesOrder", "2025-07-02 10:00:00", 999.0, False),  # after as_of
        # b: a single purchase on the as_of day itself
        ("b", "SalesOrder", "2025-06-30 23:00:00", 15.0, False),
        # c: a zero-amount order, then a repeat of 0: a purchase day all the same
        ("c", "SalesOrder", "2025-06-01 10:00:00", 0.0, False),
        ("c", "SalesOrder", "2025-06-02 10:00:00", 0.0, False),
        # d: only a return: not a customer for the model
        ("d", "SalesOrder", "2025-05-01 10:00:00", -5.0, True),
    ]
    t = engine.from_arrow(activity(rows))
    got = {r["CustomerId"]: r for r in engine.to_arrow(summaries(t, "SalesOrder", END)).to_pylist()}
    assert set(got) == {"a", "b", "c"}
    a, b, c = got["a"], got["b"], got["c"]
    # x = repeat purchase days; t_x = first to last purchase day; T = first purchase day to the end of as_of.
    assert (a["x"], a["tx_days"], a["T_days"]) == (2, 20, 181)
    assert a["m"] == pytest.approx(30.0) and a["total"] == pytest.approx(90.0)  # (20 + 40) / 2; the first day left out
    assert (b["x"], b["tx_days"], b["T_days"], b["m"]) == (0, 0, 1, None)
    assert (c["x"], c["tx_days"], c["T_days"], c["m"]) == (1, 1, 30, 0.0)


def btyd_orders(customers: int, seed: int) -> list[tuple[str, str, str, str]]:
    """(order id, customer, timestamp, amount): every customer buys at least once, at their own rate, until they
    stop, over two years up to 2025-06-30; each spends at their own level."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2023, 7, 1)
    span = (END - start).days
    out = []
    for i in range(customers):
        rate, stop, level = rng.gamma(1.5, 1 / 40), rng.beta(1.5, 6), rng.gamma(3, 20)
        day = float(rng.integers(0, span - 30))
        while day < span:
            when = start + dt.timedelta(days=day, hours=int(rng.integers(8, 20)))
            out.append((f"O{len(out) + 1}", f"C{i}", when.isoformat(sep=" "), f"{rng.gamma(4, level / 4):.2f}"))
            if rng.random() < stop:
                break
            day += rng.exponential(1 / rate)
    return out


MINIMAL = """name: minimal
as_of: 2025-06-30
sources:
  - name: s
    type: files
    tables:
      - {name: customers, path: customers.csv, primary_key: id}
      - {name: orders, path: orders.csv, primary_key: order_id}
unify:
  tables:
    - {table: s.customers, fields: {email: Identity.Service.Email}}
activities:
  - {table: s.orders, type: SalesOrder, customer: {table: s.customers, foreign_key: customer}, timestamp: at,
     amount: amount}
predictions:
  clv: {}
segments:
  - name: high-clv
    all: [{field: ValueBand, op: "=", value: High}]
  - name: likely-gone
    all: [{field: ProbabilityAlive, op: "<", value: 0.3}]
"""


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("minimal")
    with (root / "customers.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([("id", "email"), *[(f"C{i}", f"c{i}@example.com") for i in range(600)]])
    with (root / "orders.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([("order_id", "customer", "at", "amount"), *btyd_orders(600, seed=5)])
    (root / "custdim.yaml").write_text(MINIMAL, encoding="utf-8")
    project = Project.load(root)
    assert project.run().status == "succeeded"
    return project


def test_a_minimal_project_scores_every_customer(minimal: Project) -> None:
    rows = minimal.sql(
        "SELECT count(*) AS n, count(CLVScore) AS scored, count(ValueBand) AS banded, min(ProbabilityAlive) AS lo, "
        "max(ProbabilityAlive) AS hi, min(ExpectedPurchases) AS ep FROM ClvPrediction"
    ).to_pylist()[0]
    assert rows["n"] == rows["scored"] == rows["banded"] == 600
    assert 0 < rows["lo"] < rows["hi"] <= 1 and rows["ep"] >= 0
    bands = {
        r["ValueBand"]: r["n"]
        for r in minimal.sql("SELECT ValueBand, count(*) AS n FROM ClvPrediction GROUP BY 1").to_pylist()
    }
    assert bands["High"] == pytest.approx(120, abs=3)  # the top 20 %
    assert bands["Medium"] == pytest.approx(180, abs=3) and bands["Low"] == pytest.approx(300, abs=3)
    # dim_customer carries the score; segments use prediction outputs like any field.
    dim = minimal.sql(
        "SELECT count(CLVScore) AS n, count(*) FILTER (WHERE ValueBand = 'High') AS high FROM dim_customer"
    )
    assert dim.to_pylist()[0] == {"n": 600, "high": bands["High"]}
    sizes = {
        r["SegmentName"]: r["n"]
        for r in minimal.sql("SELECT SegmentName, count(*) AS n FROM SegmentMembership GROUP BY 1").to_pylist()
    }
    assert sizes["high-clv"] == bands["High"] and 0 < sizes["likely-gone"] < 600


def test_the_model_card_records_parameters_conventions_and_validation(minimal: Project) -> None:
    card = json.loads(Path(minimal.lake.path("models", "clv.json")).read_text())
    assert card["status"] == "succeeded" and card["as_of"] == "2025-06-30" and card["time_unit"] == "week"
    assert set(card["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(card["gamma_gamma"]) >= {"p", "q", "v", "log_likelihood"}
    assert card["customers"]["customers_with_purchases"] == 600 and "frequency" in card["conventions"]
    v = card["validation"]
    assert v["status"] == "succeeded" and v["calibration_end"] == "2024-07-01"
    assert v["holdout"] == {"from": "2024-07-01", "to": "2025-06-30"} and v["actual_purchases"] > 0
    # Fitted on the first year, the model predicts the second year's purchases to within a third in total.
    assert abs(v["purchases_error"]) < 0.33
    assert v["top_decile_revenue_capture"] is not None and v["baseline_top_decile_by_past_spend"] is not None
    report = minimal.runs(1)[0].stage("predictions")
    assert report is not None and report.details["clv"]["status"] == "succeeded"


def test_too_little_data_skips_the_model_and_the_run_goes_on(tmp_path: Path) -> None:
    project = shop(tmp_path, "predictions:\n  clv: {time_unit: day}\n")
    report = project.run()
    assert report.status == "succeeded"
    stage = report.stage("predictions")
    assert stage is not None and any("CLV skipped: 2 customers with a purchase" in w for w in stage.warnings)
    assert project.sql("SELECT count(*) FROM ClvPrediction")[0][0].as_py() == 0
    card = json.loads(Path(project.lake.path("models", "clv.json")).read_text())
    assert card["status"] == "skipped" and "needs at least 50" in card["reason"]
    # Switched off: the stale card goes, the (empty) table stays so the export keeps its shape.
    (tmp_path / "custdim.yaml").write_text(
        (tmp_path / "custdim.yaml").read_text().replace("predictions:\n  clv: {time_unit: day}\n", "")
    )
    assert Project.load(tmp_path).run().status == "succeeded"
    assert not Path(project.lake.path("models", "clv.json")).exists()
    assert "CLVScore" in project.sql("SELECT * FROM dim_customer LIMIT 0").column_names


def test_models_command_prints_the_cards(minimal: Project) -> None:
    from typer.testing import CliRunner

    from custdim.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["models", "-p", str(minimal.config.resolve("."))])
    assert result.exit_code == 0, result.output
    assert "clv: BG/NBD" in result.output and "held-out" in result.output and "gamma-gamma" in result.output
    result = runner.invoke(app, ["models", "-p", str(minimal.config.resolve(".")), "--format", "json"])
    [card] = json.loads(result.output)
    assert card["name"] == "clv" and card["status"] == "succeeded" and set(card["bgnbd"]) >= {"r", "alpha"}
    result = runner.invoke(app, ["models", "-p", str(minimal.config.resolve(".")), "--format", "xml"])
    assert result.exit_code == 2 and "--format must be table or json" in result.output
