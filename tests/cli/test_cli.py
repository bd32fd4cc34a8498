"""The command line as a user types it: commands, output formats, and the error boundary."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custdim.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_run_status_and_sql(example_dir: Path) -> None:
    code, out = invoke("run", "-p", str(example_dir))
    assert code == 0, out
    assert "succeeded" in out and "publish" in out and "match rate per rule" in out
    code, out = invoke("status", "-p", str(example_dir))
    assert code == 0 and "succeeded" in out
    code, out = invoke(
        "sql",
        "-p",
        str(example_dir),
        "--format",
        "csv",
        "SELECT FirstName, LastName, ActivityCount FROM dim_customer ORDER BY FirstName",
    )
    assert code == 0, out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["FirstName"] for r in rows] == ["Anna", "Bob", "Carla", "José", "Zed"]
    assert {r["FirstName"]: r["ActivityCount"] for r in rows}["José"] == "2"
    code, out = invoke("sql", "-p", str(example_dir), "-f", "json", "SELECT count(*) AS n FROM Customer")
    assert code == 0 and json.loads(out) == [{"n": 5}]
    code, out = invoke("sql", "-p", str(example_dir), "SELECT CustomerId FROM Customer")
    assert code == 0 and "(5 rows)" in out


def test_single_stage_runs_and_refuses_without_inputs(example_dir: Path) -> None:
    code, out = invoke("run", "-p", str(example_dir), "--stage", "match")
    assert code == 1
    assert "the outputs of stage 'map' are missing or incomplete" in out
    assert invoke("run", "-p", str(example_dir), "--stage", "ingest")[0] == 0
    assert invoke("run", "-p", str(example_dir), "--stage", "map")[0] == 0
    code, out = invoke("run", "-p", str(example_dir), "--stage", "match")
    assert code == 0, out
    code, out = invoke("run", "-p", str(example_dir), "--stage", "nope")
    assert (
        code == 1
        and "valid stages: ingest, map, match, cluster, merge, activities, measures, predictions, segments, publish"
        in out
    )


def test_validate(example_dir: Path) -> None:
    code, out = invoke("validate", "-p", str(example_dir))
    assert code == 0 and "crm.contacts: 1 file(s), format csv" in out
    (example_dir / "data" / "orders.jsonl").unlink()
    code, out = invoke("validate", "-p", str(example_dir))
    assert code == 3 and "orders.jsonl: file not found" in out  # validate reports problems as project file errors


def test_config_error_is_one_clear_line(example_dir: Path) -> None:
    text = (example_dir / "custdim.yaml").read_text().replace("engine: duckdb", "engine: oracle")
    (example_dir / "custdim.yaml").write_text(text)
    code, out = invoke("run", "-p", str(example_dir))
    assert code == 3
    assert out.startswith("Error: ") and "custdim.yaml: engine:" in out and "Traceback" not in out


def test_sql_errors_and_formats(example_dir: Path) -> None:
    code, out = invoke("sql", "-p", str(example_dir), "SELECT 1")
    assert code == 1 and "run `custdim run` first" in out
    invoke("run", "-p", str(example_dir))
    code, out = invoke("sql", "-p", str(example_dir), "SELECT * FROM nowhere")
    assert code == 1 and "'nowhere' is not a view of the catalog" in out and "dim_customer" in out
    code, out = invoke("sql", "-p", str(example_dir), "SELECT nonexistent_column FROM Customer")
    assert code == 1 and "query failed" in out and "nonexistent_column" in out
    code, out = invoke("sql", "-p", str(example_dir), "--format", "xml", "SELECT 1")
    assert code == 1 and "table, csv or json" in out


def test_demo_command(tmp_path: Path) -> None:
    code, out = invoke("demo", "--dir", str(tmp_path / "d"), "--customers", "300", "--seed", "3")
    assert code == 0, out
    assert "profiles" in out and "precision" in out and "custdim sql -p" in out
    assert (tmp_path / "d" / "custdim.yaml").exists()
    assert (tmp_path / "d" / "truth" / "truth.csv").exists()
    assert (tmp_path / "d" / "lake" / "export" / "export.manifest.cdm.json").exists()


@pytest.mark.slow
def test_installed_entry_point_error_boundary(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "custdim"
    proc = subprocess.run([str(exe), "status", "-p", str(tmp_path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 3  # the project file is wrong (missing)
    assert proc.stderr.startswith("Error: ") and "project file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run(
        [str(exe), "--debug", "status", "-p", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ConfigError" in proc.stderr
