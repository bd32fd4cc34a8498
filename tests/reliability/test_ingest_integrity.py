"""Ingest never loses or changes data silently: every record read is landed or rejected with its reason.

Each test is the reproduction of one finding: stray CSV quotes, undecodable bytes, lenient casts, offsets dropped
from timestamps, unparseable activity amounts, an activity table listed twice, binary files named .csv, and keys
that differ only by surrounding whitespace.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from custdim.errors import ConfigError, SourceError
from custdim.project import Project
from custdim.report import StageReport
from custdim.stages.ingest import streaming
from tests import conftest
from tests.conftest import EXAMPLE_YAML, ORDERS, write_example

HEADER = "contact_id,first_name,last_name,email,phone,city,zip"


@pytest.fixture(autouse=True, params=["whole", "streamed", pytest.param("spark-read", marks=pytest.mark.spark)])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every case three times: files read whole (as small files are), streamed in 1 KiB blocks (as large ones are),
    and on engine spark by Spark's own read path, each file split into 256-byte ranges read by separate tasks."""
    if request.param in ("streamed", "spark-read"):
        monkeypatch.setattr(streaming, "STREAM_BYTES", 0)
        monkeypatch.setattr(streaming, "BLOCK_BYTES", 1 << 10)
    if request.param != "spark-read":
        yield str(request.param)
        return
    session = request.getfixturevalue("spark_session")

    def on_spark(root: Path, yaml_text: str = EXAMPLE_YAML, **kw: str) -> Path:
        return conftest.write_example(root, yaml_text=yaml_text.replace("engine: duckdb", "engine: spark"), **kw)

    monkeypatch.setattr(sys.modules[__name__], "write_example", on_spark)
    conf = session.conf  # type: ignore[attr-defined]
    before = conf.get("spark.sql.files.maxPartitionBytes")
    conf.set("spark.sql.files.maxPartitionBytes", "256")
    try:
        yield str(request.param)
    finally:
        conf.set("spark.sql.files.maxPartitionBytes", before)


# JSON Lines and config cases: no CSV is read, so one way of reading is enough (the parameter replaces the fixture).
ONE_WAY = pytest.mark.parametrize("reading", ["whole"])


def rows(n: int = 10) -> list[str]:
    """``n`` well-formed contact rows, C001 ... C0nn (file line = row number + 1)."""
    return [f"C{i:03d},F{i},L{i},e{i}@x.com,555{i},City{i},0{i:04d}" for i in range(1, n + 1)]


def csv_text(lines: list[str]) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def lake_rows(project: Project, *parts: str) -> list[dict[str, object]]:
    path = project.lake.path(*parts)
    if not project.lake.exists(path):
        return []
    return [r for f in project.lake.parquet_files(path) for r in pq.read_table(f).to_pylist()]


def ingest(root: Path) -> tuple[Project, StageReport]:
    project = Project.load(root)
    stage = project.run(stage="ingest").stage("ingest")
    assert stage is not None
    return project, stage


def contacts(project: Project, stage: StageReport) -> tuple[dict[str, dict[str, object]], list[dict[str, object]]]:
    """Landed contacts by key and their rejects, after checking that every record read is one or the other."""
    landed = {str(r["contact_id"]): r for r in lake_rows(project, "raw", "crm", "contacts")}
    rejects = lake_rows(project, "raw", "_rejects", "crm", "contacts")
    assert stage.rows_in["crm.contacts"] == len(landed) + len(rejects)
    assert stage.rows_out["crm.contacts"] == len(landed)
    return landed, rejects


def with_columns(declared: str) -> str:
    return EXAMPLE_YAML.replace(
        "        primary_key: contact_id", f"        primary_key: contact_id\n        columns: {{{declared}}}"
    )


def test_one_stray_quote_rejects_only_its_line(tmp_path: Path) -> None:
    lines = rows()
    lines[3] = 'C004,"F4,L4,e4@x.com,5554,City4,00004'  # the quote never closes: it used to swallow rows 4-10
    project, stage = ingest(write_example(tmp_path / "p", contacts_csv=csv_text(lines)))
    landed, rejects = contacts(project, stage)
    assert stage.rows_in["crm.contacts"] == 10
    assert sorted(landed) == [f"C{i:03d}" for i in (1, 2, 3, 5, 6, 7, 8, 9, 10)]
    assert landed["C005"]["first_name"] == "F5"
    [reject] = rejects
    assert str(reject["_reason"]).startswith("malformed CSV row at line 5: unbalanced quote")
    assert "through line 11" in str(reject["_reason"])
    assert reject["_record"] == lines[3]
    assert stage.rejected == {"crm.contacts.malformed": 1}


def test_two_stray_quotes_reject_both_lines_and_land_the_rows_between(tmp_path: Path) -> None:
    lines = rows()
    lines[3] = 'C004,"F4,L4,e4@x.com,5554,City4,00004'
    lines[7] = 'C008,F8",L8,e8@x.com,5558,City8,00008'  # closes row 4's quote: rows 5-8 used to land inside it
    project, stage = ingest(write_example(tmp_path / "p", contacts_csv=csv_text(lines)))
    landed, rejects = contacts(project, stage)
    assert stage.rows_in["crm.contacts"] == 10
    assert sorted(landed) == [f"C{i:03d}" for i in (1, 2, 3, 5, 6, 7, 9, 10)]
    assert all("\n" not in str(r["first_name"]) for r in landed.values())
    reasons = {str(r["_record"]): str(r["_reason"]) for r in rejects}
    assert reasons[lines[3]].startswith("malformed CSV row at line 5: unbalanced quote")
    assert reasons[lines[7]] == "malformed CSV row at line 9: unbalanced quote: it closes the stray quote of line 5"


def test_stray_quote_on_the_last_line_and_legit_multi_line_values(tmp_path: Path) -> None:
    lines = rows(4)
    lines[1] = 'C002,F2,L2,e2@x.com,5552,"12 Main St, Apt 4\nBoston",02134'  # balanced: one row over two lines
    lines[3] = 'C004,F4,L4,e4@x.com,5554,City4,"00004'
    project, stage = ingest(write_example(tmp_path / "p", contacts_csv=csv_text(lines)))
    landed, rejects = contacts(project, stage)
    assert sorted(landed) == ["C001", "C002", "C003"]
    assert landed["C002"]["city"] == "12 Main St, Apt 4\nBoston"
    [reject] = rejects
    assert reject["_reason"] == "malformed CSV row at line 6: unbalanced quote: the quoted value never closes"


def test_undecodable_bytes_reject_their_rows_and_keep_the_bytes(tmp_path: Path) -> None:
    root = write_example(tmp_path / "p")
    raw = csv_text(rows()).encode().replace(b"F3,", b"F\xff3,").replace(b"F7,", b"F\xc37,")
    (root / "data" / "contacts.csv").write_bytes(raw)
    project, stage = ingest(root)
    landed, rejects = contacts(project, stage)
    assert stage.rows_in["crm.contacts"] == 10
    assert sorted(landed) == [f"C{i:03d}" for i in (1, 2, 4, 5, 6, 8, 9, 10)]
    by_line = {str(r["_reason"]).split(":")[0]: r for r in rejects}
    assert sorted(by_line) == ["undecodable bytes at line 4", "undecodable bytes at line 8"]
    raw_lines = raw.split(b"\n")
    for line in (4, 8):
        record = str(by_line[f"undecodable bytes at line {line}"]["_record"])
        assert record == raw_lines[line - 1].decode("utf-8", "backslashreplace")
    assert "F\\xff3" in str(by_line["undecodable bytes at line 4"]["_record"])
    assert "not utf-8 text" in str(by_line["undecodable bytes at line 4"]["_reason"])
    assert stage.rejected == {"crm.contacts.encoding": 2}


@pytest.mark.parametrize(
    ("declared", "value", "reason"),
    [
        ("int", "1.5", "column 'n': cannot parse 1.5 as int (whole numbers only)"),
        ("int", "0x10", "column 'n': cannot parse 0x10 as int (whole numbers only)"),
        ("int", "1e3", "column 'n': cannot parse 1e3 as int (whole numbers only)"),
        ("int", "3000000000", "column 'n': 3000000000 is out of range for int"),
        ("bigint", "99999999999999999999", "column 'n': 99999999999999999999 is out of range for bigint"),
        ("double", "0x10", "column 'n': cannot parse 0x10 as double"),
        ("double", "1e999", "column 'n': 1e999 is out of range for double"),
        ("decimal(12,2)", "1.239", "column 'n': 1.239 has more than 2 decimal places for decimal(12,2)"),
        ("decimal(12,2)", "12345678901.5", "column 'n': 12345678901.5 is out of range for decimal(12,2)"),
        ("decimal(12,2)", "1,5", "column 'n': cannot parse 1,5 as decimal(12,2)"),
        ("date", "2024-01-01T10:00:00", "column 'n': cannot parse 2024-01-01T10:00:00 as date"),
        ("timestamp", "2024-01-01 10:00 CET", "column 'n': cannot parse 2024-01-01 10:00 CET as timestamp"),
        ("boolean", "maybe", "column 'n': cannot parse maybe as boolean"),
    ],
)
def test_declared_types_reject_values_they_would_change(tmp_path: Path, declared: str, value: str, reason: str) -> None:
    text = f'{HEADER},n\nC001,A,B,a@b.c,,X,00001,"{value}"\nC002,C,D,c@d.e,,Y,00002,\n'
    root = write_example(tmp_path / "p", contacts_csv=text, yaml_text=with_columns(f'n: "{declared}"'))
    project, stage = ingest(root)
    landed, rejects = contacts(project, stage)
    assert sorted(landed) == ["C002"] and landed["C002"]["n"] is None  # blank is missing, not malformed
    assert [r["_reason"] for r in rejects] == [reason]
    assert json.loads(str(rejects[0]["_record"]))["n"] == value
    assert stage.rejected == {"crm.contacts.bad_value": 1}


def test_declared_types_land_exact_values(tmp_path: Path) -> None:
    text = (
        f"{HEADER},i,b,d,m,t\n"
        "C001,A,B,,,X,1, 42 ,-9000000000,1e3,1.230,2024-01-01T10:00:00+02:00\n"
        "C002,A,B,,,X,2,+7,007,.5,-0.5,2024-01-01 10:00:00Z\n"
        "C003,A,B,,,X,3,-0,1,-2.5E-1,99999999.99,2024-01-01T10:00:00-05:30\n"
        "C004,A,B,,,X,4,,,,,2024-01-01\n"
    )
    yaml = with_columns('i: int, b: bigint, d: double, m: "decimal(10,2)", t: timestamp')
    project, stage = ingest(write_example(tmp_path / "p", contacts_csv=text, yaml_text=yaml))
    landed, rejects = contacts(project, stage)
    assert rejects == []
    got = {k: (r["i"], r["b"], r["d"], r["m"], r["t"]) for k, r in landed.items()}
    assert got == {
        "C001": (42, -9000000000, 1000.0, Decimal("1.23"), datetime(2024, 1, 1, 8, 0)),  # offsets land as UTC
        "C002": (7, 7, 0.5, Decimal("-0.50"), datetime(2024, 1, 1, 10, 0)),
        "C003": (0, 1, -0.25, Decimal("99999999.99"), datetime(2024, 1, 1, 15, 30)),
        "C004": (None, None, None, None, datetime(2024, 1, 1, 0, 0)),
    }


@ONE_WAY
def test_typed_json_numbers_are_not_rounded(tmp_path: Path) -> None:
    yaml = EXAMPLE_YAML.replace(
        "        primary_key: order_id", '        primary_key: order_id\n        columns: {total: "decimal(12,2)"}'
    )
    root = write_example(tmp_path / "p", yaml_text=yaml)
    orders = [*ORDERS, {**ORDERS[0], "order_id": "O5", "total": 1.239}]
    (root / "data" / "orders.jsonl").write_text("\n".join(json.dumps(o) for o in orders) + "\n")
    project, stage = ingest(root)
    rejects = lake_rows(project, "raw", "_rejects", "shop", "orders")
    assert [r["_reason"] for r in rejects] == ["column 'total': 1.239 has more than 2 decimal places for decimal(12,2)"]
    assert stage.rows_in["shop.orders"] == stage.rows_out["shop.orders"] + 1 == 5


def activity_project(root: Path, orders: list[dict[str, object]], yaml_text: str = EXAMPLE_YAML) -> Project:
    write_example(root, yaml_text=yaml_text)
    (root / "data" / "orders.jsonl").write_text("\n".join(json.dumps(o) for o in orders) + "\n")
    return Project.load(root)


@ONE_WAY
def test_activity_amounts_that_are_not_numbers_are_rejected(tmp_path: Path) -> None:
    orders: list[dict[str, object]] = [
        {"order_id": "O1", "account_id": "A01", "ordered_at": "2026-01-02T10:00:00+02:00", "total": "10.5"},
        {"order_id": "O2", "account_id": "A02", "ordered_at": "2026-02-02T10:00:00Z", "total": "abc"},
        {"order_id": "O3", "account_id": "A01", "ordered_at": "2026-03-02T10:00:00", "total": "1,234.50"},
        {"order_id": "O4", "account_id": "A04", "ordered_at": "2026-03-05T09:30:00", "total": ""},
        {"order_id": "O5", "account_id": "A04", "ordered_at": "2026-03-05T09:30:00", "total": "1e2"},
    ]
    project = activity_project(tmp_path / "p", orders)
    stage = project.run().stage("activities")
    assert stage is not None
    assert stage.rows_in == {"shop.orders": 5} and stage.rows_out == {"UnifiedActivity": 3}
    assert stage.rejected == {"shop.orders": 2}
    assert any("amount not a number" in w for w in stage.warnings)
    rejects = {r["SourceActivityId"]: r["_reason"] for r in lake_rows(project, "work", "activities", "rejects")}
    assert rejects == {
        "O2": "amount 'total' is not a number: abc",
        "O3": "amount 'total' is not a number: 1,234.50",
    }
    landed = {
        r["SourceActivityId"]: (r["Amount"], r["ActivityTimeStamp"])
        for r in lake_rows(project, "work", "entities", "UnifiedActivity")
    }
    assert landed == {
        "O1": (10.5, datetime(2026, 1, 2, 8, 0)),  # the offset is applied, not dropped
        "O4": (None, datetime(2026, 3, 5, 9, 30)),  # an empty amount is missing, not malformed
        "O5": (100.0, datetime(2026, 3, 5, 9, 30)),
    }


@ONE_WAY
def test_activity_table_listed_twice_is_a_config_error(tmp_path: Path) -> None:
    yaml = EXAMPLE_YAML + (
        "  - table: shop.orders\n    type: Other\n    customer: {table: shop.accounts, foreign_key: account_id}\n"
        "    timestamp: ordered_at\n"
    )
    root = write_example(tmp_path / "p", yaml_text=yaml)
    with pytest.raises(ConfigError) as info:
        Project.load(root)
    assert info.value.key == "activities[1].table"
    assert "'shop.orders' is listed twice (also activities[0])" in str(info.value)


def assert_clear_source_error(error: SourceError, file: str) -> None:
    message = str(error)
    assert message.startswith("crm.contacts: sources[0].tables[0].path: ")
    assert file in message
    assert message.isprintable()  # no binary echoed to the terminal


def test_gzip_file_named_csv_is_a_clear_error_and_csv_gz_is_read(tmp_path: Path) -> None:
    root = write_example(tmp_path / "p")
    (root / "data" / "contacts.csv").write_bytes(gzip.compress(csv_text(rows(3)).encode()))
    with pytest.raises(SourceError) as info:
        Project.load(root).run(stage="ingest")
    assert_clear_source_error(info.value, "contacts.csv")
    assert "looks like a gzip file" in str(info.value)

    (root / "data" / "contacts.csv.gz").write_bytes(gzip.compress(csv_text(rows(3)).encode()))
    yaml = EXAMPLE_YAML.replace("path: data/contacts.csv\n        format: csv", "path: data/contacts.csv.gz")
    (root / "custdim.yaml").write_text(yaml)
    project, stage = ingest(root)
    landed, _ = contacts(project, stage)
    assert sorted(landed) == ["C001", "C002", "C003"]


@pytest.mark.parametrize("with_nul", [True, False])
def test_random_bytes_named_csv_are_a_clear_error(tmp_path: Path, with_nul: bool) -> None:
    rng = random.Random(7)
    data = bytes(rng.randrange(0 if with_nul else 1, 256) for _ in range(4000))
    root = write_example(tmp_path / "p")
    (root / "data" / "contacts.csv").write_bytes(data)
    with pytest.raises(SourceError) as info:
        Project.load(root).run(stage="ingest")
    assert_clear_source_error(info.value, "contacts.csv")
    assert "binary" in str(info.value)


@ONE_WAY
def test_read_errors_name_the_project_file_key(example_dir: Path) -> None:
    (example_dir / "data" / "orders.jsonl").unlink()
    with pytest.raises(SourceError) as info:
        Project.load(example_dir).run(stage="ingest")
    assert str(info.value).startswith("shop.orders: sources[1].tables[1].path: ")
    assert "orders.jsonl: file not found" in str(info.value)


def test_keys_differing_only_by_whitespace_are_one_key(tmp_path: Path) -> None:
    text = f'{HEADER}\n4,First,Anna,a@x.com,,X,00001\n" 4 ",Second,Anna,b@x.com,,Y,00002\n 5,Bo,Lee,,,,\n'
    project, stage = ingest(write_example(tmp_path / "p", contacts_csv=text))
    landed, rejects = contacts(project, stage)
    assert sorted(landed) == ["4", "5"]  # trimmed
    assert landed["4"]["first_name"] == "First"
    [reject] = rejects
    assert reject["_reason"] == (
        "duplicate primary key 4, first seen at row 1 (surrounding whitespace trimmed from ' 4 ')"
    )
    assert json.loads(str(reject["_record"]))["contact_id"] == " 4 "
    assert stage.rejected == {"crm.contacts.duplicate_key": 1}
    assert any("crm.contacts: 2 'contact_id' values had surrounding whitespace, trimmed" in w for w in stage.warnings)
