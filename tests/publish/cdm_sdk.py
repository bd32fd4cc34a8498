"""Read a CDM folder with the official SDK (``commondatamodel-objectmodel``) into plain data for assertions.

The SDK never raises on bad metadata: it reports through an event callback. Everything it reports at WARNING or
above while loading is kept in ``SdkManifest.events`` so tests can assert there are no errors.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from cdm.enums import CdmStatusLevel
from cdm.objectmodel import CdmCorpusDefinition, CdmEntityDefinition, CdmTypeAttributeDefinition
from cdm.objectmodel.cdm_trait_def import CdmTraitDefinition
from cdm.storage import CdmStandardsAdapter, LocalAdapter
from cdm.utilities import ResolveOptions

NAMESPACE = "local"


@dataclass(frozen=True)
class SdkEvent:
    level: CdmStatusLevel
    message: str

    def __str__(self) -> str:
        return f"{self.level.name}: {self.message}"


@dataclass(frozen=True)
class SdkPartition:
    location: str  # as written in the manifest
    corpus_path: str  # absolute, e.g. local:/snapshots/<run>/Customer/part-00000.parquet
    adapter_path: str | None  # what the SDK's storage layer maps it to on disk
    traits: list[str]
    undefined_traits: list[str]  # trait references the SDK could not resolve to a definition
    last_file_modified_time: Any  # set by file_status_check_async when the SDK found the file


@dataclass(frozen=True)
class SdkEntity:
    name: str  # entityName in the manifest
    entity_path: str  # absolute corpus path
    definition_name: str | None  # entityName of the definition the SDK fetched (None: not found)
    attributes: list[tuple[str, str | None]]  # (name, dataFormat) of the resolved entity, in order
    partitions: list[SdkPartition]
    traits: dict[str, list[str]] = field(default_factory=dict)  # attribute -> traits of the resolved attribute


@dataclass(frozen=True)
class SdkRelationship:
    from_entity: str  # absolute corpus paths
    from_attribute: str
    to_entity: str
    to_attribute: str
    from_attribute_format: str | None  # dataFormat of the attribute in the resolved entity (None: not found)
    to_attribute_format: str | None


@dataclass
class SdkManifest:
    name: str | None = None
    entities: list[SdkEntity] = field(default_factory=list)
    relationships: list[SdkRelationship] = field(default_factory=list)
    events: list[SdkEvent] = field(default_factory=list)

    @property
    def errors(self) -> list[SdkEvent]:
        return [e for e in self.events if e.level.value >= CdmStatusLevel.ERROR.value]

    def report(self) -> str:
        """All SDK messages, one a line, for assertion messages."""
        return "\n".join(str(e) for e in self.events) or "(no SDK messages)"

    def entity(self, name: str) -> SdkEntity:
        return next(e for e in self.entities if e.name == name)


def load_manifest(folder: Path, manifest_file: str) -> SdkManifest:
    """Load ``folder/manifest_file`` with the SDK, check partition files, resolve entities and relationships."""
    out = SdkManifest()
    try:
        asyncio.run(_load(folder, manifest_file, out))
    except Exception as exc:  # the SDK mostly reports through events, but a few malformed paths make it raise
        out.events.append(SdkEvent(CdmStatusLevel.ERROR, f"the SDK raised {type(exc).__name__}: {exc}"))
    return out


def _corpus(folder: Path, events: list[SdkEvent]) -> CdmCorpusDefinition:
    corpus = CdmCorpusDefinition()
    corpus.set_event_callback(lambda level, message: events.append(SdkEvent(level, message)), CdmStatusLevel.WARNING)
    corpus.storage.mount(NAMESPACE, LocalAdapter(root=str(folder)))
    # cdm:/foundations.cdm.json and friends come from the commondatamodel-objectmodel-cdmstandards package.
    corpus.storage.mount("cdm", CdmStandardsAdapter())
    corpus.storage.default_namespace = NAMESPACE
    return corpus


def _format(attribute: object) -> str | None:
    if not isinstance(attribute, CdmTypeAttributeDefinition) or attribute.data_format is None:
        return None
    return str(attribute.data_format.value)


async def _resolved_attributes(entity: CdmEntityDefinition) -> list[tuple[str, str | None, list[str]]]:
    resolved = await entity.create_resolved_entity_async(f"{entity.entity_name}_SdkResolved")
    if resolved is None:
        return []
    return [(a.name, _format(a), [t.named_reference for t in a.applied_traits]) for a in resolved.attributes]


async def _load(folder: Path, manifest_file: str, out: SdkManifest) -> None:
    corpus = _corpus(folder, out.events)
    manifest = await corpus.fetch_object_async(f"{NAMESPACE}:/{manifest_file}")
    if manifest is None:
        return
    out.name = manifest.manifest_name
    await manifest.file_status_check_async()
    storage = corpus.storage
    resolved: dict[str, list[tuple[str, str | None, list[str]]]] = {}

    async def resolve(corpus_path: str) -> tuple[str | None, list[tuple[str, str | None, list[str]]]]:
        entity = await corpus.fetch_object_async(corpus_path, manifest)
        if not isinstance(entity, CdmEntityDefinition):
            return None, []
        if corpus_path not in resolved:
            resolved[corpus_path] = await _resolved_attributes(entity)
        return entity.entity_name, resolved[corpus_path]

    async def attributes_of(corpus_path: str) -> tuple[str | None, list[tuple[str, str | None]]]:
        name, attrs = await resolve(corpus_path)
        return name, [(a, f) for a, f, _ in attrs]

    for decl in manifest.entities:
        entity_path = storage.create_absolute_corpus_path(decl.entity_path, manifest)
        definition_name, attributes = await attributes_of(entity_path)
        attribute_traits = {a: t for a, _, t in (await resolve(entity_path))[1]}
        partitions = []
        for p in decl.data_partitions:
            corpus_path = storage.create_absolute_corpus_path(p.location, manifest)
            traits = [t.named_reference for t in p.exhibits_traits]
            undefined = [
                t.named_reference
                for t in p.exhibits_traits
                if not isinstance(t.fetch_object_definition(ResolveOptions(manifest)), CdmTraitDefinition)
            ]
            partitions.append(
                SdkPartition(
                    p.location,
                    corpus_path,
                    storage.corpus_path_to_adapter_path(corpus_path),
                    traits,
                    undefined,
                    p.last_file_modified_time,
                )
            )
        out.entities.append(
            SdkEntity(decl.entity_name, entity_path, definition_name, attributes, partitions, attribute_traits)
        )

    for rel in manifest.relationships:
        from_entity = storage.create_absolute_corpus_path(rel.from_entity, manifest)
        to_entity = storage.create_absolute_corpus_path(rel.to_entity, manifest)
        from_attrs = dict((await attributes_of(from_entity))[1])
        to_attrs = dict((await attributes_of(to_entity))[1])
        out.relationships.append(
            SdkRelationship(
                from_entity,
                rel.from_entity_attribute,
                to_entity,
                rel.to_entity_attribute,
                from_attrs.get(rel.from_entity_attribute),
                to_attrs.get(rel.to_entity_attribute),
            )
        )


def expected_data_format(dtype: pa.DataType) -> str:
    """The CDM dataFormat a Parquet column of this Arrow type should be declared with (independent of custdim)."""
    exact = {
        pa.bool_(): "Boolean",
        pa.int8(): "Byte",
        pa.int16(): "Int16",
        pa.int32(): "Int32",
        pa.int64(): "Int64",
        pa.float32(): "Float",
        pa.float64(): "Double",
        pa.string(): "String",
        pa.large_string(): "String",
        pa.date32(): "Date",
        pa.binary(): "Binary",
    }
    if dtype in exact:
        return exact[dtype]
    if pa.types.is_timestamp(dtype):
        return "DateTimeOffset" if dtype.tz else "DateTime"
    if pa.types.is_decimal(dtype):
        return "Decimal"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_struct(dtype):
        return "Json"  # CDM has no list type; nested values travel as JSON
    return f"<no CDM format known for {dtype}>"
