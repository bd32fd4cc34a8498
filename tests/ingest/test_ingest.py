"""Ingest: files land as Parquet under raw/, nothing is lost, and bad rows are kept with their reason."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from custdim.errors import ConfigError, SourceError
from custdim.project import Project
from tests.conftest import CONTACTS_CSV, EXAMPLE_YAML, write_example


def read_lake_table(project: Project, *parts: str) -> list[dict[str, object]]:
    path = project.lake.path(*parts)
    rows: list[dict[str, object]] = []
    for f in project.lake.parquet_files(path):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def ingest(root: Path) -> tuple[Project, dict[str, object]]:
    project = Project.load(root)
    report = project.run(stage="ingest")
    stage = report.stage("ingest")
    assert stage is not None
    return project, {"in": stage.rows_in, "out": stage.rows_out, "rejected": stage.rejected}


def test_landed_tables_keep_text_and_leading_zeros(example_dir: Path) -> None:
    project, counts = ingest(example_dir)
    rows = read_lake_table(project, "raw", "crm", "contacts")
    assert counts["out"] == {"crm.contacts": 4, "shop.accounts": 4, "shop.orders": 4}
    by_id = {r["contact_id"]: r for r in rows}
    assert by_id["C001"]["zip"] == "02134"
    assert by_id["C002"]["zip"] == "01970"
    assert by_id["C001"]["phone"] == "(555) 123-4567"
    assert by_id["C001"]["first_name"] == "José"
    assert all(r["_run_id"] for r in rows) and all(r["_ingested_at"] for r in rows)
    schema = pq.read_schema(project.lake.parquet_files(project.lake.raw_table("crm", "contacts"))[0])
    assert all(str(schema.field(c).type) == "string" for c in ("contact_id", "zip", "phone"))


def test_raw_manifest_lists_every_table(example_dir: Path) -> None:
    project, _ = ingest(example_dir)
    manifest = json.loads(Path(project.lake.path("raw", "raw.manifest.cdm.json")).read_text())
    names = [e["entityName"] for e in manifest["entities"]]
    assert names == ["crm_contacts", "shop_accounts", "shop_orders"]
    for e in manifest["entities"]:
        for p in e["dataPartitions"]:
            assert Path(project.lake.path("raw", p["location"])).exists()
    schema_doc = json.loads(Path(project.lake.path("raw", "shop", "shop_orders.cdm.json")).read_text())
    formats = {a["name"]: a["dataFormat"] for a in schema_doc["definitions"][0]["hasAttributes"]}
    assert formats["total"] == "Double"
    assert formats["order_id"] == "String"


BAD_CSV = """\
contact_id,first_name,last_name,email,phone,city,zip
C001,José,Müller,jose@example.com,(555) 123-4567,Boston,02134
C002,Anna,Smith,anna@example.com,555.222.3333,Salem,01970
C003,too,few,fields
,Nokey,Person,x@y.z,,,
   ,Blank,Key,b@y.z,,,
C002,Second,Anna,dup@example.com,,,
C005,Extra,Fields,e@x.com,1,Town,00001,surplus
C006,"Quoted, Name",Ok,q@x.com,,Town,00501
"""


def test_bad_rows_go_to_rejects_with_reasons(tmp_path: Path) -> None:
    root = write_example(tmp_path / "p", contacts_csv=BAD_CSV)
    project, counts = ingest(root)
    landed = read_lake_table(project, "raw", "crm", "contacts")
    assert sorted(r["contact_id"] for r in landed) == ["C001", "C002", "C006"]
    assert next(r for r in landed if r["contact_id"] == "C002")["first_name"] == "Anna"  # the first one wins
    assert next(r for r in landed if r["contact_id"] == "C006")["first_name"] == "Quoted, Name"
    rejects = read_lake_table(project, "raw", "_rejects", "crm", "contacts")
    reasons = sorted(str(r["_reason"]) for r in rejects)
    assert len(rejects) == 5
    assert sum("malformed CSV row at line 4: expected 7 fields, found 4" in r for r in reasons) == 1
    assert sum("malformed CSV row at line 8: expected 7 fields, found 8" in r for r in reasons) == 1
    assert sum("primary key 'contact_id' is null or empty" in r for r in reasons) == 2
    assert sum("duplicate primary key C002, first seen at row 2" in r for r in reasons) == 1
    dup = next(r for r in rejects if "duplicate" in str(r["_reason"]))
    assert json.loads(str(dup["_record"]))["first_name"] == "Second"
    malformed = next(r for r in rejects if "line 4" in str(r["_reason"]))
    assert malformed["_record"] == "C003,too,few,fields"
    # Nothing is lost: read = landed + rejected, and the report counts each kind.
    assert counts["in"]["crm.contacts"] == 8  # type: ignore[index]
    assert counts["rejected"] == {
        "crm.contacts.duplicate_key": 1,
        "crm.contacts.malformed": 2,
        "crm.contacts.null_key": 2,
    }


def test_declared_types_cast_and_reject_unparseable_values(tmp_path: Path) -> None:
    csv = (
        "contact_id,first_name,last_name,email,phone,city,zip,born,score\n"
        "C1,A,B,a@b.c,,X,00123,1990-05-01,3\nC2,C,D,c@d.e,,Y,00456,not a date,4\nC3,E,F,,,Z,,,\n"
    )
    yaml = EXAMPLE_YAML.replace(
        "        primary_key: contact_id", "        primary_key: contact_id\n        columns: {born: date, score: int}"
    )
    root = write_example(tmp_path / "p", contacts_csv=csv, yaml_text=yaml)
    project, counts = ingest(root)
    landed = {r["contact_id"]: r for r in read_lake_table(project, "raw", "crm", "contacts")}
    assert sorted(landed) == ["C1", "C3"]
    assert str(landed["C1"]["born"]) == "1990-05-01" and landed["C1"]["score"] == 3
    assert landed["C3"]["born"] is None  # empty is missing, not malformed
    assert landed["C1"]["zip"] == "00123"
    rejects = read_lake_table(project, "raw", "_rejects", "crm", "contacts")
    assert [r["_reason"] for r in rejects] == ["column 'born': cannot parse not a date as date"]
    assert counts["rejected"] == {"crm.contacts.bad_value": 1}


def test_csv_options_delimiter_encoding_and_no_header(tmp_path: Path) -> None:
    root = write_example(tmp_path / "p")
    (root / "data" / "contacts.csv").write_bytes(
        "C1;Zoë;Brontë;z@b.com;;Haworth;01234\nC2;Ann;Lee;;;;\n".encode("latin-1")
    )
    yaml = EXAMPLE_YAML.replace(
        "        primary_key: contact_id",
        "        primary_key: contact_id\n        delimiter: ';'\n        encoding: latin-1\n        header: false\n"
        "        column_names: [contact_id, first_name, last_name, email, phone, city, zip]",
    )
    (root / "custdim.yaml").write_text(yaml)
    project, _ = ingest(root)
    landed = {r["contact_id"]: r for r in read_lake_table(project, "raw", "crm", "contacts")}
    assert landed["C1"]["first_name"] == "Zoë" and landed["C1"]["zip"] == "01234"
    assert landed["C2"]["email"] is None


def test_malformed_json_lines_are_rejected(example_dir: Path) -> None:
    orders = example_dir / "data" / "orders.jsonl"
    orders.write_text(orders.read_text() + '{"order_id": "O9", "account_id": "A01", broken\n[1, 2]\n')
    project, counts = ingest(example_dir)
    assert counts["out"]["shop.orders"] == 4  # type: ignore[index]
    rejects = read_lake_table(project, "raw", "_rejects", "shop", "orders")
    assert sorted(str(r["_reason"])[:27] for r in rejects) == [
        "malformed JSON at line 5: E",
        "malformed JSON at line 6: n",
    ]


def test_empty_file_is_a_clear_error(example_dir: Path) -> None:
    (example_dir / "data" / "contacts.csv").write_text("")
    with pytest.raises(SourceError, match=r"crm.contacts: .*contacts.csv is empty"):
        Project.load(example_dir).run()


def test_header_only_file_lands_an_empty_table_with_a_warning(example_dir: Path) -> None:
    (example_dir / "data" / "contacts.csv").write_text(CONTACTS_CSV.splitlines()[0] + "\n")
    project = Project.load(example_dir)
    report = project.run(stage="ingest")
    stage = report.stage("ingest")
    assert stage is not None and stage.rows_out["crm.contacts"] == 0
    assert any("crm.contacts: no rows landed" in w for w in stage.warnings)


def test_missing_file_and_missing_key_column(example_dir: Path) -> None:
    (example_dir / "data" / "accounts.parquet").unlink()
    with pytest.raises(SourceError, match=r"accounts\.parquet: file not found"):
        Project.load(example_dir).run()
    write_example(example_dir)
    yaml = (example_dir / "custdim.yaml").read_text().replace("primary_key: order_id", "primary_key: id")
    (example_dir / "custdim.yaml").write_text(yaml)
    with pytest.raises(ConfigError) as info:
        Project.load(example_dir).run()
    assert info.value.key == "sources[1].tables[1].primary_key"
    assert "column 'id' is not in shop.orders; columns: order_id, account_id" in str(info.value)


def test_failed_run_is_reported(example_dir: Path) -> None:
    (example_dir / "data" / "contacts.csv").write_text("")
    project = Project.load(example_dir)
    with pytest.raises(SourceError):
        project.run()
    last = project.runs(1)[0]
    assert last.status == "failed"
    assert last.error is not None and "is empty" in last.error
    assert last.stages[0].status == "failed"
