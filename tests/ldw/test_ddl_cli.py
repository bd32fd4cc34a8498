"""`custdim ddl` on a published project: the script for each engine, its errors, and the Power BI file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.project import Project
from custdim.stages.publish.snapshots import manifest_snapshot, read_manifest


def test_ddl_for_each_engine_points_at_the_published_snapshot(example_dir: Path, tmp_path: Path) -> None:
    project = Project.load(example_dir)
    project.run()
    snapshot = manifest_snapshot(read_manifest(project.lake) or {})
    runner = CliRunner()

    spark = runner.invoke(app, ["ddl", "-p", str(example_dir), "--dialect", "spark"])
    assert spark.exit_code == 0, spark.output
    export = project.lake.url("export")
    assert f"LOCATION '{export}/snapshots/{snapshot}/Customer'" in spark.output
    assert "CREATE OR REPLACE VIEW custdim.dim_customer AS" in spark.output

    refused = runner.invoke(app, ["ddl", "-p", str(example_dir), "--dialect", "synapse"])
    assert refused.exit_code != 0 and "--location https://" in refused.output and "Traceback" not in refused.output
    url = "https://acct.dfs.core.windows.net/lake/shop/export"
    synapse = runner.invoke(app, ["ddl", "-p", str(example_dir), "-d", "synapse", "--location", url + "/"])
    assert synapse.exit_code == 0, synapse.output
    assert f"BULK '{url}/snapshots/{snapshot}/Customer/*.parquet'" in synapse.output
    assert "STRING_AGG" in synapse.output

    unknown = runner.invoke(app, ["ddl", "-p", str(example_dir), "--dialect", "oracle"])
    assert unknown.exit_code != 0 and "duckdb, synapse, spark, trino" in unknown.output

    target = tmp_path / "custdim"
    pbids = runner.invoke(app, ["ddl", "-p", str(example_dir), "--powerbi", str(target), "--port", "6543"])
    assert pbids.exit_code == 0, pbids.output
    doc = json.loads((tmp_path / "custdim.pbids").read_text())
    details = doc["connections"][0]["details"]
    assert details["protocol"] == "postgresql"
    assert details["address"] == {"server": "127.0.0.1:6543", "database": "custdim"}


def test_ddl_refuses_a_csv_export(example_dir: Path) -> None:
    text = (example_dir / "custdim.yaml").read_text()
    (example_dir / "custdim.yaml").write_text(text + "\nexport:\n  format: csv\n")
    Project.load(example_dir).run()
    result = CliRunner().invoke(app, ["ddl", "-p", str(example_dir)])
    assert result.exit_code != 0 and "this export is CSV" in result.output
