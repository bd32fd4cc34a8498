"""`type: cdm` sources: entities of CDM folders land with the attribute types their metadata declares."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.config.loader import load_project_config
from custdim.errors import ConfigError, SourceError
from custdim.preflight import validate_project
from custdim.project import Project
from custdim.stages.ingest.landing import read_source_table
from tests.conftest import write_example
from tests.ingest.cdm_folders import ORDER_FILES, write_model_json_folder, write_sdk_folder
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


def landed(
    project: Project, source: str, table: str, key: str | None = None
) -> tuple[list[dict[str, object]], pa.Schema]:
    """A landed table's rows ordered by ``key`` (default: the first column), without lineage columns, and schema."""
    path = project.lake.raw_table(source, table)
    tables = [pq.read_table(f) for f in project.lake.parquet_files(path)]
    data = pa.concat_tables(tables).drop_columns(["_run_id", "_ingested_at"])
    key = key or data.column_names[0]
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


# (b) A model.json as Customer Insights' lake export writes it: header-less CSV, every value quoted.

CI_CUSTOMER = [
    ("CustomerId", "guid"),
    ("FirstName", "string"),
    ("BirthDate", "date"),
    ("Clv", "decimal"),
    ("LastSeen", "dateTimeOffset"),
    ("Orders", "int64"),
    ("IsActive", "boolean"),
    ("Note", "json"),
]
CI_FILES = {
    "Customer/Snapshot/part-00000.csv": (
        '"5f3c6a0e-0001-4b1e-9a51-000000000001","Ann, Jr.","1980-01-02","12.3400",'
        '"2026-01-01T10:00:00.0000000+01:00","3","True","{""vip"": true}"\n'
        '"5f3c6a0e-0001-4b1e-9a51-000000000002","Bo ""Big"" Li","","","2026-01-02T00:00:00Z","0","False",""\n'
    ),
    "Customer/Snapshot/part-00001.csv": (
        '"5f3c6a0e-0001-4b1e-9a51-000000000003","Cé","2001-12-31","-0.5","2026-02-01T23:30:00-02:00","12","True",""\n'
    ),
}


def ci_project(root: Path) -> Path:
    write_model_json_folder(
        root / "ci",
        [{"name": "Customer", "attributes": CI_CUSTOMER, "partitions": list(CI_FILES)}],
        CI_FILES,
        "https://contosolake.dfs.core.windows.net/customerinsights/exports/ci",
    )
    source = """\
  - name: ci
    type: cdm
    manifest: ci/model.json
    tables:
      - name: customers
        entity: Customer
        primary_key: CustomerId
"""
    return write_project(root, source, "ci.customers", {"FirstName": "Person.FirstName"})


def test_customer_insights_model_json_lands_typed(tmp_path: Path) -> None:
    project, counts = ingest(ci_project(tmp_path / "p"))
    assert counts["in"] == {"ci.customers": 3} and counts["out"] == {"ci.customers": 3}
    rows, schema = landed(project, "ci", "customers")
    assert {f.name: str(f.type) for f in schema} == {
        "CustomerId": "string",
        "FirstName": "string",
        "BirthDate": "date32[day]",
        "Clv": "decimal128(38, 10)",
        "LastSeen": str(schema.field("LastSeen").type),
        "Orders": "int64",
        "IsActive": "bool",
        "Note": "string",  # json: no type to apply, kept as the text it is
    }
    assert pa.types.is_timestamp(schema.field("LastSeen").type)
    for r in rows:
        r["LastSeen"] = r["LastSeen"].replace(tzinfo=None)  # type: ignore[attr-defined]
    columns = ("FirstName", "BirthDate", "Clv", "LastSeen", "Orders", "IsActive", "Note")
    assert [tuple(r[c] for c in columns) for r in rows] == [
        ("Ann, Jr.", date(1980, 1, 2), Decimal("12.34"), datetime(2026, 1, 1, 9, 0), 3, True, '{"vip": true}'),
        ('Bo "Big" Li', None, None, datetime(2026, 1, 2, 0, 0), 0, False, None),
        ("Cé", date(2001, 12, 31), Decimal("-0.5"), datetime(2026, 2, 2, 1, 30), 12, True, None),
    ]
    assert [r["CustomerId"] for r in rows] == [f"5f3c6a0e-0001-4b1e-9a51-00000000000{i}" for i in (1, 2, 3)]


# (c) Round trip: a project's own published CDM folder read back as a source.


@pytest.fixture(scope="module", params=["parquet", "csv"])
def published(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The example project run to its end, its export in each file format custdim writes CDM folders in."""
    root = write_example(tmp_path_factory.mktemp(f"published-{request.param}") / "example")
    with (root / "custdim.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"export:\n  format: {request.param}\n")
    project = Project.load(root)
    project.run()
    return project


@pytest.fixture(scope="module")
def published_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    """The example's exported Customer and UnifiedActivity rows, read from its Parquet partitions."""
    root = write_example(tmp_path_factory.mktemp("reference") / "example")
    project = Project.load(root)
    project.run()
    export = Path(project.lake.path("export"))
    doc = json.loads((export / "export.manifest.cdm.json").read_text())
    out = {}
    for entity in ("Customer", "UnifiedActivity"):
        partitions = next(e for e in doc["entities"] if e["entityName"] == entity)["dataPartitions"]
        out[entity] = pa.concat_tables([pq.read_table(export / p["location"]) for p in partitions])
    return out


@pytest.mark.parametrize("manifest", ["export.manifest.cdm.json", "model.json"])
def test_published_export_reads_back_unchanged(
    published: Project, published_rows: dict[str, pa.Table], tmp_path: Path, manifest: str
) -> None:
    export = Path(published.lake.path("export"))
    source = f"""\
  - name: back
    type: cdm
    manifest: {export / manifest}
    tables:
      - name: customer
        entity: Customer
        primary_key: CustomerId
      - name: activity
        entity: UnifiedActivity
        primary_key: ActivityId
"""
    root = write_project(tmp_path / "again", source, "back.customer", {"FirstName": "Person.FirstName"})
    project, counts = ingest(root)
    assert not counts["rejected"]
    for entity, table, key in (("Customer", "customer", "CustomerId"), ("UnifiedActivity", "activity", "ActivityId")):
        original = published_rows[entity]
        rows, schema = landed(project, "back", table, key)
        assert counts["out"][f"back.{table}"] == original.num_rows > 0
        assert rows == sorted(original.to_pylist(), key=lambda r: str(r[key]))
        for f in original.schema:
            if pa.types.is_decimal(f.type):
                assert pa.types.is_decimal(schema.field(f.name).type)  # Decimal carries no precision: 38,10
            elif pa.types.is_integer(f.type) and manifest == "model.json":
                assert schema.field(f.name).type == pa.int64()  # model.json knows no narrower integer
            else:
                assert schema.field(f.name).type == f.type, f.name


# (d) Values that do not fit the declared type, and malformed lines, become rejects with the reason.

BAD_MANIFEST = {
    "jsonSchemaSemanticVersion": "1.0.0",
    "imports": [{"corpusPath": "cdm:/foundations.cdm.json"}],
    "manifestName": "bad",
    "entities": [
        {
            "type": "LocalEntity",
            "entityName": "Person",
            "entityPath": "local:/schemas/Person.cdm.json/Person",
            "dataPartitions": [
                {
                    "location": f"/Person/part-{i}.csv",
                    "exhibitsTraits": [
                        {
                            "traitReference": "is.partition.format.CSV",
                            "arguments": [{"name": "columnHeaders", "value": "true"}],
                        }
                    ],
                }
                for i in (1, 2)
            ],
        }
    ],
}
PERSON_SCHEMA = {
    "jsonSchemaSemanticVersion": "1.0.0",
    "imports": [{"corpusPath": "cdm:/foundations.cdm.json"}],
    "definitions": [
        {
            "entityName": "Person",
            "hasAttributes": [
                {"name": "Id", "dataFormat": "String", "purpose": "identifiedBy"},
                {"name": "Age", "dataFormat": "Int64"},
                {"name": "Born", "dataFormat": "Date"},
            ],
        }
    ],
}
PERSON_PARTS = {
    "part-1.csv": "Id,Age,Born\nk1,41,1984-02-29\nk3,5,1990-02-30\n",
    "part-2.csv": "Id,Age,Born\nk2,abc,1990-01-01\nk5,7,2000-01-01\nk6,1,2,3\nk7,,\n",
}


def bad_project(root: Path) -> Path:
    folder = root / "bad"
    (folder / "schemas").mkdir(parents=True)
    (folder / "Person").mkdir()
    (folder / "bad.manifest.cdm.json").write_text(json.dumps(BAD_MANIFEST), encoding="utf-8")
    (folder / "schemas" / "Person.cdm.json").write_text(json.dumps(PERSON_SCHEMA), encoding="utf-8")
    for name, text in PERSON_PARTS.items():
        (folder / "Person" / name).write_text(text, encoding="utf-8")
    source = """\
  - name: hr
    type: cdm
    manifest: bad/bad.manifest.cdm.json
    tables:
      - name: people
        entity: Person
        primary_key: Id
"""
    return write_project(root, source, "hr.people", {"Id": "Identity.Service.Email"})


def test_values_that_do_not_fit_and_malformed_lines_are_rejected(tmp_path: Path) -> None:
    project, counts = ingest(bad_project(tmp_path / "p"))
    rows, _ = landed(project, "hr", "people")
    assert [(r["Id"], r["Age"], r["Born"]) for r in rows] == [
        ("k1", 41, date(1984, 2, 29)),
        ("k5", 7, date(2000, 1, 1)),
        ("k7", None, None),
    ]
    rejects = sorted(rejects_of(project, "hr", "people"), key=lambda r: str(r["_reason"]))
    assert [(r["_row"], r["_reason"]) for r in rejects] == [
        (3, "column 'Age': cannot parse abc as bigint (whole numbers only)"),
        (2, "column 'Born': cannot parse 1990-02-30 as date"),
        (None, "malformed CSV row at line 4 of partition Person/part-2.csv: expected 3 fields, found 4"),
    ]
    assert counts["in"] == {"hr.people": 6}
    assert counts["out"]["hr.people"] + len(rejects) == counts["in"]["hr.people"]
    assert counts["rejected"] == {"hr.people.bad_value": 2, "hr.people.malformed": 1}


# (e) Errors name what is wrong and where.


def test_missing_manifest_is_a_source_error(tmp_path: Path) -> None:
    root = crm_project(tmp_path / "p")
    (root / "crm" / "crm.manifest.cdm.json").unlink()
    with pytest.raises(
        SourceError, match=r"crm\.contacts: sources\[0\]\.manifest: CDM manifest .*crm\.manifest\.cdm\.json not found"
    ):
        Project.load(root).run(stage="ingest")


def test_unknown_entity_lists_the_entities(tmp_path: Path) -> None:
    root = crm_project(tmp_path / "p")
    text = (root / "custdim.yaml").read_text().replace("entity: Order", "entity: Orders")
    (root / "custdim.yaml").write_text(text)
    with pytest.raises(SourceError) as info:
        Project.load(root).run(stage="ingest")
    assert "crm.orders: sources[0].tables[1].entity: CDM entity 'Orders' is not in" in str(info.value)
    assert str(info.value).endswith("its entities: Contact, Order")


def test_missing_partition_file_names_it(tmp_path: Path) -> None:
    root = crm_project(tmp_path / "p")
    (root / "crm" / "Contact" / "part-2.parquet").unlink()
    with pytest.raises(
        SourceError, match=r"crm\.contacts: CDM entity 'Contact': partition Contact/part-2\.parquet not found"
    ):
        Project.load(root).run(stage="ingest")


def test_unsupported_partition_format_is_named(tmp_path: Path) -> None:
    root = bad_project(tmp_path / "p")
    manifest = json.loads(json.dumps(BAD_MANIFEST))
    manifest["entities"][0]["dataPartitions"][1]["exhibitsTraits"] = [
        {"traitReference": "is.partition.format.deltaLake"}
    ]
    (root / "bad" / "bad.manifest.cdm.json").write_text(json.dumps(manifest))
    with pytest.raises(SourceError, match=r"partition format is\.partition\.format\.deltaLake is not supported"):
        Project.load(root).run(stage="ingest")


def test_primary_key_not_an_attribute(tmp_path: Path) -> None:
    root = crm_project(tmp_path / "p")
    text = (root / "custdim.yaml").read_text().replace("primary_key: OrderId", "primary_key: OrderID")
    (root / "custdim.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        validate_project(load_project_config(root))
    assert "sources[0].tables[1].primary_key" in str(info.value)
    assert "column 'OrderID' is not in crm.orders (did you mean 'OrderId'?)" in str(info.value)
    code, out = (
        CliRunner().invoke(app, ["validate", "-p", str(root)]).exit_code,
        CliRunner().invoke(app, ["validate", "-p", str(root)]).output,
    )
    assert code == 3 and "sources[0].tables[1].primary_key" in out and "'OrderID'" in out
    with pytest.raises(
        ConfigError, match=r"sources\[0\]\.tables\[1\]\.primary_key: column 'OrderID' is not in crm\.orders"
    ):
        Project.load(root).run(stage="ingest")


# Manifest constructs beyond one flat document: sub-manifests, referenced entities, base entities, attribute
# groups, glob patterns and corpus paths.

CSV_HEADER = [{"traitReference": "is.partition.format.CSV", "arguments": [{"name": "columnHeaders", "value": "true"}]}]
NESTED_DOCS: dict[str, object] = {
    "main.manifest.cdm.json": {
        "manifestName": "main",
        "entities": [
            {
                "type": "ReferencedEntity",
                "entityName": "Lead",
                "entityDeclaration": "sales/sales.manifest.cdm.json/Lead",
            }
        ],
        "subManifests": [{"manifestName": "sales", "definition": "sales/sales.manifest.cdm.json"}],
    },
    "sales/sales.manifest.cdm.json": {
        "manifestName": "sales",
        "entities": [
            {
                "type": "LocalEntity",
                "entityName": "Lead",
                "entityPath": "Lead.cdm.json/Lead",
                "dataPartitionPatterns": [
                    {"name": "all", "rootLocation": "leads", "globPattern": "**/*.csv", "exhibitsTraits": CSV_HEADER}
                ],
            },
            {
                "type": "LocalEntity",
                "entityName": "Account",
                "entityPath": "/shared/Account.cdm.json/Account",
                "dataPartitions": [{"location": "local:/sales/accounts/a.parquet"}],
            },
        ],
    },
    "sales/Lead.cdm.json": {
        "imports": [{"corpusPath": "cdm:/foundations.cdm.json"}, {"corpusPath": "Base.cdm.json"}],
        "definitions": [
            {
                "entityName": "Lead",
                "extendsEntity": "Party",
                "hasAttributes": [
                    {
                        "attributeGroupReference": {
                            "attributeGroupName": "attributesAddedAtThisScope",
                            "members": [
                                {"name": "LeadId", "dataType": "string"},
                                {
                                    "name": "Budget",
                                    "dataType": "decimal",
                                    "appliedTraits": [
                                        {
                                            "traitReference": "is.dataFormat.numeric.shaped",
                                            "arguments": [
                                                {"name": "precision", "value": "12"},
                                                {"name": "scale", "value": "2"},
                                            ],
                                        }
                                    ],
                                },
                            ],
                        }
                    }
                ],
            }
        ],
    },
    "sales/Base.cdm.json": {
        "definitions": [
            {
                "entityName": "Party",
                "extendsEntity": "CdmEntity",
                "hasAttributes": [{"name": "Email", "dataType": "string"}],
            }
        ]
    },
    "shared/Account.cdm.json": {
        "definitions": [
            {
                "entityName": "Account",
                "hasAttributes": [
                    {"name": "AccountId", "dataFormat": "Int64"},
                    {"name": "Name", "dataFormat": "String"},
                ],
            }
        ]
    },
}
NESTED_SOURCE = """\
  - name: sales
    type: cdm
    manifest: folder/main.manifest.cdm.json
    tables:
      - name: leads
        entity: Lead
        primary_key: LeadId
      - name: accounts
        entity: Account
        primary_key: AccountId
"""


def nested_project(root: Path) -> Path:
    folder = root / "folder"
    for name, doc in NESTED_DOCS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(doc), encoding="utf-8")
    (folder / "sales" / "leads" / "2026").mkdir(parents=True)
    (folder / "sales" / "leads" / "2026" / "a.csv").write_text("Email,LeadId,Budget\na@x.com,L1,100.50\n")
    (folder / "sales" / "leads" / "b.csv").write_text("LeadId,Email,Budget\nL2,b@x.com,7\n")  # by name, any order
    (folder / "sales" / "leads" / "b.txt").write_text("not a partition\n")
    (folder / "sales" / "leads" / "c.csv").write_bytes(b"")  # an empty slice, as Spark writes them
    (folder / "sales" / "accounts").mkdir()
    pq.write_table(
        pa.table({"AccountId": pa.array([1, 2], pa.int32()), "Name": ["A", "B"]}),
        folder / "sales" / "accounts" / "a.parquet",
    )
    return write_project(root, NESTED_SOURCE, "sales.leads", {"Email": "Identity.Service.Email"})


def test_sub_manifests_referenced_and_base_entities(tmp_path: Path) -> None:
    root = nested_project(tmp_path / "p")
    config = load_project_config(root)
    leads = read_source_table(config, "sales.leads")
    assert leads.to_pylist() == [
        {"Email": "a@x.com", "LeadId": "L1", "Budget": "100.50", "_row": 1},
        {"Email": "b@x.com", "LeadId": "L2", "Budget": "7", "_row": 2},
    ]
    project, counts = ingest(root)
    assert counts["out"] == {"sales.leads": 2, "sales.accounts": 2}
    rows, schema = landed(project, "sales", "leads", "LeadId")
    assert schema.field("Budget").type == pa.decimal128(12, 2)
    assert [r["Budget"] for r in rows] == [Decimal("100.50"), Decimal("7")]
    rows, schema = landed(project, "sales", "accounts")
    assert schema.field("AccountId").type == pa.int64() and [r["AccountId"] for r in rows] == [1, 2]


def test_standard_base_entity_is_a_clear_error(tmp_path: Path) -> None:
    root = nested_project(tmp_path / "p")
    lead = json.loads((root / "folder" / "sales" / "Lead.cdm.json").read_text())
    lead["definitions"][0]["extendsEntity"] = "cdm:/core/applicationCommon/Lead.cdm.json/Lead"
    (root / "folder" / "sales" / "Lead.cdm.json").write_text(json.dumps(lead))
    with pytest.raises(ConfigError, match=r"cannot resolve the base entity 'cdm:/core/.*' \(extendsEntity\)"):
        validate_project(load_project_config(root))
    with pytest.raises(SourceError, match=r"sales\.leads: .*cannot resolve the base entity"):
        Project.load(root).run(stage="ingest")
