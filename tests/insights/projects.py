"""A tiny shop for measure and segment tests: three customers, their orders and web visits, as of 2025-06-30.

Customers (no match rules: each record is its own profile):
  a:A  Ann  Seattle   ann@x.com  born 1980-05-01
  a:B  Bob  Portland  (no email) born 1990-01-01
  a:C  Cy   Boston    cy@x.com   (no birth date) - no activities at all

Orders (SalesOrder):
  1 A 2025-06-30 10:00   100  shoes    completed
  2 A 2025-06-01 09:00    50  outdoor  completed
  3 A 2025-01-15 12:00    30  outdoor  completed
  4 A 2024-03-01 08:00   -20  shoes    returned
  5 A 2025-07-02 10:00   999  shoes    completed   <- after as_of: in no measure or segment
  6 B 2025-04-01 10:00    10  home     completed
  7 B 2025-05-01 10:00    20  beauty   completed
Visits (WebVisit): 1 B 2025-06-20 08:00; 2 A 2024-12-01 08:00.
"""

from __future__ import annotations

from pathlib import Path

from custdim.project import Project

CUSTOMERS = """id,first,last,email,city,born
A,Ann,Lee,ann@x.com,Seattle,1980-05-01
B,Bob,Ray,,Portland,1990-01-01
C,Cy,Oz,cy@x.com,Boston,
"""
ORDERS = """id,cust,at,amount,category,status
1,A,2025-06-30 10:00:00,100,shoes,completed
2,A,2025-06-01 09:00:00,50,outdoor,completed
3,A,2025-01-15 12:00:00,30,outdoor,completed
4,A,2024-03-01 08:00:00,-20,shoes,returned
5,A,2025-07-02 10:00:00,999,shoes,completed
6,B,2025-04-01 10:00:00,10,home,completed
7,B,2025-05-01 10:00:00,20,beauty,completed
"""
VISITS = """id,cust,at
1,B,2025-06-20 08:00:00
2,A,2024-12-01 08:00:00
"""

HEAD = """name: shop
sources:
  - name: s
    type: files
    tables:
      - {name: people, path: data/people.csv, primary_key: id}
      - {name: orders, path: data/orders.csv, primary_key: id}
      - {name: visits, path: data/visits.csv, primary_key: id}
unify:
  tables:
    - table: s.people
      fields: {first: Person.FirstName, last: Person.LastName, email: Identity.Service.Email, city: Location.City,
               born: Person.BirthDate}
activities:
  - {table: s.orders, type: SalesOrder, customer: {table: s.people, foreign_key: cust}, timestamp: at,
     amount: amount, category: category, returns: status}
  - {table: s.visits, type: WebVisit, customer: {table: s.people, foreign_key: cust}, timestamp: at}
"""


def shop(root: Path, body: str, as_of: str | None = "2025-06-30", engine: str = "duckdb") -> Project:
    """The shop project with ``body`` (measures:/segments: YAML) appended."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    for name, text in (("people", CUSTOMERS), ("orders", ORDERS), ("visits", VISITS)):
        (root / "data" / f"{name}.csv").write_text(text, encoding="utf-8")
    text = HEAD.replace("name: shop\n", f"name: shop\nengine: {engine}\n")
    if as_of:
        text += f"as_of: {as_of}\n"
    (root / "custdim.yaml").write_text(text + body, encoding="utf-8")
    return Project.load(root)


def by_key(project: Project, sql: str) -> dict[str, dict[str, object]]:
    """Rows of ``sql`` (which must select CustomerId) keyed by the people table's key (A, B, C)."""
    keys = {
        r["CustomerId"]: r["SourceKey"]
        for r in project.sql("SELECT CustomerId, SourceKey FROM AlternateKey").to_pylist()
    }
    return {str(keys[r["CustomerId"]]): r for r in project.sql(sql).to_pylist()}


def members(project: Project) -> dict[str, set[str]]:
    """Segment name -> the people keys of its members."""
    rows = project.sql(
        "SELECT m.SegmentName, k.SourceKey FROM SegmentMembership m JOIN AlternateKey k USING (CustomerId)"
    ).to_pylist()
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(str(r["SegmentName"]), set()).add(str(r["SourceKey"]))
    return out
