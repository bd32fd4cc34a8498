"""UnifiedActivity: every activity row is linked, or rejected with its reason; other columns are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from custdim.errors import ConfigError
from custdim.project import Project
from tests.conftest import EXAMPLE_YAML, ORDERS, write_example


def lake_rows(project: Project, path: str) -> list[dict[str, object]]:
    return [r for f in project.lake.parquet_files(path) for r in pq.read_table(f).to_pylist()]


def test_activities_link_to_the_profile_of_their_customer(example_project: Project) -> None:
    example_project.run()
    rows = example_project.sql("""
        SELECT a.SourceActivityId, a.ActivityType, a.Amount, a.status, c.FirstName
        FROM UnifiedActivity a JOIN Customer c USING (CustomerId) ORDER BY 1
    """).to_pylist()
    assert [(r["SourceActivityId"], r["FirstName"], r["Amount"], r["status"]) for r in rows] == [
        ("O1", "José", 10.5, "done"),
        ("O2", "Anna", 20.0, "done"),
        ("O3", "José", 7.25, "returned"),
        ("O4", "Bob", 3.0, "done"),
    ]
    assert {r["ActivityType"] for r in rows} == {"SalesOrder"}


def test_orphans_and_bad_timestamps_are_rejected_and_counted(tmp_path: Path) -> None:
    root = write_example(tmp_path / "p")
    extra = [
        {"order_id": "O5", "account_id": "A77", "ordered_at": "2026-01-01T00:00:00", "total": 1, "status": "x"},
        {"order_id": "O6", "account_id": "A01", "ordered_at": "yesterday", "total": 2, "status": "x"},
    ]
    (root / "data" / "orders.jsonl").write_text("\n".join(json.dumps(o) for o in [*ORDERS, *extra]) + "\n")
    project = Project.load(root)
    report = project.run()
    stage = report.stage("activities")
    assert stage is not None
    assert stage.rows_in == {"shop.orders": 6} and stage.rows_out == {"UnifiedActivity": 4}
    assert stage.rejected == {"shop.orders": 2}
    rejects = {
        r["SourceActivityId"]: r["_reason"]
        for r in lake_rows(project, project.lake.work_table("activities", "rejects"))
    }
    assert rejects == {
        "O5": "no customer with shop.accounts key A77",
        "O6": "timestamp 'ordered_at' missing or unreadable: yesterday",
    }


def test_two_activity_tables_union_by_name(tmp_path: Path) -> None:
    root = write_example(tmp_path / "p")
    (root / "data" / "visits.csv").write_text(
        "visit_id,contact_id,visited_at,page,status\nV1,C001,2026-04-01 12:00:00,/home,1\nV2,C003,2026-04-02,/cart,2\n"
    )
    yaml = EXAMPLE_YAML.replace(
        "unify:",
        "  - name: web\n    type: files\n    tables:\n"
        "      - {name: visits, path: data/visits.csv, primary_key: visit_id}\nunify:",
    ) + (
        "  - table: web.visits\n    type: WebVisit\n    customer: {table: crm.contacts, foreign_key: contact_id}\n"
        "    timestamp: visited_at\n"
    )
    (root / "custdim.yaml").write_text(yaml)
    project = Project.load(root)
    project.run()
    rows = project.sql(
        "SELECT SourceActivityId, ActivityType, Amount, page, status, ActivityTimeStamp FROM UnifiedActivity ORDER BY 1"
    ).to_pylist()
    by_id = {r["SourceActivityId"]: r for r in rows}
    assert by_id["V1"]["page"] == "/home" and by_id["V1"]["Amount"] is None
    assert by_id["O1"]["page"] is None
    assert by_id["V1"]["status"] == "1" and by_id["O1"]["status"] == "done"  # int/str clash -> text
    assert str(by_id["V2"]["ActivityTimeStamp"]) == "2026-04-02 00:00:00"
    assert by_id["V1"]["ActivityType"] == "WebVisit"


def test_unknown_activity_column_names_the_key(example_dir: Path) -> None:
    yaml = (example_dir / "custdim.yaml").read_text().replace("timestamp: ordered_at", "timestamp: created")
    (example_dir / "custdim.yaml").write_text(yaml)
    with pytest.raises(ConfigError) as info:
        Project.load(example_dir).run()
    assert info.value.key == "activities[0].timestamp"
    assert "column 'created' is not in shop.orders" in str(info.value)


def test_unknown_mapped_column_names_the_key(example_dir: Path) -> None:
    yaml = (
        (example_dir / "custdim.yaml").read_text().replace("postcode: Location.PostalCode", "zip: Location.PostalCode")
    )
    (example_dir / "custdim.yaml").write_text(yaml)
    with pytest.raises(ConfigError) as info:
        Project.load(example_dir).run()
    assert info.value.key == "unify.tables[1].fields.zip"
    assert "column 'zip' is not in shop.accounts; columns: account_id, given_name" in str(info.value)
