"""`custdim unify explain | explain-blocking | diff` and `custdim map suggest` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.project import Project

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_explain_shows_records_pairs_and_provenance(example_dir: Path) -> None:
    assert invoke("run", "-p", str(example_dir))[0] == 0
    project = Project.load(example_dir)
    [cid] = project.sql("SELECT CustomerId FROM Customer WHERE FirstName = 'José'").column(0).to_pylist()
    code, out = invoke("unify", "explain", cid, "-p", str(example_dir))
    assert code == 0, out
    assert "2 source records" in out
    assert "same-email" not in out  # José's records were joined by name and postcode, not e-mail
    assert "same-name-and-zip" in out and "crm.contacts:C001" in out
    code, out = invoke("unify", "explain", "00000000-0000-3000-8000-000000000000", "-p", str(example_dir))
    assert code == 1 and "no profile with CustomerId" in out
    # The id is a value compared in the query, never SQL: a quote cannot widen the lookup.
    code, out = invoke("unify", "explain", "x' OR '1'='1", "-p", str(example_dir))
    assert code == 1 and "no profile with CustomerId" in out


def test_explain_blocking_before_and_after_a_run(example_dir: Path) -> None:
    code, out = invoke("unify", "explain-blocking", "-p", str(example_dir))
    assert code == 0 and "match:same-name-and-zip" in out and "join on LastName + FirstName + PostalCode" in out
    assert "last run" not in out
    invoke("run", "-p", str(example_dir))
    code, out = invoke("unify", "explain-blocking", "-p", str(example_dir))
    assert code == 0 and "last run: 1 candidate pairs -> 1 pairs" in out


def test_diff_previews_a_merge_without_publishing(example_dir: Path) -> None:
    code, out = invoke("unify", "diff", "-p", str(example_dir))
    assert code == 1 and "nothing is published yet" in out
    invoke("run", "-p", str(example_dir))
    project = Project.load(example_dir)
    manifest = Path(project.lake.path("export", "export.manifest.cdm.json")).read_text()
    code, out = invoke("unify", "diff", "-p", str(example_dir))
    assert code == 0 and "no CustomerId would change" in out
    # A first rule on postcode alone: José (crm C001) and Bob (crm C003) share 02134, so their profiles merge.
    yaml = (
        (example_dir / "custdim.yaml")
        .read_text()
        .replace(
            "    rules:\n", "    rules:\n      - name: same-zip\n        conditions:\n          - {field: PostalCode}\n"
        )
    )
    (example_dir / "custdim.yaml").write_text(yaml)
    records = {p.name: p.read_text() for p in Path(project.lake.state("map")).parent.iterdir()}
    reports = sorted(p.name for p in Path(project.lake.path("_runs")).glob("*.json"))
    code, out = invoke("unify", "diff", "-p", str(example_dir))
    assert code == 0, out
    assert "1 merged" in out
    assert Path(project.lake.path("export", "export.manifest.cdm.json")).read_text() == manifest
    assert not Path(project.lake.path("_preview")).exists()
    # A preview is no run: the last run's stage records and the run history stay as they were.
    assert {p.name: p.read_text() for p in Path(project.lake.state("map")).parent.iterdir()} == records
    assert sorted(p.name for p in Path(project.lake.path("_runs")).glob("*.json")) == reports


def test_map_suggest_prints_pasteable_yaml(example_dir: Path) -> None:
    code, out = invoke("map", "suggest", "crm.contacts", "-p", str(example_dir))
    assert code == 0, out
    assert "- table: crm.contacts" in out
    assert "email: Identity.Service.Email" in out and "zip: Location.PostalCode" in out
    code, out = invoke("map", "suggest", "crm.nope", "-p", str(example_dir))
    assert code == 1 and "unknown table 'crm.nope'" in out
