"""Publishing: readers see the previous snapshot or the new one, never half of one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custdim.errors import SourceError
from custdim.project import Project
from custdim.stages.publish import stage as publish


def manifest(project: Project) -> dict[str, object]:
    return json.loads(Path(project.lake.path("export", "export.manifest.cdm.json")).read_text())


def partitions(project: Project, doc: dict[str, object]) -> list[Path]:
    entities = doc["entities"]
    assert isinstance(entities, list)
    return [Path(project.lake.path("export", p["location"])) for e in entities for p in e["dataPartitions"]]


def test_a_run_that_dies_before_the_swap_leaves_the_last_export_intact(
    example_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    example_project.run()
    before = manifest(example_project)
    names_before = example_project.sql("SELECT FirstName FROM Customer ORDER BY 1").column(0).to_pylist()

    # The next run has new data, copies its partitions, then dies just before writing the manifest.
    contacts = example_project.config.root / "data" / "contacts.csv"
    contacts.write_text(contacts.read_text() + "C099,Newbie,Person,new@example.com,,Austin,73301\n")

    def crash(self: object) -> dict[str, object]:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(publish.Manifest, "to_json", crash)
    with pytest.raises(KeyboardInterrupt):
        example_project.run()
    assert manifest(example_project) == before
    assert all(p.exists() for p in partitions(example_project, before))
    assert example_project.sql("SELECT FirstName FROM Customer ORDER BY 1").column(0).to_pylist() == names_before
    assert example_project.runs(1)[0].status == "failed"

    monkeypatch.undo()
    example_project.run()
    assert "Newbie" in example_project.sql("SELECT FirstName FROM Customer").column(0).to_pylist()


def test_a_failed_ingest_does_not_touch_the_export(example_project: Project) -> None:
    example_project.run()
    before = manifest(example_project)
    (example_project.config.root / "data" / "orders.jsonl").write_text("")
    with pytest.raises(SourceError, match="is empty"):
        example_project.run()
    assert manifest(example_project) == before
    assert example_project.sql("SELECT count(*) FROM UnifiedActivity").column(0).to_pylist() == [4]


def test_old_snapshots_are_pruned_but_the_current_one_stays(example_project: Project) -> None:
    for _ in range(publish.KEEP_SNAPSHOTS + 2):
        example_project.run()
    snaps = sorted(p.name for p in Path(example_project.lake.path("export", "snapshots")).iterdir())
    assert len(snaps) == publish.KEEP_SNAPSHOTS
    current = manifest(example_project)
    assert all(p.exists() for p in partitions(example_project, current))
    assert example_project.runs(1)[0].run_id in snaps


def test_manifest_declares_relationships_and_guids(example_project: Project) -> None:
    example_project.run()
    doc = manifest(example_project)
    rels = doc["relationships"]
    assert isinstance(rels, list) and len(rels) == 11  # every per-customer entity, predictions included
    assert {r["toEntityAttribute"] for r in rels} == {"CustomerId"}
    snapshot = example_project.runs(1)[0].run_id
    schema = json.loads(
        Path(example_project.lake.path("export", "snapshots", snapshot, "Customer.cdm.json")).read_text()
    )
    attrs = {a["name"]: a for a in schema["definitions"][0]["hasAttributes"]}
    assert attrs["CustomerId"] == {"name": "CustomerId", "dataFormat": "Guid", "purpose": "identifiedBy"}
    assert example_project.views() == [
        "AlternateKey",
        "BrandAffinity",
        "BusinessMeasure",
        "ChurnPrediction",
        "ClvPrediction",
        "Customer",
        "CustomerMeasure",
        "CustomerProvenance",
        "IdChangeLog",
        "InterestAffinity",
        "MatchPairs",
        "ProductRecommendation",
        "SegmentHistory",
        "SegmentMembership",
        "UnifiedActivity",
        "dim_customer",
        "dim_date",
        "fact_activity",
    ]
