"""Export settings: CSV and Delta exports, pseudonymized fields and a chosen set of entities.

One demo run provides the work zone; each case re-runs only the publish stage with other export settings, then
reads the result the way its consumers would: the official CDM SDK (manifest and model.json), the Delta reader
and the SQL views.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from custdim.errors import ConfigError
from custdim.project import Project
from tests.publish.cdm_sdk import SdkManifest, load_manifest

if TYPE_CHECKING:
    from custdim.demo.runner import DemoResult

pytestmark = pytest.mark.slow

KEY = "a-test-key-of-32-characters-long"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
CSV_TRAIT = "is.partition.format.CSV"


def publish_with(base: Path, target: Path, export_yaml: str, env: dict[str, str] | None = None) -> Project:
    """A copy of the demo project with ``export_yaml`` appended, its publish stage re-run."""
    shutil.copytree(base, target, ignore=shutil.ignore_patterns("_ldw"))
    text = (target / "custdim.yaml").read_text()
    (target / "custdim.yaml").write_text(text + "\n" + export_yaml)
    project = Project.load(target)
    project.run(stage="publish")
    return project


def work_table(project: Project, name: str):  # type: ignore[no-untyped-def]
    return pq.read_table(project.lake.entity(name))


def sdk(project: Project, file: str) -> SdkManifest:
    manifest = load_manifest(Path(project.lake.path("export")), file)
    assert not manifest.errors, f"the CDM SDK reported errors:\n{manifest.report()}"
    return manifest


@pytest.fixture(scope="module")
def csv_project(demo_run: DemoResult, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module) -> Project:  # type: ignore[no-untyped-def]
    monkeypatch_module.setenv("CUSTDIM_PSEUDONYM_KEY", KEY)
    return publish_with(
        demo_run.directory,
        tmp_path_factory.mktemp("csv") / "p",
        "export:\n  format: csv\n  pseudonymize: [Email, Phone]\n",
    )


@pytest.fixture(scope="module")
def monkeypatch_module():  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_csv_export_loads_in_the_cdm_sdk_through_manifest_and_model_json(csv_project: Project) -> None:
    for file in ("export.manifest.cdm.json", "model.json"):
        manifest = sdk(csv_project, file)
        assert len(manifest.entities) == 15, file
        for entity in manifest.entities:
            assert entity.partitions, f"{file}: {entity.name} has no partitions"
            for p in entity.partitions:
                assert p.adapter_path is not None and Path(p.adapter_path).is_file(), f"{file}: {p.location}"
                assert p.adapter_path.endswith(".csv"), p.adapter_path
                assert CSV_TRAIT in p.traits, f"{file}: {entity.name} partition traits {p.traits}"
            rows = sum(len(Path(p.adapter_path).read_text().splitlines()) - 1 for p in entity.partitions)  # type: ignore[arg-type]
            assert rows >= 0
        customer = manifest.entity("Customer")
        names = [a for a, _ in customer.attributes]
        assert names[:2] == ["CustomerId", "FirstName"], names
    manifest = sdk(csv_project, "export.manifest.cdm.json")
    traits = manifest.entity("Customer").traits
    assert "means.identity.person.firstName" in traits["FirstName"]
    assert "means.location.city" in traits["City"]
    # A pseudonym is no longer an email address: the trait goes, a description says what it is.
    assert "means.identity.service.email" not in traits["Email"]
    doc = json.loads((Path(csv_project.lake.path("export")) / "model.json").read_text())
    assert {e["name"] for e in doc["entities"]} == {e.name for e in manifest.entities}
    assert all(r["toAttribute"]["entityName"] == "Customer" for r in doc["relationships"])


def test_csv_views_keep_every_row_and_the_exact_types(csv_project: Project) -> None:
    for name in ("Customer", "UnifiedActivity", "MatchPairs", "CustomerMeasure", "ChurnPrediction"):
        work = work_table(csv_project, name)
        view = csv_project.sql(f"SELECT * FROM {name}")
        assert view.num_rows == work.num_rows, name
        for field in work.schema:
            if name == "Customer" and field.name in ("Email", "Phone", "Emails", "Phones"):
                continue
            seen = view.schema.field(field.name).type
            if str(field.type).startswith("list"):
                assert str(seen) == "string", f"{name}.{field.name}: lists are JSON text in CSV"
            else:
                assert seen == field.type, f"{name}.{field.name}: {seen} in the view, {field.type} in work/"
    amounts = csv_project.sql("SELECT sum(Amount) AS s FROM UnifiedActivity").column("s")[0].as_py()
    assert amounts == pytest.approx(
        pq.read_table(csv_project.lake.entity("UnifiedActivity")).column("Amount").to_numpy().sum()
    )
    dim = csv_project.sql("SELECT count(*) AS n FROM dim_customer").column("n")[0].as_py()
    assert dim == work_table(csv_project, "Customer").num_rows


def test_pseudonymized_fields_are_keyed_hashes_and_nothing_else_leaks(csv_project: Project) -> None:
    work = work_table(csv_project, "Customer").to_pylist()
    exported = {r["CustomerId"]: r for r in csv_project.sql("SELECT * FROM Customer").to_pylist()}

    def h(value: str) -> str:
        return hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()

    checked = 0
    for row in work:
        out = exported[row["CustomerId"]]
        assert out["FirstName"] == row["FirstName"]  # not listed: unchanged
        for field in ("Email", "Phone"):
            assert out[field] == (None if row[field] is None else h(row[field])), field
        for field in ("Emails", "Phones"):
            expected = None if row[field] is None else [h(v) for v in row[field]]
            assert (None if out[field] is None else json.loads(out[field])) == expected, field
        checked += row["Email"] is not None
    assert checked > 100
    keys = csv_project.sql("SELECT BlockingKey FROM MatchPairs WHERE BlockingKey IS NOT NULL").column(0).to_pylist()
    assert keys and all(HEX64.match(k) for k in keys)
    # No exported byte holds a plain email address or phone number of the work zone.
    emails = {r["Email"] for r in work if r["Email"]}
    phones = {r["Phone"] for r in work if r["Phone"]}
    snapshot = Path(csv_project.lake.path("export", "snapshots"))
    text = "\n".join(p.read_text() for p in snapshot.rglob("*.csv"))
    text += (Path(csv_project.lake.path("export")) / "model.json").read_text()
    leaked = [v for v in sorted(emails | phones)[:400] if v in text]
    assert not leaked, f"plain values in the export: {leaked[:5]}"


def test_ids_stay_stable_when_the_export_is_csv(csv_project: Project) -> None:
    before = set(csv_project.sql("SELECT CustomerId FROM Customer").column(0).to_pylist())
    report = csv_project.run()
    after = set(csv_project.sql("SELECT CustomerId FROM Customer").column(0).to_pylist())
    assert before == after
    events = csv_project.sql(
        f"SELECT Event, count(*) AS n FROM IdChangeLog WHERE RunId = '{report.run_id}' GROUP BY Event"
    ).to_pylist()
    assert all(e["Event"] != "created" for e in events), events


def test_delta_export_is_one_reader_v1_table_per_entity(demo_run: DemoResult, tmp_path: Path) -> None:
    from deltalake import DeltaTable

    project = publish_with(demo_run.directory, tmp_path / "p", "export:\n  format: delta\n")
    snapshot = Path(project.lake.path("export", "snapshots"))
    (run,) = [
        p
        for p in snapshot.iterdir()
        if p.is_dir() and (p / "_complete.json").exists() and (p / "Customer" / "_delta_log").exists()
    ]
    manifest = sdk(project, "export.manifest.cdm.json")
    for entity in manifest.entities:
        table = DeltaTable(str(run / entity.name))
        assert table.protocol().min_reader_version == 1, entity.name
        rows = table.to_pyarrow_dataset().count_rows()
        assert rows == work_table(project, entity.name).num_rows, entity.name
        (count,) = project.sql(f"SELECT count(*) AS n FROM {entity.name}").column("n").to_pylist()
        assert count == rows, entity.name
        files = sorted(str(Path(p.adapter_path or "")) for p in entity.partitions)
        assert files == sorted(str(run / entity.name / Path(u).name) for u in table.file_uris()), entity.name


def test_delta_export_of_empty_entities(example_dir: Path) -> None:
    """A project without predictions has empty prediction entities: Delta writes no data file for those."""
    from deltalake import DeltaTable

    text = (example_dir / "custdim.yaml").read_text()
    (example_dir / "custdim.yaml").write_text(text + "\nexport:\n  format: delta\n")
    project = Project.load(example_dir)
    project.run()
    assert project.sql("SELECT count(*) FROM ClvPrediction").column(0).to_pylist() == [0]
    assert project.sql("SELECT count(*) FROM Customer").column(0).to_pylist() == [
        DeltaTable(str(next(Path(project.lake.snapshot()).glob("*/Customer")))).to_pyarrow_dataset().count_rows()
    ]
    sdk(project, "export.manifest.cdm.json")
    project.run()  # and the next run reads its id history back
    assert project.sql("SELECT count(*) FROM IdChangeLog WHERE Event = 'created'").column(0)[0].as_py() > 0


def test_a_chosen_set_of_entities_and_its_views(demo_run: DemoResult, tmp_path: Path) -> None:
    project = publish_with(
        demo_run.directory, tmp_path / "p", "export:\n  entities: [Customer, UnifiedActivity, CustomerMeasure]\n"
    )
    manifest = sdk(project, "export.manifest.cdm.json")
    assert [e.name for e in manifest.entities] == ["Customer", "UnifiedActivity", "CustomerMeasure"]
    assert {"Customer", "UnifiedActivity", "CustomerMeasure", "dim_customer"} <= set(project.views())
    assert "AlternateKey" not in project.views()
    dim = project.sql("SELECT * FROM dim_customer LIMIT 1")
    assert "TotalTransactionValue" in dim.column_names and "Segments" not in dim.column_names
    only_customers = publish_with(demo_run.directory, tmp_path / "q", "export:\n  entities: [Customer]\n")
    assert set(only_customers.views()) == {"Customer", "dim_customer"}
    # The id history still travels with the snapshot: the next run keeps the CustomerIds.
    before = set(project.sql("SELECT CustomerId FROM Customer").column(0).to_pylist())
    project.run()
    assert set(project.sql("SELECT CustomerId FROM Customer").column(0).to_pylist()) == before


@pytest.mark.parametrize(
    ("export_yaml", "key", "words"),
    [
        ("export:\n  entities: [Customer, Custmer]\n", "export.entities[1]", ["'Custmer'", "UnifiedActivity"]),
        ("export:\n  entities: [UnifiedActivity]\n", "export.entities", ["must include Customer"]),
        ("export:\n  pseudonymize: [Emial]\n", "export.pseudonymize[0]", ["'Emial'", "Email"]),
        ("export:\n  format: orc\n", "export.format", ["parquet", "csv", "delta"]),
    ],
)
def test_export_config_mistakes_name_the_key_and_the_valid_values(
    demo_run: DemoResult, tmp_path: Path, export_yaml: str, key: str, words: list[str]
) -> None:
    (tmp_path / "custdim.yaml").write_text((demo_run.directory / "custdim.yaml").read_text() + "\n" + export_yaml)
    with pytest.raises(ConfigError) as info:
        Project.load(tmp_path)
    assert key in str(info.value) and "custdim.yaml" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_pseudonymizing_without_a_key_fails_before_the_run(
    demo_run: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUSTDIM_PSEUDONYM_KEY", raising=False)
    target = tmp_path / "p"
    shutil.copytree(demo_run.directory, target, ignore=shutil.ignore_patterns("_ldw"))
    base = (target / "custdim.yaml").read_text()
    (target / "custdim.yaml").write_text(base + "\nexport:\n  pseudonymize: [Email]\n")
    runs_before = len(Project.load(target).runs(100))
    with pytest.raises(ConfigError, match="CUSTDIM_PSEUDONYM_KEY"):
        Project.load(target).run()
    assert len(Project.load(target).runs(100)) == runs_before  # refused before the lock: no run started
    monkeypatch.setenv("CUSTDIM_PSEUDONYM_KEY", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        Project.load(target).run(stage="publish")
    # A key file (relative to the project file) works when the variable is unset.
    monkeypatch.delenv("CUSTDIM_PSEUDONYM_KEY")
    (target / "pseudonym.key").write_text(KEY + "\n")
    (target / "custdim.yaml").write_text(base + "\nexport:\n  pseudonymize: [Email]\n  secret_file: pseudonym.key\n")
    project = Project.load(target)
    project.run(stage="publish")
    emails = project.sql("SELECT Email FROM Customer WHERE Email IS NOT NULL").column(0).to_pylist()
    assert emails and all(HEX64.match(e) for e in emails)
