"""Probabilistic mode: unsupervised m/u weights and rules that require a match weight."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.errors import StageError
from custdim.project import Project
from custdim.stages.unify.model import MODEL_VERSION, MatchModel, load
from tests.unify.projects import entity_rows, make_project

if TYPE_CHECKING:
    from custdim.demo.runner import DemoResult


@pytest.mark.slow
def test_training_on_the_demo_learns_sensible_weights(demo_run: DemoResult) -> None:
    path, model = demo_run.project.train()
    data = json.loads(Path(path).read_text())
    assert data["version"] == MODEL_VERSION
    assert MatchModel.from_json(data).fields.keys() == model.fields.keys()
    for f in ("FirstName", "LastName", "Email", "Phone", "PostalCode"):
        fm = model.fields[f]
        assert fm.m[2] > 0.5, f  # matches mostly agree...
        assert fm.u[2] < 0.02, f  # ...strangers rarely do
        assert fm.weights()[2] > 5 > fm.weights()[0], f
    # An equal e-mail says more than an equal first name: names are shared by strangers, e-mails rarely.
    assert model.fields["Email"].weights()[2] > model.fields["FirstName"].weights()[2]
    assert 0 < model.prior < 0.01


def test_min_match_weight_vetoes_weak_pairs(tmp_path: Path) -> None:
    rows_a = "1,Ann,Lee,ann@x.com,617-555-0101,01000\n2,Bob,Ray,bob@x.com,617-555-0102,01000"
    rows_b = "1,Ann,Lee,ann@x.com,617-555-0101,01000\n2,Cy,Ro,cy@y.com,617-555-0199,01000"
    rule = "      - name: zip\n        conditions:\n          - {field: PostalCode}\n"
    loose = make_project(tmp_path / "loose", {"a": rows_a, "b": rows_b}, rule)
    loose.run()
    assert len(entity_rows(loose, "MatchPairs")) == 4  # both b-records pair with both a-records on 01000

    strict = make_project(tmp_path / "strict", {"a": rows_a, "b": rows_b}, rule + "        min_match_weight: 0\n")
    with pytest.raises(StageError, match="run `custdim unify train`"):
        strict.run()
    strict.run(stage="map")
    strict.train()
    model = load(strict.lake)
    assert model is not None
    strict.run()
    pairs = entity_rows(strict, "MatchPairs")
    # Only Ann (same name, email, phone) clears the weight; Cy only shares the postcode.
    assert [(p["LeftSourceKey"], p["RightSourceKey"]) for p in pairs] == [("1", "1")]
    assert '"match_weight": ' in str(pairs[0]["ConditionScores"])


def test_train_command(example_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["unify", "train", "-p", str(example_dir)])
    assert result.exit_code == 1 and "no mapped records yet" in result.output
    assert runner.invoke(app, ["run", "-p", str(example_dir)]).exit_code == 0
    result = runner.invoke(app, ["unify", "train", "-p", str(example_dir)])
    assert result.exit_code == 0, result.output
    assert "match weights" in result.output and "Email" in result.output
    assert load(Project.load(example_dir).lake) is not None
