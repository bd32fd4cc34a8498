"""Common Data Model metadata as plain dataclasses <-> JSON (manifest and entity schema documents).

We write the JSON ourselves (the official SDK is unmaintained and only used in tests to validate the output).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

FOUNDATIONS = [{"corpusPath": "cdm:/foundations.cdm.json"}]
SCHEMA_VERSION = "1.0.0"
CSV_SETTINGS = {
    "columnHeaders": "true",
    "delimiter": ",",
    "quoteStyle": "QuoteStyle.Csv",
    "csvStyle": "CsvStyle.QuoteAfterDelimiter",
    "encoding": "UTF-8",
}
"""How custdim writes CSV partitions (a header row, RFC 4180 quoting), in the CDM trait's argument vocabulary."""
MODEL_JSON_TYPES = {
    "String": "string",
    "Guid": "guid",
    "Boolean": "boolean",
    "Byte": "int64",
    "Int16": "int64",
    "Int32": "int64",
    "Int64": "int64",
    "Float": "double",
    "Double": "double",
    "Decimal": "decimal",
    "Date": "date",
    "Time": "time",
    "DateTime": "dateTime",
    "DateTimeOffset": "dateTimeOffset",
    "Json": "json",
}
"""CDM dataFormat -> the legacy model.json dataType."""


def cdm_data_format(dtype: pa.DataType) -> str:
    """Map an Arrow type to the CDM dataFormat vocabulary."""
    checks: list[tuple[Any, str]] = [
        (pa.types.is_boolean, "Boolean"),
        (pa.types.is_int8, "Byte"),
        (pa.types.is_int16, "Int16"),
        (pa.types.is_int32, "Int32"),
        (pa.types.is_int64, "Int64"),
        (pa.types.is_unsigned_integer, "Int64"),
        (pa.types.is_float32, "Float"),
        (pa.types.is_floating, "Double"),
        (pa.types.is_decimal, "Decimal"),
        (pa.types.is_date, "Date"),
        (pa.types.is_time, "Time"),
        (pa.types.is_binary, "Binary"),
        (pa.types.is_large_binary, "Binary"),
        (pa.types.is_string, "String"),
        (pa.types.is_large_string, "String"),
    ]
    if pa.types.is_timestamp(dtype):
        return "DateTimeOffset" if dtype.tz else "DateTime"
    for check, name in checks:
        if check(dtype):
            return name
    # Lists, structs and maps travel as JSON in CDM terms.
    return "Json"


@dataclass
class Attribute:
    name: str
    data_format: str
    purpose: str | None = None
    description: str | None = None
    traits: list[str] = field(default_factory=list)  # semantic traits, e.g. means.identity.service.email

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dataFormat": self.data_format}
        if self.purpose:
            out["purpose"] = self.purpose
        if self.description:
            out["description"] = self.description
        if self.traits:
            out["appliedTraits"] = list(self.traits)
        return out


@dataclass
class Entity:
    """An entity schema document ``<Name>.cdm.json`` plus where its Parquet partitions live."""

    name: str
    attributes: list[Attribute]
    partitions: list[str] = field(default_factory=list)  # locations relative to the manifest's folder
    schema_folder: str = ""  # folder of <Name>.cdm.json relative to the manifest's folder
    description: str | None = None
    partition_format: str = "parquet"  # parquet or csv (CSV_SETTINGS)

    @classmethod
    def from_arrow(
        cls,
        name: str,
        schema: pa.Schema,
        key: str | None = None,
        description: str | None = None,
        guids: frozenset[str] = frozenset(),
        traits: dict[str, str] | None = None,
        notes: dict[str, str] | None = None,
    ) -> Entity:
        """An entity from an Arrow schema; ``guids`` names the text columns that hold GUIDs, ``traits`` a column's
        semantic trait and ``notes`` a column's description."""
        attrs = [
            Attribute(
                f.name,
                "Guid" if f.name in guids else cdm_data_format(f.type),
                purpose="identifiedBy" if f.name == key else None,
                description=(notes or {}).get(f.name),
                traits=[(traits or {})[f.name]] if f.name in (traits or {}) else [],
            )
            for f in schema
        ]
        return cls(name=name, attributes=attrs, description=description)

    @property
    def document_name(self) -> str:
        return f"{self.name}.cdm.json"

    @property
    def entity_path(self) -> str:
        return posixpath.join(self.schema_folder, f"{self.document_name}/{self.name}")

    def schema_json(self) -> dict[str, Any]:
        definition: dict[str, Any] = {
            "entityName": self.name,
            "hasAttributes": [a.to_json() for a in self.attributes],
        }
        if self.description:
            definition["description"] = self.description
        return {"jsonSchemaSemanticVersion": SCHEMA_VERSION, "imports": FOUNDATIONS, "definitions": [definition]}

    def declaration_json(self) -> dict[str, Any]:
        return {
            "type": "LocalEntity",
            "entityName": self.name,
            "entityPath": self.entity_path,
            "dataPartitions": [
                {"location": loc, "exhibitsTraits": [self.partition_trait()]} for loc in self.partitions
            ],
        }

    def partition_trait(self) -> dict[str, Any]:
        """The trait that tells readers how to parse a partition."""
        if self.partition_format == "csv":
            args = [{"name": k, "value": v} for k, v in CSV_SETTINGS.items()]
            return {"traitReference": "is.partition.format.CSV", "arguments": args}
        return {"traitReference": "is.partition.format.parquet"}


@dataclass
class Relationship:
    from_entity: str
    from_attribute: str
    to_entity: str
    to_attribute: str

    def to_json(self) -> dict[str, str]:
        return {
            "fromEntity": f"{self.from_entity}.cdm.json/{self.from_entity}",
            "fromEntityAttribute": self.from_attribute,
            "toEntity": f"{self.to_entity}.cdm.json/{self.to_entity}",
            "toEntityAttribute": self.to_attribute,
        }


@dataclass
class Manifest:
    name: str
    entities: list[Entity]
    relationships: list[Relationship] = field(default_factory=list)

    @property
    def file_name(self) -> str:
        return f"{self.name}.manifest.cdm.json"

    def to_json(self) -> dict[str, Any]:
        rels = []
        for r in self.relationships:
            d = r.to_json()
            # Relationship entity paths follow where the entity documents actually are.
            by_name = {e.name: e for e in self.entities}
            d["fromEntity"] = by_name[r.from_entity].entity_path
            d["toEntity"] = by_name[r.to_entity].entity_path
            rels.append(d)
        return {
            "jsonSchemaSemanticVersion": SCHEMA_VERSION,
            "imports": FOUNDATIONS,
            "manifestName": self.name,
            "lastFileModifiedTime": datetime.now(UTC).isoformat(),
            "entities": [e.declaration_json() for e in self.entities],
            "relationships": rels,
        }


def manifest_from_json(data: dict[str, Any]) -> tuple[str, list[tuple[str, str, list[str]]]]:
    """(manifest name, [(entity name, entity path, partition locations)]) from a manifest document."""
    entities = [
        (e["entityName"], e["entityPath"], [p["location"] for p in e.get("dataPartitions", [])])
        for e in data.get("entities", [])
    ]
    return data.get("manifestName", ""), entities


def model_json(manifest: Manifest, location: str) -> dict[str, Any]:
    """The same export in the legacy model.json format, for tools that read only that.

    model.json has no relative paths: partition locations are absolute, under ``location`` (the export folder as
    readers address it: a local path, or an https URL on a cloud lake).
    """
    entities = []
    for e in manifest.entities:
        partitions = []
        for i, loc in enumerate(e.partitions):
            part: dict[str, Any] = {"name": f"{e.name}-part-{i:05d}", "location": posixpath.join(location, loc)}
            if e.partition_format == "csv":
                part["fileFormatSettings"] = {
                    "$type": "CsvFormatSettings",
                    "columnHeaders": True,
                    "delimiter": CSV_SETTINGS["delimiter"],
                    "quoteStyle": CSV_SETTINGS["quoteStyle"],
                    "csvStyle": CSV_SETTINGS["csvStyle"],
                    "encoding": CSV_SETTINGS["encoding"],
                }
            partitions.append(part)
        entity: dict[str, Any] = {
            "$type": "LocalEntity",
            "name": e.name,
            "attributes": [
                {"name": a.name, "dataType": MODEL_JSON_TYPES.get(a.data_format, "string")} for a in e.attributes
            ],
            "partitions": partitions,
        }
        if e.description:
            entity["description"] = e.description
        entities.append(entity)
    relationships = [
        {
            "$type": "SingleKeyRelationship",
            "fromAttribute": {"entityName": r.from_entity, "attributeName": r.from_attribute},
            "toAttribute": {"entityName": r.to_entity, "attributeName": r.to_attribute},
        }
        for r in manifest.relationships
    ]
    return {
        "name": manifest.name,
        "description": "custdim export (the same entities as the CDM manifest beside it)",
        "version": "1.0",
        "modifiedTime": datetime.now(UTC).isoformat(),
        "entities": entities,
        "relationships": relationships,
    }
