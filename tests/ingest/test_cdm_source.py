"""`type: cdm` sources: entities of CDM folders land with the attribute types their metadata declares."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from custdim.config.loader import load_project_config
from custdim.preflight import validate_project
from custdim.project import Project
from custdim.stages.ingest.landing import read_source_table
from tests.ingest.cdm_folders import ORDER_FILES, write_sdk_folder
from tests.ingest.test_ingest import read_lake_table
from tests.publish.cdm_sdk import load_manifest

PROJECT = """\
name: cdmproject
lake: lake
engine: duckdb
sources:
{sources}
unify:
  tables:
    - table: {unify_table}
      fields:
{fields}
"""

CRM_SOURCE = """\
  - name: crm
    type: cdm
    manifest: crm/crm.manifest.cdm.json
    tables:
      - name: contacts
        entity: Contact
        primary_key: ContactId
      - name: orders
        entity: Order
        primary_key: OrderId
"""


def write_project(root: Path, sources: str, unify_table: str, fields: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    mapped = "\n".join(f"        {column}: {kind}" for column, kind in fields.items())
    text = PROJECT.format(sources=sources.rstrip("\n"), unify_table=unify_table, fields=mapped)
    (root / "custdim.yaml").write_text(text, encoding="utf-8")
    return root


def crm_project(root: Path) -> Path:
    write_sdk_folder(root / "crm")
    return write_project(root, CRM_SOURCE, "crm.contacts", {"FullName": "Person.FullName"})


def landed(project: Project, source: str, table: str) -> tuple[list[dict[str, object]], pa.Schema]:
    """A landed table's rows by its first column, without the lineage columns, and its schema."""
    path = project.lake.raw_table(source, table)
    tables = [pq.read_table(f) for f in project.lake.parquet_files(path)]
    data = pa.concat_tables(tables).drop_columns(["_run_id", "_ingested_at"])
    key = data.column_names[0]
    return sorted(data.to_pylist(), key=lambda r: str(r[key])), data.schema


def rejects_of(project: Project, source: str, table: str) -> list[dict[str, object]]:
    return read_lake_table(project, "raw", "_rejects", source, table)


def ingest(root: Path) -> tuple[Project, dict[str, dict[str, int]]]:
    project = Project.load(root)
    report = project.run(stage="ingest")
    stage = report.stage("ingest")
    assert stage is not None
    return project, {"in": stage.rows_in, "out": stage.rows_out, "rejected": stage.rejected}


# (a) A folder whose metadata the official SDK wrote, landed by a whole project run.


def test_sdk_folder_lands_every_row_with_attribute_types(tmp_path: Path) -> None:
    root = crm_project(tmp_path / "p")
    project = Project.load(root)
    report = project.run()
    ingest_report = report.stage("ingest")
    assert ingest_report is not None
    assert ingest_report.rows_in == {"crm.contacts": 3, "crm.orders": 4}
    assert ingest_report.rows_out == {"crm.contacts": 3, "crm.orders": 4}
    assert not ingest_report.rejected

    rows, schema = landed(project, "crm", "contacts")
    types = {f.name: f.type for f in schema}
    assert types["ContactId"] == pa.string() and types["FullName"] == pa.string()
    assert types["Age"] == pa.int32() and types["Visits"] == pa.int64()
    assert types["Score"] == pa.decimal128(10, 2) and types["Balance"] == pa.decimal128(38, 10)
    assert types["Born"] == pa.date32() and types["Active"] == pa.bool_() and types["Rating"] == pa.float64()
    assert pa.types.is_timestamp(types["SeenAt"]) and types["WakesAt"] == pa.string()
    seen = [r["SeenAt"].replace(tzinfo=None) for r in rows]  # type: ignore[attr-defined]
    for r in rows:
        del r["SeenAt"]
    assert rows == [
        {
            "ContactId": "c-001",
            "FullName": "O'Brien; Pat",
            "Age": 41,
            "Visits": 9_000_000_000,
            "Score": Decimal("12.50"),
            "Balance": Decimal("1234567.0123456789"),
            "Born": date(1984, 2, 29),
            "Active": True,
            "Rating": 4.5,
            "WakesAt": "06:30:00",
        },
        {
            "ContactId": "c-002",
            "FullName": "Ann Lee",
            "Age": None,
            "Visits": 1,
            "Score": Decimal("0.10"),
            "Balance": Decimal("-5"),
            "Born": date(1990, 12, 31),
            "Active": False,
            "Rating": 3.0,
            "WakesAt": None,
        },
        {
            "ContactId": "c-003",
            "FullName": "Zoë Ng",
            "Age": 29,
            "Visits": 7,
            "Score": Decimal("99.99"),
            "Balance": Decimal("0.5"),
            "Born": date(1997, 7, 1),
            "Active": True,
            "Rating": None,  # not in the Parquet partition
            "WakesAt": "07:00:00",
        },
    ]
    # Offsets are converted to UTC, not cut off.
    assert seen == [datetime(2026, 3, 1, 8, 0), datetime(2026, 3, 2, 0, 0), datetime(2026, 3, 3, 12, 0)]

    orders, schema = landed(project, "crm", "orders")
    assert {f.name: str(f.type) for f in schema} == {
        "OrderId": "string",
        "ContactId": "string",
        "Amount": "double",
        "OrderedOn": "date32[day]",
    }
    # notes.txt and a file outside a year folder do not match the pattern.
    assert [(o["OrderId"], o["ContactId"], o["Amount"], o["OrderedOn"]) for o in orders] == [
        ("o-1", "c-001", 10.5, date(2025, 12, 30)),
        ("o-2", "c-002", 20.0, date(2026, 1, 2)),
        ("o-3", "c-001", 7.25, date(2026, 1, 3)),
        ("o-4", "c-003", 1.0, date(2026, 2, 1)),
    ]


def test_pattern_matches_the_files_the_sdk_finds(tmp_path: Path) -> None:
    """The SDK's own expansion of the pattern names the same files, so both read the same rows."""
    manifest = write_sdk_folder(tmp_path / "crm")
    sdk = load_manifest(manifest.parent, manifest.name)
    assert not sdk.errors, sdk.report()
    found = sorted(
        Path(p.adapter_path or "").relative_to(manifest.parent).as_posix() for p in sdk.entity("Order").partitions
    )
    assert found == sorted(name for name in ORDER_FILES if name.rsplit("/", 2)[-2].isdigit() and name.endswith(".csv"))


def test_validate_reads_metadata_only(tmp_path: Path) -> None:
    root = crm_project(tmp_path / "p")
    for f in (root / "crm" / "Order").rglob("*.csv"):
        f.unlink()  # validate never opens a partition
    notes = validate_project(load_project_config(root))
    assert "crm.contacts: CDM entity Contact, 2 partitions, 11 attributes" in notes
    assert "crm.orders: CDM entity Order, 0 partitions, 1 partition pattern, 4 attributes" in notes


def test_rows_are_numbered_in_partition_order(tmp_path: Path) -> None:
    """Partitions in manifest order, a pattern's files sorted by path, rows in file order."""
    config = load_project_config(crm_project(tmp_path / "p"))
    contacts = read_source_table(config, "crm.contacts")
    assert contacts.select(["ContactId", "_row"]).to_pylist() == [
        {"ContactId": "c-001", "_row": 1},
        {"ContactId": "c-002", "_row": 2},
        {"ContactId": "c-003", "_row": 3},
    ]
    orders = read_source_table(config, "crm.orders")
    assert orders.column_names == ["OrderId", "ContactId", "Amount", "OrderedOn", "_row"]
    assert orders.select(["OrderId", "_row"]).to_pylist() == [{"OrderId": f"o-{i}", "_row": i} for i in range(1, 5)]
