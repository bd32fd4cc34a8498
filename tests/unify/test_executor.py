"""The step executor: steps live in the engine, --keep-steps writes them, and moving to it changed no profile."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custdim.demo.generate import generate
from custdim.demo.project_file import write_project_file
from custdim.engines.base import Engine
from custdim.project import Project
from tests.conftest import write_example

# AlternateKey of the demo retailer (400 people, seed 11) as unify produced it before the executor: every
# (source, table, key) -> CustomerId line, sorted, hashed. Computed on the commit before the change.
GOLDEN_ROWS = 698
GOLDEN_SHA256 = "1b763a626e3345994a1dc4adadb02da009d3d86f87a01af0215e6a0c46ec6062"


def test_steps_are_computed_once_kept_and_released(engine: Engine) -> None:
    t = engine.from_arrow(pa.table({"a": [1, 2, 3, 4]}))
    engine.keep_steps = engine.lake.path("work", "run-1", "steps")
    step = engine.materialize("match/d000_000/candidates", t.filter(t.a > 1))
    again = engine.materialize("match/d000_000/candidates", step.mutate(b=step.a * 2))
    assert engine.count(step) == 3
    assert sorted(engine.to_arrow(again)["b"].to_pylist()) == [4, 6, 8]
    kept = Path(engine.lake.path("work", "run-1", "steps", "match", "d000_000"))
    assert sorted(p.name for p in kept.iterdir()) == ["candidates", "candidates-1"]
    assert sum(pq.read_table(f).num_rows for f in (kept / "candidates").glob("*.parquet")) == 3
    engine.release_steps()
    assert engine._steps == []


def test_keep_steps_writes_every_step_of_a_run(tmp_path: Path) -> None:
    project = Project.load(write_example(tmp_path / "project"))
    report = project.run(keep_steps=True)
    steps = Path(project.lake.path("work", report.run_id, "steps"))
    assert (steps / "match" / "normalized").is_dir()
    # The example has no dedupe rules and two match rules: one fused match step, whatever the number of rules.
    assert {p.name for p in (steps / "match").iterdir()} == {"normalized", "match"}
    for name in ("block_sizes", "candidates", "scores", "verdicts", "scored"):
        assert list((steps / "match" / "match" / name).glob("*.parquet")), name
    assert any("every step is kept" in note for note in report.notes)
    # Without the switch nothing is kept.
    plain = project.run()
    assert not Path(project.lake.path("work", plain.run_id)).exists()


def alternate_key_fingerprint(project: Project) -> tuple[int, str]:
    rows = project.sql("SELECT SourceName, TableName, SourceKey, CustomerId FROM AlternateKey").to_pylist()
    lines = sorted(f"{r['SourceName']}|{r['TableName']}|{r['SourceKey']}|{r['CustomerId']}" for r in rows)
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_the_executor_changed_no_profile_or_id(tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> None:
    if engine == "spark":
        request.getfixturevalue("spark_session")
    generate(tmp_path, customers=400, seed=11)
    write_project_file(tmp_path, engine)
    text = (tmp_path / "custdim.yaml").read_text()
    # The guards added with the executor switched off: what is compared is the executor alone.
    (tmp_path / "custdim.yaml").write_text(
        text.replace("\nunify:\n", "\nunify:\n  conflicts: []\n  max_frequency: {}\n", 1)
    )
    project = Project.load(tmp_path)
    assert project.config.unify.conflicts == []
    assert project.config.unify.frequency_caps() == {}
    project.run()
    assert alternate_key_fingerprint(project) == (GOLDEN_ROWS, GOLDEN_SHA256)
