"""Order lines: customer and time read through the parent order, amount = price x quantity, product columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from custdim.errors import ConfigError
from custdim.project import Project
from tests.insights.projects import shop

LINES = """id,order_id,sku,name,brand,category,qty,price,title
L1,1,S1,Trail Shoe,Stride,shoes,2,45.5,gift
L2,1,S2,Sock,Stride,shoes,1,9,
L3,6,S3,Candle,Harbor,home,1,-10,
L4,99,S4,Ghost,None,none,1,1,
L5,7,S5,Cream,Bloom,beauty,two,3,
"""
TABLE = "      - {name: lines, path: data/lines.csv, primary_key: id}\n"
ACTIVITY = """  - table: s.lines
    type: SalesOrderLine
    parent: {table: s.orders, key: order_id}
    customer: {table: s.people, foreign_key: cust}
    timestamp: at
    amount: price
    quantity: qty
    title: name
    product: sku
    brand: brand
    category: category
"""


def lines_project(root: Path, activity: str = ACTIVITY) -> Project:
    shop(root, "")
    (root / "data" / "lines.csv").write_text(LINES, encoding="utf-8")
    path = root / "custdim.yaml"
    text = path.read_text(encoding="utf-8")
    visits = "timestamp: at}\n"  # the end of the last activity of the shop project
    text = text.replace("unify:\n", TABLE + "unify:\n", 1).replace(visits, visits + activity)
    path.write_text(text, encoding="utf-8")
    return Project.load(root)


def test_lines_take_customer_and_time_from_their_order(tmp_path: Path) -> None:
    p = lines_project(tmp_path)
    report = p.run()
    rows = p.sql(
        "SELECT a.SourceActivityId AS id, k.SourceKey AS who, a.ActivityTimeStamp AS at, a.Amount, a.IsReturn, "
        "a.Title, a.Product, a.Brand, a.Category, a.Sourcetitle AS st FROM UnifiedActivity a "
        "JOIN AlternateKey k USING (CustomerId) WHERE a.ActivityType = 'SalesOrderLine' ORDER BY 1"
    ).to_pylist()
    got = [(r["id"], r["who"], str(r["at"]), r["Amount"], r["IsReturn"]) for r in rows]
    assert got == [
        ("L1", "A", "2025-06-30 10:00:00", 91.0, False),  # 2 x 45.50
        ("L2", "A", "2025-06-30 10:00:00", 9.0, False),
        ("L3", "B", "2025-04-01 10:00:00", -10.0, True),  # a negative amount is a return
    ]
    first = rows[0]
    assert (first["Title"], first["Product"], first["Brand"], first["Category"]) == (
        "Trail Shoe",
        "S1",
        "Stride",
        "shoes",
    )
    assert first["st"] == "gift"  # an unmapped column named like a standard one keeps a prefix
    stage = report.stage("activities")
    assert stage is not None and stage.rejected["s.lines"] == 2
    # Rejects are not published: the work table holds them.
    rejects = {
        r["SourceActivityId"]: r["_reason"]
        for f in p.lake.parquet_files(p.lake.work_table("activities", "rejects"))
        for r in pq.read_table(f).to_pylist()
    }
    assert rejects == {"L4": "no s.orders row with key 99", "L5": "quantity 'qty' is not a number: two"}


def test_unknown_parent_key_column_names_the_key(tmp_path: Path) -> None:
    p = lines_project(tmp_path, ACTIVITY.replace("key: order_id", "key: order"))
    with pytest.raises(ConfigError, match=r"activities\[2\]\.parent\.key.*'order' is not in s\.lines"):
        p.run()


def test_a_column_missing_from_line_and_parent_names_both(tmp_path: Path) -> None:
    p = lines_project(tmp_path, ACTIVITY.replace("timestamp: at", "timestamp: when"))
    with pytest.raises(ConfigError, match=r"activities\[2\]\.timestamp.*not in s\.lines \(or its parent s\.orders\)"):
        p.run()
