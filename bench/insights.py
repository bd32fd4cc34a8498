"""Measures and segments benchmark: custdim's two insight stages against one hand-written DuckDB query, and on Spark.

``python -m bench.run --suite insights [--customers 1000000] [--activities 10000000]`` (or ``python -m bench.insights``
with the same options). In ``bench/work/insights-<customers>/``, each phase in its own process so that every peak
memory is its own:

1. ``generate``: a retailer's Parquet files (customers, orders, order lines with brand and category, web visits;
   skewed: many customers buy rarely, some often, a third never; about 3 % of orders are returns) and a project file
   with the demo's measures and segments plus a web-visit measure and segment;
2. ``setup``: custdim runs ingest -> activities on DuckDB (not measured here: the pipeline suite does that);
3. ``custdim``: ``Project.run(stage="measures")`` then ``stage="segments"`` on DuckDB, timed and memory-sampled;
4. ``floor``: one hand-written DuckDB SQL script computing the same customer and business measures from the same
   ``UnifiedActivity`` and ``Customer`` files into Parquet, then checked value by value against custdim's
   ``CustomerMeasure`` (the floor: what a person who knows DuckDB would write for exactly these measures);
5. ``spark``: the same project's two stages with ``--engine spark`` on local Spark (time only).

Results: ``bench/results/insights.{json,md}``. Reports; never fails on speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "work"
PHASES = ("generate", "setup", "custdim", "floor", "spark")
DEFAULT_CUSTOMERS = 1_000_000
DEFAULT_ACTIVITIES = 10_000_000
TARGET_SECONDS = 30.0
TARGET_GIB = 4.0
TARGET_RATIO = 1.5
# Activity rows by type: orders, their lines, web visits.
SHARES = {"orders": 0.3, "lines": 0.6, "visits": 0.1}
FIRST_DAY = "2022-07-01"
LAST_DAY = "2025-06-30"
BRANDS = ["Summit Trail", "Kestrel", "Cedar & Pine", "Northwind", "Blue Harbor", "Lumen", "Atlas", "Verde", "Orbit",
          "Maple & Co", "Solstice", "Ironbark", "Tidewater", "Quill", "Ember", "Halcyon", "Fjord", "Saffron",
          "Granite", "Willow"]  # fmt: skip
CATEGORIES = ["outdoor", "shoes", "home", "beauty", "kitchen", "kids", "sports", "electronics", "garden", "books"]
CITIES = [f"City {i:03d}" for i in range(200)]
FIRST_NAMES = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jo", "Kim", "Lou", "Max", "Ned", "Oz"]
LAST_NAMES = ["Lee", "Ray", "Oz", "Kay", "Fox", "Day", "Ng", "Poe", "Roe", "Tan", "Wu", "Yi", "Zed", "Hart", "Moss"]

PROJECT = """name: insights-bench
engine: duckdb
spark:
  # What a user sets for ten million rows on one machine: a driver big enough for the data, a throughput GC.
  conf: {spark.driver.memory: 8g, spark.sql.shuffle.partitions: "8", spark.driver.extraJavaOptions: -XX:+UseParallelGC,
         spark.ui.showConsoleProgress: "false"}
sources:
  - name: shop
    type: files
    tables:
      - {name: customers, path: data/customers.parquet, format: parquet, primary_key: customer_id}
      - {name: orders, path: data/orders.parquet, format: parquet, primary_key: order_id}
      - {name: order_lines, path: data/order_lines.parquet, format: parquet, primary_key: line_id}
      - {name: visits, path: data/visits.parquet, format: parquet, primary_key: visit_id}
unify:
  tables:
    - table: shop.customers
      fields: {first_name: Person.FirstName, last_name: Person.LastName, email: Identity.Service.Email,
               city: Location.City, birth_date: Person.BirthDate}
activities:
  - {table: shop.orders, type: SalesOrder, customer: {table: shop.customers, foreign_key: customer_id},
     timestamp: ordered_at, amount: total, returns: status}
  - {table: shop.order_lines, type: SalesOrderLine, parent: {table: shop.orders, key: order_id},
     customer: {table: shop.customers, foreign_key: customer_id}, timestamp: ordered_at, amount: price,
     quantity: quantity, title: product, product: product_id, brand: brand, category: category}
  - {table: shop.visits, type: WebVisit, customer: {table: shop.customers, foreign_key: customer_id},
     timestamp: visited_at}
measures:
  - template: total_transaction_value
  - template: transaction_count
  - template: average_transaction_value
  - template: days_since_last_purchase
  - template: active_lifespan
  - {name: SpendLast12m, aggregate: sum, of: Amount, from: SalesOrder, window: 12m, default: 0}
  - {name: OrdersLast90d, aggregate: count, from: SalesOrder, window: 90d}
  - {name: ReturnedOrders, aggregate: count, from: SalesOrder, where: [{field: IsReturn, op: is_true}]}
  - {name: FavouriteCategory, aggregate: argmax, of: Amount, by: Category, from: SalesOrderLine}
  - {name: FavouriteBrand, aggregate: argmax, of: Amount, by: Brand, from: SalesOrderLine}
  - {name: VisitsLast30d, aggregate: count, from: WebVisit, window: 30d}
  - {name: ShareOfSpendLast12m, expression: "round(SpendLast12m / nullif(TotalTransactionValue, 0), 3)"}
  - {name: RevenueByMonth, scope: business, aggregate: sum, of: Amount, from: SalesOrder, group_by: [month]}
  - {name: RevenueByCategory, scope: business, aggregate: sum, of: Amount, from: SalesOrderLine, window: 12m,
     group_by: [Category]}
segments:
  - {name: high-value, all: [{field: TotalTransactionValue, op: ">", value: 1000}]}
  - name: lapsed-high-value
    all: [{field: TotalTransactionValue, op: ">", value: 500}, {field: DaysSinceLastPurchase, op: ">=", value: 180}]
  - {name: recent-buyers, all: [{activity: SalesOrder, within: 30d, op: exists}]}
  - {name: one-time-buyers, all: [{field: TransactionCount, op: "=", value: 1}]}
  - {name: never-bought, all: [{field: TransactionCount, op: "=", value: 0}]}
  - name: outdoor-fans
    any:
      - {field: FavouriteCategory, op: "=", value: outdoor}
      - {field: FavouriteBrand, op: in, value: [Summit Trail, Kestrel]}
  - {name: reachable-by-email, all: [{field: Email, op: is_not_null}]}
  - {name: win-back, intersect: [segment:lapsed-high-value, segment:reachable-by-email]}
  - name: everyone-but-lapsed
    union: [segment:all-customers]
    except: [segment:lapsed-high-value, segment:never-bought]
  - name: browsing-not-buying
    all: [{activity: WebVisit, within: 30d, op: exists}, {activity: SalesOrder, within: 90d, op: not_exists}]
"""
CUSTOMER_MEASURES = (
    "TotalTransactionValue", "TransactionCount", "AverageTransactionValue", "DaysSinceLastPurchase", "ActiveLifespan",
    "SpendLast12m", "OrdersLast90d", "ReturnedOrders", "FavouriteCategory", "FavouriteBrand", "VisitsLast30d",
    "ShareOfSpendLast12m",
)  # fmt: skip

# The floor: what a person fluent in DuckDB writes for exactly these measures, in one script. {activity},
# {customers}, {out_customer} and {out_business} are file paths.
FLOOR_SQL = """
CREATE VIEW a AS SELECT CustomerId, ActivityType, ActivityTimeStamp AS ts, Amount, IsReturn, Category, Brand
  FROM read_parquet('{activity}');
CREATE TEMP TABLE d AS
  SELECT as_of, fin::TIMESTAMP AS fin, (fin - INTERVAL 12 MONTH)::TIMESTAMP AS m12,
         fin::TIMESTAMP - INTERVAL 90 DAY AS d90, fin::TIMESTAMP - INTERVAL 30 DAY AS d30
  FROM (SELECT max(ts)::DATE AS as_of, max(ts)::DATE + 1 AS fin FROM a);
COPY (
  WITH orders AS (
    SELECT CustomerId,
           sum(Amount) AS TotalTransactionValue,
           count(*) AS TransactionCount,
           avg(Amount) AS AverageTransactionValue,
           date_diff('day', max(ts)::DATE, any_value(d.as_of)) AS DaysSinceLastPurchase,
           date_diff('day', min(ts)::DATE, max(ts)::DATE) AS ActiveLifespan,
           sum(Amount) FILTER (WHERE ts >= d.m12) AS SpendLast12m,
           count(*) FILTER (WHERE ts >= d.d90) AS OrdersLast90d,
           count(*) FILTER (WHERE IsReturn) AS ReturnedOrders
    FROM a, d WHERE ActivityType = 'SalesOrder' AND ts < d.fin GROUP BY CustomerId),
  lines AS (SELECT CustomerId, Category, Brand, Amount FROM a, d WHERE ActivityType = 'SalesOrderLine' AND ts < d.fin),
  category AS (
    SELECT CustomerId, arg_max(Category, s) AS FavouriteCategory
    FROM (SELECT CustomerId, Category, sum(Amount) AS s FROM lines WHERE Category IS NOT NULL GROUP BY ALL)
    GROUP BY CustomerId),
  brand AS (
    SELECT CustomerId, arg_max(Brand, s) AS FavouriteBrand
    FROM (SELECT CustomerId, Brand, sum(Amount) AS s FROM lines WHERE Brand IS NOT NULL GROUP BY ALL)
    GROUP BY CustomerId),
  visits AS (
    SELECT CustomerId, count(*) AS VisitsLast30d
    FROM a, d WHERE ActivityType = 'WebVisit' AND ts >= d.d30 AND ts < d.fin GROUP BY CustomerId)
  SELECT c.CustomerId,
         coalesce(o.TotalTransactionValue, 0) AS TotalTransactionValue,
         coalesce(o.TransactionCount, 0) AS TransactionCount,
         o.AverageTransactionValue,
         o.DaysSinceLastPurchase,
         o.ActiveLifespan,
         coalesce(o.SpendLast12m, 0) AS SpendLast12m,
         coalesce(o.OrdersLast90d, 0) AS OrdersLast90d,
         coalesce(o.ReturnedOrders, 0) AS ReturnedOrders,
         category.FavouriteCategory,
         brand.FavouriteBrand,
         coalesce(v.VisitsLast30d, 0) AS VisitsLast30d,
         round(coalesce(o.SpendLast12m, 0) / nullif(coalesce(o.TotalTransactionValue, 0), 0), 3) AS ShareOfSpendLast12m
  FROM read_parquet('{customers}') c
  LEFT JOIN orders o USING (CustomerId) LEFT JOIN category USING (CustomerId) LEFT JOIN brand USING (CustomerId)
  LEFT JOIN visits v USING (CustomerId)
) TO '{out_customer}' (FORMAT parquet);
COPY (
  SELECT 'RevenueByMonth' AS MeasureName, 'month' AS GroupBy, date_trunc('month', ts)::DATE::VARCHAR AS GroupKey,
         sum(Amount)::DOUBLE AS Value
  FROM a, d WHERE ActivityType = 'SalesOrder' AND ts < d.fin GROUP BY 3
  UNION ALL
  SELECT 'RevenueByCategory', 'Category', coalesce(Category, '(none)'), sum(Amount)::DOUBLE
  FROM a, d WHERE ActivityType = 'SalesOrderLine' AND ts < d.fin AND ts >= d.m12 GROUP BY 3
) TO '{out_business}' (FORMAT parquet);
"""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.phase is not None:
        return _child(args.phase, args.customers, args.activities, args.seed)
    return run(args.customers, args.activities, args.seed, args.out, spark=not args.no_spark)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.insights", description=__doc__.splitlines()[0])
    add_options(parser)
    parser.add_argument("--seed", type=int, default=42, help="data generator seed (default: 42)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    """The insights suite's own options (also offered by ``python -m bench.run``)."""
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS, help="insights suite: customers")
    parser.add_argument(
        "--activities", type=int, default=DEFAULT_ACTIVITIES, help="insights suite: activity rows (all types)"
    )
    parser.add_argument("--no-spark", action="store_true", help="insights suite: skip the Spark phase")


def work_dir(customers: int) -> Path:
    return WORK_DIR / f"insights-{customers}"


# --- parent ---------------------------------------------------------------------------------------------------------


def run(customers: int, activities: int, seed: int, out: Path, spark: bool = True) -> int:
    from bench.run import git_state, machine_facts

    directory = work_dir(customers)
    shutil.rmtree(directory, ignore_errors=True)
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict[str, dict[str, Any]] = {}
    phases = [p for p in PHASES if spark or p != "spark"]
    for phase in phases:
        print(f"insights {customers:,} customers / {activities:,} activities: {phase} ...", flush=True)
        results[phase] = _phase(phase, customers, activities, seed)
        print(f"  {_phase_line(phase, results[phase])}", flush=True)
        if results[phase]["status"] != "succeeded" and phase in ("generate", "setup"):
            break
    doc = {
        "version": 1,
        "benchmark": "insights",
        "customers": customers,
        "activities": activities,
        "seed": seed,
        "timestamp": timestamp,
        **git_state(),
        "machine": machine_facts(),
        "phases": results,
        "summary": summary(results),
    }
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "insights.json", out / "insights.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(doc), encoding="utf-8")
    print()
    print(md_path.read_text(encoding="utf-8"))
    print(f"wrote {json_path} and {md_path}")
    return 0 if all(r["status"] == "succeeded" for r in results.values()) else 1


def _phase(phase: str, customers: int, activities: int, seed: int) -> dict[str, Any]:
    from bench.run import run_child

    command = [sys.executable, "-m", "bench.insights", "--phase", phase, "--customers", str(customers)]
    return run_child([*command, "--activities", str(activities), "--seed", str(seed)], phase)


def _phase_line(phase: str, r: dict[str, Any]) -> str:
    if r["status"] != "succeeded":
        return f"FAILED: {r.get('error')}"
    peak = f", peak {r['peak_rss_mb']:,.0f} MiB" if r.get("peak_rss_mb") else ""
    return f"{r.get('seconds', 0):.1f} s{peak}"


def summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The numbers the issue's targets are about, and whether each is met."""
    c, f, s = results.get("custdim", {}), results.get("floor", {}), results.get("spark", {})
    out: dict[str, Any] = {}
    if c.get("status") == "succeeded":
        out["custdim_seconds"] = c["seconds"]
        out["custdim_measures_seconds"] = c["stages"]["measures"]
        out["custdim_segments_seconds"] = c["stages"]["segments"]
        out["custdim_peak_gib"] = round(c["peak_rss_mb"] / 1024, 2)
        out["meets_time"] = c["seconds"] < TARGET_SECONDS
        out["meets_memory"] = c["peak_rss_mb"] / 1024 < TARGET_GIB
    if f.get("status") == "succeeded":
        out["floor_seconds"] = f["seconds"]
        out["floor_peak_gib"] = round(f["peak_rss_mb"] / 1024, 2)
        out["agreement"] = f.get("agreement")
        if "custdim_measures_seconds" in out:
            ratio = out["custdim_measures_seconds"] / f["seconds"]
            out["measures_vs_floor"] = round(ratio, 2)
            out["meets_ratio"] = ratio <= TARGET_RATIO
    if s.get("status") == "succeeded":
        out["spark_seconds"] = s["seconds"]
        out["spark_stage_seconds"] = s["stages"]
    return out


def render_markdown(doc: dict[str, Any]) -> str:
    from bench.run import header_lines

    m = doc["machine"]
    lines = [
        "# custdim measures and segments benchmark",
        "",
        *header_lines(doc, doc["seed"]),
        f"- Python {m['python']}, duckdb {m['duckdb']}, ibis {m['ibis']}",
        f"- {doc['customers']:,} customers, {doc['activities']:,} activity rows",
        "",
    ]
    p = doc["phases"]
    gen = p.get("generate", {})
    if gen.get("status") == "succeeded":
        rows = ", ".join(f"{k} {v:,}" for k, v in gen["rows"].items())
        lines += [f"Generated in {gen['seconds']:.1f} s: {rows}.", ""]
    setup = p.get("setup", {})
    if setup.get("status") == "succeeded":
        lines += [
            f"Set-up (ingest -> activities on DuckDB, not part of the comparison): {setup['seconds']:.1f} s; "
            f"{setup['profiles']:,} profiles, {setup['activities']:,} UnifiedActivity rows.",
            "",
        ]
    lines += ["| what | seconds | peak GiB | note |", "| --- | ---: | ---: | --- |"]
    c = p.get("custdim", {})
    if c.get("status") == "succeeded":
        st = c["stages"]
        lines.append(f"| custdim measures (DuckDB) | {st['measures']:.2f} | | {c['measures']} measures |")
        lines.append(f"| custdim segments (DuckDB) | {st['segments']:.2f} | | {c['segments']} segments |")
        lines.append(
            f"| custdim measures + segments, process | {c['seconds']:.2f} | {c['peak_rss_mb'] / 1024:.2f} | "
            f"target < {TARGET_SECONDS:.0f} s and < {TARGET_GIB:.0f} GiB |"
        )
    elif c:
        lines.append(f"| custdim | failed | | {c.get('error')} |")
    f = p.get("floor", {})
    if f.get("status") == "succeeded":
        agree = f.get("agreement", {})
        note = "same values as custdim" if agree.get("equal") else f"differs from custdim: {agree.get('unexplained')}"
        if agree.get("explained"):
            note += f" (floating-point sum order aside: {agree['explained']})"
        lines.append(
            f"| hand-written DuckDB SQL (customer + business measures) | {f['seconds']:.2f} | "
            f"{f['peak_rss_mb'] / 1024:.2f} | {note} |"
        )
    elif f:
        lines.append(f"| hand-written SQL | failed | | {f.get('error')} |")
    s = p.get("spark", {})
    if s.get("status") == "succeeded":
        st = s["stages"]
        lines.append(
            f"| custdim on local Spark | {s['seconds']:.2f} | | measures {st['measures']:.1f} s + segments "
            f"{st['segments']:.1f} s, session start included |"
        )
    elif s:
        lines.append(f"| custdim on local Spark | failed | | {s.get('error')} |")
    summ = doc["summary"]
    if "measures_vs_floor" in summ:
        lines += [
            "",
            f"custdim's measures stage takes **{summ['measures_vs_floor']:.2f}x** the hand-written query's time "
            f"(target <= {TARGET_RATIO}x).",
        ]
    lines += [
        "",
        "*seconds* are wall time inside the measuring process (custdim: the two `Project.run(stage=...)` calls, DuckDB "
        "start included; floor: connect, the script, Parquet written). *peak GiB* is that process's peak resident "
        "memory. The floor is checked value by value against custdim's `CustomerMeasure` and `BusinessMeasure`; values "
        "that differ only because floating-point sums were added in another order (a favourite tied to 1e-9 with the "
        "other side's, a rounded share on a rounding boundary) are counted apart.",
        "",
    ]
    return "\n".join(lines)


# --- children -------------------------------------------------------------------------------------------------------


def _child(phase: str, customers: int, activities: int, seed: int) -> int:
    from bench.run import report_child

    directory = work_dir(customers)

    def work() -> dict[str, Any]:
        if phase == "generate":
            return generate_phase(directory, customers, activities, seed)
        if phase == "setup":
            return setup_phase(directory)
        if phase == "custdim":
            return stages_phase(directory, "duckdb")
        if phase == "spark":
            return stages_phase(directory, "spark")
        return floor_phase(directory)

    return report_child(work)


def generate_phase(directory: Path, customers: int, activities: int, seed: int) -> dict[str, Any]:
    """Write the Parquet sources and the project file."""
    from custdim.report import peak_rss_mb

    started = time.perf_counter()
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    rows = generate(data, customers, activities, seed)
    (directory / "custdim.yaml").write_text(PROJECT, encoding="utf-8")
    return {
        "status": "succeeded",
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": peak_rss_mb(),
        "rows": rows,
    }


def generate(data: Path, customers: int, activities: int, seed: int) -> dict[str, int]:
    """The retailer's files. Orders per customer are skewed (a third never buy, a few buy very often)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_orders = int(activities * SHARES["orders"])
    n_lines = int(activities * SHARES["lines"])
    n_visits = activities - n_orders - n_lines
    ids = np.array([f"C{i:08d}" for i in range(customers)], dtype=object)
    has_email = rng.random(customers) < 0.85
    emails = np.where(has_email, np.char.add(np.char.add("c", np.arange(customers).astype(str)), "@example.com"), None)
    born = np.datetime64("1950-01-01") + rng.integers(0, 365 * 55, customers).astype("timedelta64[D]")
    pq.write_table(
        pa.table(
            {
                "customer_id": ids,
                "first_name": np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), customers)],
                "last_name": np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), customers)],
                "email": pa.array(emails, pa.string()),
                "city": np.array(CITIES, dtype=object)[rng.integers(0, len(CITIES), customers)],
                "birth_date": pa.array(born, pa.date32()),
            }
        ),
        data / "customers.parquet",
    )

    # Two thirds of the customers buy; how often follows a heavy-tailed weight.
    buyers = rng.permutation(customers)[: max(1, customers * 2 // 3)]
    weight = rng.pareto(1.5, len(buyers)) + 1
    who = buyers[rng.choice(len(buyers), n_orders, p=weight / weight.sum())]
    start = np.datetime64(f"{FIRST_DAY}T00:00:00")
    span = int((np.datetime64(f"{LAST_DAY}T23:59:59") - start).astype(int))
    # Later days are busier (a growing shop): the square root of a uniform leans toward the end.
    order_at = start + (np.sqrt(rng.random(n_orders)) * span).astype("timedelta64[s]")
    returned = rng.random(n_orders) < 0.03
    total = np.round(rng.gamma(2.0, 40.0, n_orders), 2)
    order_ids = np.array([f"O{i:09d}" for i in range(n_orders)], dtype=object)
    pq.write_table(
        pa.table(
            {
                "order_id": order_ids,
                "customer_id": ids[who],
                "ordered_at": pa.array(order_at.astype("datetime64[us]"), pa.timestamp("us")),
                "total": np.where(returned, -total, total),
                "status": np.where(returned, "returned", "completed").astype(object),
            }
        ),
        data / "orders.parquet",
    )

    # Lines belong to orders; each customer leans to one category and one brand.
    line_order = rng.integers(0, n_orders, n_lines)
    owner = who[line_order]
    leaning_cat = rng.integers(0, len(CATEGORIES), customers)
    leaning_brand = rng.integers(0, len(BRANDS), customers)
    own_cat = rng.random(n_lines) < 0.6
    category = np.where(own_cat, leaning_cat[owner], rng.integers(0, len(CATEGORIES), n_lines))
    brand = np.where(rng.random(n_lines) < 0.5, leaning_brand[owner], rng.integers(0, len(BRANDS), n_lines))
    product = category * 1000 + rng.integers(0, 500, n_lines)
    pq.write_table(
        pa.table(
            {
                "line_id": np.array([f"L{i:010d}" for i in range(n_lines)], dtype=object),
                "order_id": order_ids[line_order],
                "product_id": np.char.add("P", product.astype(str)).astype(object),
                "product": np.char.add("Product ", product.astype(str)).astype(object),
                "brand": np.array(BRANDS, dtype=object)[brand],
                "category": np.array(CATEGORIES, dtype=object)[category],
                "price": np.round(rng.gamma(2.0, 12.0, n_lines), 2),
                "quantity": rng.integers(1, 4, n_lines),
            }
        ),
        data / "order_lines.parquet",
    )

    visitor = rng.integers(0, customers, n_visits)
    visit_at = start + (np.sqrt(rng.random(n_visits)) * span).astype("timedelta64[s]")
    pq.write_table(
        pa.table(
            {
                "visit_id": np.array([f"V{i:09d}" for i in range(n_visits)], dtype=object),
                "customer_id": ids[visitor],
                "visited_at": pa.array(visit_at.astype("datetime64[us]"), pa.timestamp("us")),
            }
        ),
        data / "visits.parquet",
    )
    return {"customers": customers, "orders": n_orders, "order_lines": n_lines, "visits": n_visits}


def setup_phase(directory: Path) -> dict[str, Any]:
    """custdim ingest -> activities on DuckDB: the inputs of the measured stages."""
    from custdim.project import Project

    project = Project.load(directory)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    for stage in ("ingest", "map", "match", "cluster", "merge", "activities"):
        report = project.run(stage=stage)
        seconds[stage] = report.stages[0].seconds
        rows.update(report.stages[0].rows_out)
    return {
        "status": "succeeded",
        "seconds": round(time.perf_counter() - started, 3),
        "stage_seconds": seconds,
        "profiles": rows.get("Customer", 0),
        "activities": rows.get("UnifiedActivity", 0),
    }


def stages_phase(directory: Path, engine: str) -> dict[str, Any]:
    """The two measured stages, one ``Project.run(stage=...)`` each, with this process's peak memory sampled."""
    from bench.er_metrics import RssSampler
    from custdim.project import Project

    project = Project.load(directory)
    stages: dict[str, float] = {}
    out: dict[str, Any] = {}
    with RssSampler() as rss:
        started = time.perf_counter()
        for stage in ("measures", "segments"):
            with rss.phase(stage):
                report = project.run(stage=stage, engine=engine)
            s = report.stages[0]
            stages[stage] = s.seconds
            out[stage] = s.details.get("measures") if stage == "measures" else s.details.get("segments")
        seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "status": "succeeded",
        "engine": engine,
        "seconds": round(seconds, 3),
        "stages": stages,
        "peak_rss_mb": rss.peak_mb(),
        "measures": len(out["measures"] or []),
        "segments": len(out["segments"] or {}),
        "segment_sizes": {k: v["Members"] for k, v in (out["segments"] or {}).items()},
    }
    if engine == "spark":
        from custdim.engines.spark import jobs_started

        result["spark_jobs"] = jobs_started()
        result["peak_rss_mb"] = None  # the JVM's memory is not this process's: time only
    return result


def floor_phase(directory: Path) -> dict[str, Any]:
    """The hand-written script on a fresh DuckDB connection, then a value-by-value check against custdim's output."""
    import duckdb  # noqa: TID251 - the floor is hand-written DuckDB on purpose

    from bench.er_metrics import RssSampler
    from custdim.contracts import BUSINESS_MEASURE, CUSTOMER, CUSTOMER_MEASURE, UNIFIED_ACTIVITY
    from custdim.lake import Lake

    lake = Lake(str(directory / "lake"))
    out_dir = directory / "floor"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir()
    paths = {
        "activity": f"{lake.entity(UNIFIED_ACTIVITY)}/**/*.parquet",
        "customers": f"{lake.entity(CUSTOMER)}/**/*.parquet",
        "out_customer": str(out_dir / "customer_measure.parquet"),
        "out_business": str(out_dir / "business_measure.parquet"),
    }
    with RssSampler() as rss, rss.phase("floor"):
        started = time.perf_counter()
        con = duckdb.connect()
        con.execute(FLOOR_SQL.format(**paths))
        con.close()
        seconds = time.perf_counter() - started
    check = duckdb.connect()
    agreement = compare(
        check, f"{lake.entity(CUSTOMER_MEASURE)}/**/*.parquet", paths["out_customer"], paths["activity"]
    )
    business = compare_business(check, f"{lake.entity(BUSINESS_MEASURE)}/**/*.parquet", paths["out_business"])
    check.close()
    return {
        "status": "succeeded",
        "seconds": round(seconds, 3),
        "peak_rss_mb": rss.peak_mb(),
        "agreement": {**agreement, "business": business, "equal": agreement["equal"] and business["equal"]},
    }


def compare(con: Any, custdim_path: str, floor_path: str, activity_path: str) -> dict[str, Any]:
    """Rows and, per measure, customers whose value differs (numbers beyond 1e-6 relative; NULLs must match).

    Two kinds of difference come from the order in which floating-point sums are added, not from the logic, and are
    counted apart as ``explained``: a favourite whose total ties with the other side's favourite to 1e-9 (each side
    picks one of the tied values), and a rounded share whose unrounded value sits on a rounding boundary (x.xxx5).
    """
    tie = "abs(cs.s - fs.s) <= 1e-9 * greatest(1, abs(fs.s))"
    con.execute(
        "CREATE TEMP TABLE j AS SELECT c.CustomerId, "
        + ", ".join(f"c.{m} AS c_{m}, f.{m} AS f_{m}" for m in CUSTOMER_MEASURES)
        + f" FROM read_parquet('{custdim_path}') c FULL JOIN read_parquet('{floor_path}') f USING (CustomerId)"
    )
    tests, explained = [], {}
    for col in CUSTOMER_MEASURES:
        c, f = f"c_{col}", f"f_{col}"
        if col in ("FavouriteCategory", "FavouriteBrand"):
            tests.append(f"count(*) FILTER (WHERE {c} IS DISTINCT FROM {f}) AS {col}")
        else:
            differs = f"({c} IS NULL) <> ({f} IS NULL) OR abs({c} - {f}) > 1e-6 * greatest(1, abs({f}))"
            tests.append(f"count(*) FILTER (WHERE {differs}) AS {col}")
    row = con.execute(f"SELECT count(*), {', '.join(tests)} FROM j").fetchone()
    mismatches = {col: int(n) for col, n in zip(CUSTOMER_MEASURES, row[1:], strict=True) if n}
    for col, by in (("FavouriteCategory", "Category"), ("FavouriteBrand", "Brand")):
        if col not in mismatches:
            continue
        explained[col] = con.execute(
            f"WITH t AS (SELECT CustomerId, {by} AS v, sum(Amount) AS s FROM read_parquet('{activity_path}') "
            f"WHERE ActivityType = 'SalesOrderLine' AND CustomerId IN (SELECT CustomerId FROM j WHERE c_{col} "
            f"IS DISTINCT FROM f_{col}) GROUP BY ALL) "
            f"SELECT count(*) FROM j JOIN t cs ON cs.CustomerId = j.CustomerId AND cs.v = j.c_{col} "
            f"JOIN t fs ON fs.CustomerId = j.CustomerId AND fs.v = j.f_{col} WHERE {tie}"
        ).fetchone()[0]
    if "ShareOfSpendLast12m" in mismatches:
        x = "(f_SpendLast12m / f_TotalTransactionValue * 1000)"
        explained["ShareOfSpendLast12m"] = con.execute(
            "SELECT count(*) FROM j "
            "WHERE abs(c_ShareOfSpendLast12m - f_ShareOfSpendLast12m) BETWEEN 1e-6 AND 0.001 + 1e-9 "
            f"AND abs({x} - floor({x}) - 0.5) < 1e-6"
        ).fetchone()[0]
    counts = {
        "custdim_rows": con.execute(f"SELECT count(*) FROM read_parquet('{custdim_path}')").fetchone()[0],
        "floor_rows": con.execute(f"SELECT count(*) FROM read_parquet('{floor_path}')").fetchone()[0],
        "joined_rows": row[0],
    }
    unexplained = {k: n - explained.get(k, 0) for k, n in mismatches.items() if n - explained.get(k, 0)}
    same_rows = counts["custdim_rows"] == counts["floor_rows"] == counts["joined_rows"]
    return {
        **counts,
        "mismatches": mismatches,
        "explained": {k: int(v) for k, v in explained.items() if v},
        "unexplained": unexplained,
        "equal": not unexplained and same_rows,
    }


def compare_business(con: Any, custdim_path: str, floor_path: str) -> dict[str, Any]:
    different = con.execute(
        f"SELECT count(*) FROM read_parquet('{custdim_path}') c FULL JOIN read_parquet('{floor_path}') f "
        "USING (MeasureName, GroupKey) WHERE c.Value IS NULL OR f.Value IS NULL "
        "OR abs(c.Value - f.Value) > 1e-6 * greatest(1, abs(f.Value))"
    ).fetchone()[0]
    return {"differing_groups": int(different), "equal": different == 0}


if __name__ == "__main__":
    sys.exit(main())
