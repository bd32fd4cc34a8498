"""The table contracts agree with what the stages actually write, read and publish."""

from __future__ import annotations

import ast
import inspect
import posixpath
from types import SimpleNamespace
from typing import Any

from custdim import contracts
from custdim.contracts import (
    ACTIVITY_ENTITIES,
    EXPLAIN_ENTITIES,
    EXPORT_ENTITIES,
    EXPORT_MANIFEST,
    ID_HISTORY_ENTITIES,
    INSIGHT_ENTITIES,
    PREDICTION_ENTITIES,
    RAW_MANIFEST,
    UNIFY_ENTITIES,
)
from custdim.lake.cdm import Manifest
from custdim.project import Project
from custdim.stages.context import StageSpec
from custdim.stages.publish import stage as publish
from custdim.stages.registry import STAGES, stage


def ancestors(spec: StageSpec) -> set[str]:
    """Every stage ``spec`` depends on, directly or through another stage."""
    seen: set[str] = set()
    todo = list(spec.requires)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(stage(name).requires)
    return seen


def producers(project: Project) -> dict[str, str]:
    """Each output path of the pipeline and the one stage that writes it."""
    ctx: Any = SimpleNamespace(config=project.config, lake=project.lake)
    out: dict[str, str] = {}
    for spec in STAGES:
        for path in spec.outputs(ctx):
            assert path not in out, f"{path} is written by both {out[path]} and {spec.name}"
            out[path] = spec.name
    return out


def contract_names_imported(spec: StageSpec) -> set[str]:
    """The names a stage's module imports from the contracts module."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(spec.run)))
    return {
        a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "custdim.contracts"
        for a in node.names
    }


def test_publish_exports_exactly_what_unify_activities_measures_and_segments_write(example_project: Project) -> None:
    lake = example_project.lake
    written = producers(example_project)
    assert len(set(EXPORT_ENTITIES)) == len(EXPORT_ENTITIES)
    assert sorted(EXPORT_ENTITIES) == sorted(
        UNIFY_ENTITIES + ACTIVITY_ENTITIES + INSIGHT_ENTITIES + PREDICTION_ENTITIES
    )
    assert {written[lake.entity(n)] for n in UNIFY_ENTITIES} == {"merge"}
    assert {written[lake.entity(n)] for n in ACTIVITY_ENTITIES} == {"activities"}
    assert [written[lake.entity(n)] for n in INSIGHT_ENTITIES] == ["measures", "measures", "segments", "segments"]
    assert {written[lake.entity(n)] for n in PREDICTION_ENTITIES} == {"predictions"}
    # publish copies every entity only after the stage writing it ran, and describes each one in the manifest.
    assert {"merge", "activities", "measures", "predictions", "segments"} <= ancestors(stage("publish"))
    assert set(publish.DESCRIPTIONS) == set(EXPORT_ENTITIES)
    # What explain and the next run's merge read back from the export is part of it.
    assert set(EXPLAIN_ENTITIES) <= set(EXPORT_ENTITIES)
    assert set(ID_HISTORY_ENTITIES) <= set(EXPORT_ENTITIES)


def test_every_stage_reading_a_hand_over_table_depends_on_the_stage_writing_it(example_project: Project) -> None:
    lake = example_project.lake
    written = producers(example_project)
    checked = 0
    for spec in STAGES:
        for name in contract_names_imported(spec):
            value = getattr(contracts, name)
            path = lake.entity(value) if isinstance(value, str) else lake.work_table(*value)
            writer = written.get(path)
            if writer is None or writer == spec.name:
                continue  # a scratch table, a group of names, or the stage's own output
            assert writer in ancestors(spec), f"{spec.name} reads {name}, written by {writer}, without depending on it"
            checked += 1
    assert checked >= 5  # match, cluster and merge read RECORDS; cluster and merge read PAIRS; ...


def test_manifest_names_are_the_ones_the_cdm_documents_carry(example_project: Project) -> None:
    assert Manifest("export", []).file_name == EXPORT_MANIFEST
    assert Manifest("raw", []).file_name == RAW_MANIFEST
    assert posixpath.basename(example_project.lake.export_manifest()) == EXPORT_MANIFEST
