"""`custdim segment preview | overlap | differentiators | export` as a user runs them.

Exact expectations on the tiny shop of tests/insights/projects.py (A: Ann, Seattle, spent 160 in 4 orders and
visited the web shop; B: Bob, Portland, no email, spent 30 in 2 orders and visited; C: Cy, Boston, nothing), then the
commands on the generated demo.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.demo.runner import DemoResult
from custdim.project import Project
from tests.insights.projects import shop

runner = CliRunner()

SEGMENTS = """measures:
  - {template: total_transaction_value}
  - {template: transaction_count}
segments:
  - name: big-spender
    all: [{field: TotalTransactionValue, op: ">", value: 100}]
  - name: web
    all: [{activity: WebVisit, op: exists}]
  - name: buyers
    all: [{field: TransactionCount, op: ">", value: 0}]
"""


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def lake_files(project: Project) -> dict[str, tuple[int, int]]:
    """Every file under the lake with its size and modification time: what a read-only command must not change."""
    root = Path(project.lake.base)
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def shop_dir(tmp_path: Path) -> Path:
    shop(tmp_path, SEGMENTS)
    code, out = invoke("run", "-p", str(tmp_path))
    assert code == 0, out
    return tmp_path


def test_preview_follows_the_project_file_and_writes_nothing(shop_dir: Path) -> None:
    project = Project.load(shop_dir)
    before = lake_files(project)
    code, out = invoke("segment", "preview", "big-spender", "-p", str(shop_dir))
    assert code == 0, out
    assert "big-spender as of 2025-06-30 (configured (as_of)): 1 of 3 profiles (33.3%)" in out
    assert "published: 1 members (the same number)" in out
    assert "Ann" in out and "Bob" not in out and "Cy" not in out

    # Lower the threshold in the project file: the preview follows it, the published segment does not move.
    yaml = shop_dir / "custdim.yaml"
    yaml.write_text(yaml.read_text().replace("value: 100}", "value: 20}"))
    code, out = invoke("segment", "preview", "big-spender", "-p", str(shop_dir))
    assert code == 0, out
    assert "2 of 3 profiles" in out and "published: 1 members (+1 with the project file now)" in out
    assert "Ann" in out and "Bob" in out

    # A new segment that refers to a published one; its activity window counts back from as_of.
    yaml.write_text(
        yaml.read_text()
        + "  - name: recent-web-buyers\n    intersect: [segment:buyers]\n"
        + "    all: [{activity: WebVisit, within: 30d, op: exists}]\n"
    )
    code, out = invoke("segment", "preview", "recent-web-buyers", "-p", str(shop_dir), "--limit", "0")
    assert code == 0, out
    assert "1 of 3 profiles" in out and "not in the published export yet" in out and "Bob" not in out
    assert lake_files(project) == before
    assert project.sql("SELECT count(*) FROM SegmentMembership WHERE SegmentName = 'big-spender'")[0][0].as_py() == 1


def test_preview_errors_name_the_segment_or_field(shop_dir: Path) -> None:
    code, out = invoke("segment", "preview", "nope", "-p", str(shop_dir))
    assert code == 1 and "no segment 'nope'" in out and "valid names: big-spender, web, buyers" in out
    yaml = shop_dir / "custdim.yaml"
    yaml.write_text(yaml.read_text() + "  - name: typo\n    all: [{field: TotalSpent, op: '>', value: 1}]\n")
    code, out = invoke("segment", "preview", "typo", "-p", str(shop_dir))
    assert code == 3 and "segments[3].all[0].field" in out and "unknown field 'TotalSpent'" in out
    assert "TotalTransactionValue" in out  # the valid names are listed
    assert "Traceback" not in out
    # Other segments still preview: only the named one and what it refers to are compiled.
    assert invoke("segment", "preview", "web", "-p", str(shop_dir))[0] == 0


def test_overlap_matrix_of_two_and_three_segments(shop_dir: Path) -> None:
    project = Project.load(shop_dir)
    o = project.segment_overlap(["big-spender", "web", "buyers"])
    assert o.profiles == 3 and o.sizes == [1, 2, 2]
    assert o.matrix == [[1, 1, 1], [1, 2, 2], [1, 2, 2]] and o.common == 1
    code, out = invoke("segment", "overlap", "big-spender", "web", "-p", str(shop_dir))
    assert code == 0, out
    assert "big-spender (1)" in out and "web (2)" in out and "1 (100%)" in out and "1 (50%)" in out
    assert "in all three" not in out
    code, out = invoke("segment", "overlap", "web", "-p", str(shop_dir))
    assert code == 2 and "name two or three different segments" in out
    code, out = invoke("segment", "overlap", "web", "web", "-p", str(shop_dir))
    assert code == 2 and "name two or three different segments" in out


def test_segment_commands_on_unpublished_or_unknown_segments(shop_dir: Path) -> None:
    yaml = shop_dir / "custdim.yaml"
    yaml.write_text(yaml.read_text() + "  - name: fresh\n    all: [{field: City, op: '=', value: Boston}]\n")
    code, out = invoke("segment", "overlap", "web", "fresh", "-p", str(shop_dir))
    assert code == 1 and "'fresh' is in" in out and "not in the published export yet" in out
    assert "custdim segment preview fresh" in out
    # A name is compared as a value, never spliced into SQL.
    code, out = invoke("segment", "differentiators", "x' OR '1'='1", "-p", str(shop_dir))
    assert code == 1 and "no segment \"x' OR '1'='1\" in the published export" in out
    assert "valid names: big-spender, buyers, web" in out


def test_differentiators_score_is_total_variation_distance(shop_dir: Path) -> None:
    d = Project.load(shop_dir).segment_differentiators("buyers", top=50)
    assert (d.members, d.profiles) == (2, 3)
    by_field = {f.field: f for f in d.fields}
    # City: segment {Seattle 1/2, Portland 1/2}, everyone {Seattle, Portland, Boston 1/3 each}:
    # 1/2 * (1/6 + 1/6 + 1/3) = 1/3.
    assert by_field["City"].kind == "categorical" and by_field["City"].score == pytest.approx(1 / 3, abs=1e-4)
    # Spend 160, 30 and 0 fall in different decile bins: the same 1/3. Means: (160 + 30) / 2 and 190 / 3.
    spend = by_field["TotalTransactionValue"]
    assert spend.kind == "numeric" and spend.score == pytest.approx(1 / 3, abs=1e-4)
    assert spend.segment == "mean 95.00" and spend.population == "mean 63.33"
    # Birth dates: missing for C only, so the missing share is part of the picture; the mean is a date.
    born = by_field["BirthDate"]
    assert born.segment == "mean 1985-03-02, 0% missing" and born.population.endswith("33% missing")
    assert "CustomerId" not in by_field
    assert [f.score for f in d.fields] == sorted((f.score for f in d.fields), reverse=True)

    code, out = invoke("segment", "differentiators", "buyers", "-p", str(shop_dir), "--top", "2")
    assert code == 0, out
    assert "what sets buyers apart (2 of 3 profiles)" in out and "total variation distance" in out
    assert out.count("0.33") == 2


def test_export_csv_and_parquet(shop_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    out_dir = tmp_path_factory.mktemp("campaign")
    target = out_dir / "members.csv"
    target.write_text("an older export\n")
    code, out = invoke("segment", "export", "web", "--to", str(target), "-p", str(shop_dir))
    assert code == 0, out
    assert "wrote 2 members of web" in out
    with target.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["FirstName"] for r in rows) == ["Ann", "Bob"]
    assert "Emails" not in rows[0] and "CustomerId" in rows[0] and "City" in rows[0]  # scalar profile fields

    parquet = out_dir / "members.parquet"
    code, out = invoke(
        "segment",
        "export",
        "big-spender",
        "--to",
        str(parquet),
        "--fields",
        "CustomerId,TotalTransactionValue,Segments",
        "-p",
        str(shop_dir),
    )
    assert code == 0, out
    table = pq.read_table(parquet)
    assert table.column_names == ["CustomerId", "TotalTransactionValue", "Segments"]
    [row] = table.to_pylist()
    assert row["TotalTransactionValue"] == 160 and row["Segments"] == ["big-spender", "buyers", "web"]

    listed = out_dir / "lists.csv"
    assert (
        invoke("segment", "export", "big-spender", "--to", str(listed), "--fields", "Segments", "-p", str(shop_dir))[0]
        == 0
    )
    assert listed.read_text().splitlines() == ['"Segments"', '"big-spender; buyers; web"']
    assert sorted(os.listdir(out_dir)) == ["lists.csv", "members.csv", "members.parquet"]  # no temporary files


def test_export_refusals(shop_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    project = Project.load(shop_dir)
    before = lake_files(project)
    inside = Path(project.lake.base) / "members.csv"
    code, out = invoke("segment", "export", "web", "--to", str(inside), "-p", str(shop_dir))
    assert code == 2 and "is inside the lake" in out and not inside.exists()
    out_dir = tmp_path_factory.mktemp("refused")
    code, out = invoke("segment", "export", "web", "--to", str(out_dir / "m.xlsx"), "-p", str(shop_dir))
    assert code == 2 and "must end in .csv or .parquet" in out
    code, out = invoke(
        "segment", "export", "web", "--to", str(out_dir / "m.csv"), "--fields", "Email,Nope", "-p", str(shop_dir)
    )
    assert code == 2 and "unknown field 'Nope'" in out and "TotalTransactionValue" in out
    code, out = invoke("segment", "export", "web", "--to", str(out_dir / "no" / "m.csv"), "-p", str(shop_dir))
    assert code == 1 and "does not exist" in out
    assert os.listdir(out_dir) == [] and lake_files(project) == before


def test_segment_commands_before_anything_is_published(tmp_path: Path) -> None:
    shop(tmp_path, SEGMENTS)
    for args in (("preview", "web"), ("overlap", "web", "buyers"), ("differentiators", "web")):
        code, out = invoke("segment", *args, "-p", str(tmp_path))
        assert code == 1 and "nothing is published yet" in out, out


def test_segment_commands_on_the_demo(demo_run: DemoResult, tmp_path: Path) -> None:
    project_dir = str(demo_run.directory)
    project = Project.load(demo_run.directory)
    published = {
        r["SegmentName"]: r["n"]
        for r in project.sql("SELECT SegmentName, count(*) AS n FROM SegmentMembership GROUP BY 1").to_pylist()
    }
    preview = project.segment_preview("outdoor-fans")
    assert preview.members == preview.published == published["outdoor-fans"] and preview.sample.num_rows == 10

    d = project.segment_differentiators("outdoor-fans", top=3)
    # The segment is defined by the favourite category: it must be among the fields that set it apart.
    assert "FavouriteCategory" in [f.field for f in d.fields]
    assert {"FirstName", "Email"} <= set(d.skipped)

    o = project.segment_overlap(["high-value", "lapsed-high-value"])
    both = project.sql(
        "SELECT count(*) FROM SegmentMembership a JOIN SegmentMembership b USING (CustomerId) "
        "WHERE a.SegmentName = 'high-value' AND b.SegmentName = 'lapsed-high-value'"
    )[0][0].as_py()
    assert o.matrix[0][1] == o.matrix[1][0] == both and o.sizes == [
        published["high-value"],
        published["lapsed-high-value"],
    ]

    target = tmp_path / "win-back.csv"
    code, out = invoke(
        "segment", "export", "win-back", "--to", str(target), "--fields", "CustomerId,Email", "-p", project_dir
    )
    assert code == 0, out
    with target.open(newline="") as fh:
        ids = [r["CustomerId"] for r in csv.DictReader(fh)]
    assert len(ids) == published["win-back"] and ids == sorted(ids)
