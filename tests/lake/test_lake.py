"""Lake layout, atomic JSON writes and CDM type mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from custdim.lake import Lake
from custdim.lake.cdm import Entity, Manifest, cdm_data_format, manifest_from_json


def test_zone_paths(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    assert lake.is_local
    assert lake.raw_table("crm", "contacts") == str(tmp_path / "lake" / "raw" / "crm" / "contacts")
    assert lake.rejects_table("crm", "contacts").endswith("raw/_rejects/crm/contacts")
    assert lake.entity("Customer").endswith("work/entities/Customer")


def test_memory_lake_goes_through_fsspec() -> None:
    lake = Lake("memory://lake-test")
    assert not lake.is_local
    assert lake.url("export", "x.json") == "memory:///lake-test/export/x.json"
    lake.write_json(lake.path("export", "x.json"), {"a": 1})
    assert lake.read_json(lake.path("export", "x.json")) == {"a": 1}


def test_atomic_json_leaves_no_temp_files(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    target = lake.path("export", "m.json")
    lake.write_json(target, {"v": 1})
    lake.write_json(target, {"v": 2})
    assert json.loads(Path(target).read_text()) == {"v": 2}
    assert [p.name for p in Path(target).parent.iterdir()] == ["m.json"]


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (pa.string(), "String"),
        (pa.large_string(), "String"),
        (pa.int16(), "Int16"),
        (pa.int32(), "Int32"),
        (pa.int64(), "Int64"),
        (pa.float32(), "Float"),
        (pa.float64(), "Double"),
        (pa.decimal128(12, 2), "Decimal"),
        (pa.bool_(), "Boolean"),
        (pa.date32(), "Date"),
        (pa.timestamp("us"), "DateTime"),
        (pa.timestamp("us", tz="UTC"), "DateTimeOffset"),
        (pa.binary(), "Binary"),
        (pa.list_(pa.string()), "Json"),
    ],
)
def test_cdm_data_formats(dtype: pa.DataType, expected: str) -> None:
    assert cdm_data_format(dtype) == expected


def test_manifest_round_trip() -> None:
    schema = pa.schema([("CustomerId", pa.string()), ("Email", pa.string()), ("Born", pa.date32())])
    e = Entity.from_arrow("Customer", schema, key="CustomerId", guids=frozenset({"CustomerId"}))
    e.schema_folder = "snapshots/r1"
    e.partitions = ["snapshots/r1/Customer/part-00000.parquet"]
    doc = Manifest("export", [e]).to_json()
    assert doc["imports"] == [{"corpusPath": "cdm:/foundations.cdm.json"}]
    name, entities = manifest_from_json(doc)
    assert name == "export"
    assert entities == [
        ("Customer", "snapshots/r1/Customer.cdm.json/Customer", ["snapshots/r1/Customer/part-00000.parquet"])
    ]
    attrs = e.schema_json()["definitions"][0]["hasAttributes"]
    assert attrs[0] == {"name": "CustomerId", "dataFormat": "Guid", "purpose": "identifiedBy"}
    assert attrs[2] == {"name": "Born", "dataFormat": "Date"}
