"""CDM folders for the `type: cdm` source tests, written the way their producers write them.

``write_sdk_folder`` lets Microsoft's official CDM SDK write the manifest and the entity schema documents (so the
JSON is the SDK's, not ours); the partitions beside them are written here, byte for byte.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from cdm.enums import CdmDataFormat, CdmObjectType, CdmStatusLevel
from cdm.objectmodel import CdmCorpusDefinition, CdmManifestDefinition
from cdm.storage import CdmStandardsAdapter, LocalAdapter

CONTACT_ATTRIBUTES = [
    ("ContactId", CdmDataFormat.GUID),
    ("FullName", CdmDataFormat.STRING),
    ("Age", CdmDataFormat.INT32),
    ("Visits", CdmDataFormat.INT64),
    ("Score", CdmDataFormat.DECIMAL),  # shaped decimal(10,2) below
    ("Balance", CdmDataFormat.DECIMAL),  # no precision given: decimal(38,10)
    ("Born", CdmDataFormat.DATE),
    ("SeenAt", CdmDataFormat.DATE_TIME_OFFSET),
    ("Active", CdmDataFormat.BOOLEAN),
    ("Rating", CdmDataFormat.DOUBLE),
    ("WakesAt", CdmDataFormat.TIME),
]
ORDER_ATTRIBUTES = [
    ("OrderId", CdmDataFormat.STRING),
    ("ContactId", CdmDataFormat.GUID),
    ("Amount", CdmDataFormat.DOUBLE),
    ("OrderedOn", CdmDataFormat.DATE),
]

# Header row, ';' between values and "'" around them: a value may hold both, the quote doubled.
CONTACTS_CSV = (
    "ContactId;FullName;Age;Visits;Score;Balance;Born;SeenAt;Active;Rating;WakesAt\n"
    "c-001;'O''Brien; Pat';41;9000000000;12.50;1234567.0123456789;1984-02-29;2026-03-01T10:00:00+02:00;true;4.5;"
    "06:30:00\n"
    "c-002;Ann Lee;;1;0.10;-5;1990-12-31;2026-03-02T00:00:00Z;false;3;\n"
)
CONTACTS_PARQUET = pa.table(
    {
        "ContactId": pa.array(["c-003"], pa.string()),
        "FullName": pa.array(["Zoë Ng"], pa.string()),
        "Age": pa.array([29], pa.int32()),
        "Visits": pa.array([7], pa.int64()),
        "Score": pa.array([Decimal("99.99")], pa.decimal128(10, 2)),
        "Balance": pa.array([Decimal("0.5")], pa.decimal128(12, 4)),
        "Born": pa.array([date(1997, 7, 1)], pa.date32()),
        "SeenAt": pa.array([datetime(2026, 3, 3, 12, 0, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        "Active": pa.array([True], pa.bool_()),
        # Rating is left out: an older partition without a newer attribute lands it as null.
        "WakesAt": pa.array(["07:00:00"], pa.string()),
    }
)
# Header-less, '|' between values; only the files under a year folder match the pattern.
ORDER_FILES = {
    "Order/2025/orders-1.csv": "o-1|c-001|10.5|2025-12-30\n",
    "Order/2026/orders-1.csv": "o-2|c-002|20|2026-01-02\no-3|c-001|7.25|2026-01-03\n",
    "Order/2026/orders-10.csv": "o-4|c-003|1|2026-02-01\n",
    "Order/2026/notes.txt": "not a partition\n",
    "Order/orders-9.csv": "not|a|partition|either\n",
}
ORDER_REGEX = r"/(\d{4})/orders-(\d+)\.csv"


def write_sdk_folder(root: Path) -> Path:
    """A CDM folder at ``root`` whose metadata the official SDK writes; returns the manifest's path."""
    (root / "Contact").mkdir(parents=True)
    (root / "Contact" / "part-1.csv").write_text(CONTACTS_CSV, encoding="utf-8")
    pq.write_table(CONTACTS_PARQUET, root / "Contact" / "part-2.parquet")
    for name, text in ORDER_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    asyncio.run(_write_metadata(root))
    return root / "crm.manifest.cdm.json"


async def _write_metadata(root: Path) -> None:
    events: list[str] = []
    corpus = CdmCorpusDefinition()
    corpus.set_event_callback(lambda level, message: events.append(f"{level}: {message}"), CdmStatusLevel.WARNING)
    corpus.storage.mount("local", LocalAdapter(root=str(root)))
    corpus.storage.mount("cdm", CdmStandardsAdapter())
    corpus.storage.default_namespace = "local"
    folder = corpus.storage.fetch_root_folder("local")
    manifest: CdmManifestDefinition = corpus.make_object(CdmObjectType.MANIFEST_DEF, "crm")
    manifest.imports.append("cdm:/foundations.cdm.json")
    folder.documents.append(manifest, "crm.manifest.cdm.json")

    contact = _entity(corpus, folder, "Contact", CONTACT_ATTRIBUTES)
    score = next(a for a in contact.attributes if a.name == "Score")
    shaped = score.applied_traits.append("is.dataFormat.numeric.shaped")
    shaped.arguments.append("precision", "10")
    shaped.arguments.append("scale", "2")
    decl = manifest.entities.append(contact)
    csv = _trait(corpus, "is.partition.format.CSV", columnHeaders="true", delimiter=";", quote="'", escape="'")
    _partition(corpus, decl, "Contact/part-1.csv", csv)
    _partition(corpus, decl, "Contact/part-2.parquet", _trait(corpus, "is.partition.format.parquet"))

    order = _entity(corpus, folder, "Order", ORDER_ATTRIBUTES)
    decl = manifest.entities.append(order)
    pattern = corpus.make_object(CdmObjectType.DATA_PARTITION_PATTERN_DEF, "OrdersByYear")
    pattern.root_location = "Order"
    pattern.regular_expression = ORDER_REGEX
    pattern.parameters = ["year", "sequence"]
    pattern.exhibits_traits.append(_trait(corpus, "is.partition.format.CSV", columnHeaders="false", delimiter="|"))
    decl.data_partition_patterns.append(pattern)

    for doc in ("Contact.cdm.json", "Order.cdm.json"):
        await folder.documents.item(doc).save_as_async(doc)
    await manifest.save_as_async("crm.manifest.cdm.json")
    assert not events, events


def _entity(corpus: CdmCorpusDefinition, folder: Any, name: str, attributes: list[tuple[str, CdmDataFormat]]) -> Any:
    doc = folder.documents.append(f"{name}.cdm.json")
    doc.imports.append("cdm:/foundations.cdm.json")
    entity = doc.definitions.append(name, CdmObjectType.ENTITY_DEF)
    for attr, fmt in attributes:
        a = corpus.make_object(CdmObjectType.TYPE_ATTRIBUTE_DEF, attr, False)
        a.data_format = fmt
        entity.attributes.append(a)
    return entity


def _trait(corpus: CdmCorpusDefinition, name: str, **arguments: str) -> Any:
    trait = corpus.make_object(CdmObjectType.TRAIT_REF, name, False)
    for key, value in arguments.items():
        trait.arguments.append(key, value)
    return trait


def _partition(corpus: CdmCorpusDefinition, decl: Any, location: str, trait: Any) -> None:
    partition = corpus.make_object(CdmObjectType.DATA_PARTITION_DEF, location.rsplit("/", 1)[-1])
    partition.location = location
    partition.exhibits_traits.append(trait)
    decl.data_partitions.append(partition)


def write_model_json_folder(root: Path, entities: list[dict[str, Any]], files: dict[str, str], lake_url: str) -> Path:
    """A folder as Customer Insights exports it: model.json naming header-less CSV partitions by their URL on the
    lake it wrote to (``lake_url``), here a local copy of that folder.

    ``entities``: {"name", "attributes": [(name, dataType)], "partitions": [file under root]}.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    doc = {
        "name": "CustomerInsights",
        "description": "Customer Insights export",
        "version": "1.0",
        "modifiedTime": "2026-03-01T00:00:00Z",
        "entities": [
            {
                "$type": "LocalEntity",
                "name": e["name"],
                "attributes": [{"name": n, "dataType": t} for n, t in e["attributes"]],
                "partitions": [
                    {
                        "name": f"{e['name']}-{i}",
                        "location": f"{lake_url}/{p}",
                        "fileFormatSettings": {
                            "$type": "CsvFormatSettings",
                            "columnHeaders": False,
                            "delimiter": ",",
                            "quoteStyle": "QuoteStyle.Csv",
                            "csvStyle": "CsvStyle.QuoteAlways",
                        },
                    }
                    for i, p in enumerate(e["partitions"])
                ],
            }
            for e in entities
        ],
        "relationships": [],
    }
    (root / "model.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return root / "model.json"
