"""The published CDM folders, read back with Microsoft's official CDM SDK.

The writer (custdim.lake.cdm) emits the JSON by hand; these tests make the SDK load the export and raw manifests,
resolve every entity against cdm:/foundations.cdm.json and check that what it sees matches the Parquet partitions.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from tests.publish.cdm_sdk import SdkManifest, expected_data_format, load_manifest

if TYPE_CHECKING:
    from custdim.demo.runner import DemoResult

pytestmark = pytest.mark.slow

EXPORT_ENTITIES = [
    "Customer",
    "AlternateKey",
    "MatchPairs",
    "UnifiedActivity",
    "CustomerProvenance",
    "IdChangeLog",
    "CustomerMeasure",
    "BusinessMeasure",
    "SegmentMembership",
    "SegmentHistory",
    "ClvPrediction",
    "ChurnPrediction",
    "BrandAffinity",
    "InterestAffinity",
    "ProductRecommendation",
]
# Columns declared Guid (stored as text) wherever they appear, so both ends of a relationship agree.
GUID_COLUMNS = {"CustomerId", "ActivityId"}
PARQUET_TRAIT = "is.partition.format.parquet"


@pytest.fixture(scope="module")
def export_folder(demo_run: DemoResult) -> Path:
    return Path(demo_run.project.lake.path("export"))


@pytest.fixture(scope="module")
def export_manifest(export_folder: Path) -> SdkManifest:
    return load_manifest(export_folder, "export.manifest.cdm.json")


@pytest.fixture(scope="module")
def raw_folder(demo_run: DemoResult) -> Path:
    return Path(demo_run.project.lake.path("raw"))


@pytest.fixture(scope="module")
def raw_manifest(raw_folder: Path) -> SdkManifest:
    return load_manifest(raw_folder, "raw.manifest.cdm.json")


def assert_no_sdk_errors(manifest: SdkManifest) -> None:
    assert not manifest.errors, f"the CDM SDK reported errors:\n{manifest.report()}"


def assert_partitions_exist(manifest: SdkManifest, folder: Path) -> dict[str, list[Path]]:
    """Every partition maps, through the SDK's storage layer, to a Parquet file inside ``folder``."""
    files: dict[str, list[Path]] = {}
    for entity in manifest.entities:
        assert entity.partitions, f"{entity.name} declares no data partitions"
        for p in entity.partitions:
            assert p.traits == [PARQUET_TRAIT], f"{entity.name} partition {p.location}: traits {p.traits}"
            assert not p.undefined_traits, f"{entity.name}: the SDK has no definition for {p.undefined_traits}"
            assert p.corpus_path.startswith("local:/"), p.corpus_path
            assert p.adapter_path is not None, f"the SDK could not map {p.corpus_path} to a file"
            path = Path(p.adapter_path)
            assert path.is_file(), f"{entity.name} partition {p.location} -> {path} does not exist"
            assert path.resolve().is_relative_to(folder.resolve()), f"{path} is outside {folder}"
            assert path.suffix == ".parquet", path
            assert p.last_file_modified_time is not None, f"file_status_check_async did not find {p.corpus_path}"
            files.setdefault(entity.name, []).append(path)
    return files


def assert_attributes_match_parquet(manifest: SdkManifest, files: dict[str, list[Path]]) -> None:
    """Resolved attribute names are the Parquet columns, in order, with the CDM formats of their Arrow types."""
    for entity in manifest.entities:
        assert entity.definition_name == entity.name, f"{entity.entity_path} resolved to {entity.definition_name}"
        schemas = [pq.read_schema(f) for f in files[entity.name]]
        assert all(s.equals(schemas[0]) for s in schemas), f"{entity.name}: partitions disagree on the schema"
        columns = [(f.name, expected_data_format(f.type)) for f in schemas[0]]
        guids = GUID_COLUMNS if manifest.name == "export" else set()
        expected = [(name, "Guid" if name in guids else fmt) for name, fmt in columns]
        assert entity.attributes == expected, f"{entity.name}: SDK attributes differ from the Parquet columns"


def parquet_rows(paths: list[Path]) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)


def test_export_manifest_loads_and_matches_partitions(
    demo_run: DemoResult, export_manifest: SdkManifest, export_folder: Path
) -> None:
    assert export_manifest.name == "export", export_manifest.report()
    assert_no_sdk_errors(export_manifest)
    assert [e.name for e in export_manifest.entities] == EXPORT_ENTITIES
    for entity in export_manifest.entities:
        assert entity.entity_path.startswith("local:/snapshots/"), entity.entity_path
        assert entity.entity_path.endswith(f"/{entity.name}.cdm.json/{entity.name}"), entity.entity_path
        assert entity.attributes, f"{entity.name} resolved with no attributes:\n{export_manifest.report()}"

    files = assert_partitions_exist(export_manifest, export_folder)
    assert_attributes_match_parquet(export_manifest, files)

    formats = {e.name: dict(e.attributes) for e in export_manifest.entities}
    assert formats["Customer"]["CustomerId"] == "Guid"
    assert formats["Customer"]["SourceRecordCount"] == "Int32"
    assert formats["UnifiedActivity"]["ActivityId"] == "Guid"
    assert formats["UnifiedActivity"]["ActivityTimeStamp"] == "DateTime"
    assert formats["UnifiedActivity"]["Amount"] == "Double"
    assert formats["MatchPairs"]["Score"] == "Double"

    # A Guid dataFormat is a promise about the values, not only the declaration.
    for name, key in [(n, c) for n in EXPORT_ENTITIES for c in sorted(GUID_COLUMNS) if c in formats[n]]:
        values = [v for f in files[name] for v in pq.read_table(f, columns=[key]).column(key).to_pylist()]
        bad = [v for v in values if v is None or str(uuid.UUID(v)) != v.lower()]
        assert not bad, f"{name}.{key} is declared Guid but holds {bad[:5]}"

    for name in EXPORT_ENTITIES:
        (count,) = demo_run.project.sql(f"SELECT count(*) AS n FROM {name}").column("n").to_pylist()
        assert parquet_rows(files[name]) == count, f"{name}: partitions hold a different row count than the view"
        assert count > 0, name


def test_export_relationships_resolve(export_manifest: SdkManifest) -> None:
    assert_no_sdk_errors(export_manifest)
    paths = {e.entity_path: e.name for e in export_manifest.entities}
    customer = export_manifest.entity("Customer").entity_path
    seen = []
    for rel in export_manifest.relationships:
        assert rel.from_entity in paths, f"relationship from {rel.from_entity}, which the manifest does not declare"
        assert rel.to_entity == customer, f"relationship to {rel.to_entity}, expected {customer}"
        assert (rel.from_attribute, rel.to_attribute) == ("CustomerId", "CustomerId"), rel
        assert rel.from_attribute_format == "Guid", (
            f"{rel.from_entity}.{rel.from_attribute}: {rel.from_attribute_format}"
        )
        assert rel.to_attribute_format == "Guid", f"{rel.to_entity}.{rel.to_attribute}: {rel.to_attribute_format}"
        seen.append(paths[rel.from_entity])
    assert sorted(seen) == [
        "AlternateKey",
        "BrandAffinity",
        "ChurnPrediction",
        "ClvPrediction",
        "CustomerMeasure",
        "CustomerProvenance",
        "InterestAffinity",
        "MatchPairs",
        "ProductRecommendation",
        "SegmentMembership",
        "UnifiedActivity",
    ]


def test_raw_manifest_loads_one_entity_per_source_table(
    demo_run: DemoResult, raw_manifest: SdkManifest, raw_folder: Path
) -> None:
    assert raw_manifest.name == "raw", raw_manifest.report()
    assert_no_sdk_errors(raw_manifest)
    tables = demo_run.project.config.table_names()
    assert [e.name for e in raw_manifest.entities] == [t.replace(".", "_") for t in tables]
    for entity, table in zip(raw_manifest.entities, tables, strict=True):
        source = table.split(".")[0]
        assert entity.entity_path == f"local:/{source}/{entity.name}.cdm.json/{entity.name}", entity.entity_path
        assert entity.attributes, f"{entity.name} resolved with no attributes:\n{raw_manifest.report()}"
    assert not raw_manifest.relationships

    files = assert_partitions_exist(raw_manifest, raw_folder)
    assert_attributes_match_parquet(raw_manifest, files)

    ingest = demo_run.report.stage("ingest")
    assert ingest is not None
    for entity, table in zip(raw_manifest.entities, tables, strict=True):
        assert parquet_rows(files[entity.name]) == ingest.rows_out[table], f"{table}: rows differ from the run report"


def test_model_json_loads_with_the_same_entities_partitions_and_relationships(
    export_folder: Path, export_manifest: SdkManifest
) -> None:
    """The legacy model.json beside the manifest: same entities, attributes and partition files, zero SDK errors."""
    legacy = load_manifest(export_folder, "model.json")
    assert_no_sdk_errors(legacy)
    assert [e.name for e in legacy.entities] == [e.name for e in export_manifest.entities]
    for old, new in zip(legacy.entities, export_manifest.entities, strict=True):
        assert [a for a, _ in old.attributes] == [a for a, _ in new.attributes], old.name
        found = sorted(Path(p.adapter_path or "").resolve() for p in old.partitions)
        expected = sorted(Path(p.adapter_path or "").resolve() for p in new.partitions)
        assert found == expected and all(f.is_file() for f in found), old.name
    assert len(legacy.relationships) == len(export_manifest.relationships)
    for rel in legacy.relationships:
        assert rel.to_entity.endswith("/Customer") and rel.from_attribute == rel.to_attribute == "CustomerId", rel
