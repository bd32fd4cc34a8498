"""Customer Insights' incremental folder contract: FullData/ plus IncrementalData/yyyy/mm/dd/hh/{Upserts,Deletes}/."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from custdim.errors import ConfigError
from custdim.project import Project
from tests.conftest import EXAMPLE_YAML, write_example

HEADER = "contact_id,first_name,last_name,email,phone,city,zip,modified"

FULL = [
    "C001,José,Müller,jose@example.com,(555) 123-4567,Boston,02134,2024-01-01T00:00:00Z",
    "C002,Anna,Smith,anna@example.com,555.222.3333,Salem,01970,2024-01-01T00:00:00Z",
    "C003,Bob,Brown,bob@example.com,5551112222,Boston,02134,2024-01-01T00:00:00Z",
    "C004,Carla,Diaz,carla@example.com,,Austin,73301,2024-01-01T00:00:00Z",
]

CHANGES = {
    # Anna moved; a new contact arrives; Bob asks to be deleted.
    "2024/01/02/10/Upserts/part-0.csv": [
        "C002,Anna,Smith,anna@example.com,555.222.3333,Lowell,01850,2024-01-02T10:15:00Z",
        "C005,Dana,Evans,dana@example.com,,Denver,80202,2024-01-02T10:20:00Z",
    ],
    "2024/01/02/10/Deletes/part-0.csv": ["C003,,,,,,,2024-01-02T10:30:00Z"],
    # A late-arriving older version of Anna: latest modification wins, not the latest folder.
    "2024/01/03/08/Upserts/part-0.csv": [
        "C002,Anna,Smith,anna@example.com,555.222.3333,Salem,01970,2024-01-01T12:00:00+02:00",
        "C004,Carla,Diaz,carla@example.com,,Dallas,75201,not a time",
        "C004,Carla,Diaz,carla@example.com,,Austin,73301,",
    ],
    # A delete older than the row it would remove does not remove it.
    "2024/01/03/09/Deletes/part-0.csv": ["C001,,,,,,,2023-12-31T00:00:00Z"],
}


def _folder(root: Path, changes: dict[str, list[str]]) -> None:
    """Deliver the full data and these hours; files delivered before are left as they are (as an export does)."""
    base = root / "data" / "contacts"
    files = {base / "FullData" / "contacts.csv": FULL}
    files.update({base / "IncrementalData" / relative: lines for relative, lines in changes.items()})
    for path, lines in files.items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")


YAML = EXAMPLE_YAML.replace(
    """        path: data/contacts.csv
        format: csv
        primary_key: contact_id
""",
    """        path: data/contacts
        format: csv
        primary_key: contact_id
        columns: {modified: timestamp}
        incremental: {modified: modified}
""",
)


def _landed(project: Project) -> dict[str, dict[str, object]]:
    rows = [
        r
        for f in project.lake.parquet_files(project.lake.raw_table("crm", "contacts"))
        for r in pq.read_table(f).to_pylist()
    ]
    return {str(r["contact_id"]): r for r in rows}


def test_latest_change_per_key_wins_and_deletes_remove_rows(tmp_path: Path, engine_name: str) -> None:
    root = write_example(tmp_path / "project", yaml_text=YAML)
    _folder(root, CHANGES)
    project = Project.load(root)
    report = project.run(stage="ingest", engine=engine_name)
    stage = report.stages[0]
    landed = _landed(project)
    assert sorted(landed) == ["C001", "C002", "C004", "C005"]
    assert landed["C002"]["city"] == "Lowell" and landed["C002"]["zip"] == "01850"  # the later modification
    assert landed["C004"]["zip"] == "73301"  # the bad rows of C004 were rejected; its full row stands
    changes = stage.details["changes"]["crm.contacts"]
    # Superseded: two older versions of C002, the stale delete of C001, the full row of C003; C003 is deleted.
    assert changes["superseded"] == 4 and changes["deleted"] == 1 and changes["carried"] == 0
    assert changes["read"] == "whole folder" and changes["why"] == "first run on this folder"
    rows_in, landed_n = stage.rows_in["crm.contacts"], stage.rows_out["crm.contacts"]
    rejected = sum(n for k, n in stage.rejected.items() if k.startswith("crm.contacts."))
    assert rows_in == 4 + 2 + 1 + 3 + 1
    assert rows_in == landed_n + rejected + changes["superseded"] + changes["deleted"]
    rejects = pq.read_table(project.lake.rejects_table("crm", "contacts")).to_pylist()
    reasons = sorted(r["_reason"] for r in rejects)
    assert len(reasons) == 2
    assert any("the last-modified value is missing" in r for r in reasons)
    assert any("column 'modified': cannot parse not a time as timestamp" in r for r in reasons), reasons


def _comparable(project: Project) -> list[dict[str, object]]:
    rows = [{k: v for k, v in r.items() if k not in ("_ingested_at", "_run_id")} for r in _landed(project).values()]
    return sorted(rows, key=lambda r: str(r["contact_id"]))


def _fresh_read(tmp_path: Path, source: Path) -> list[dict[str, object]]:
    """The table a first run on the whole folder lands."""
    import shutil

    root = write_example(tmp_path / "fresh", yaml_text=YAML)
    shutil.rmtree(root / "data" / "contacts", ignore_errors=True)
    shutil.copytree(source / "data" / "contacts", root / "data" / "contacts")
    project = Project.load(root)
    project.run(stage="ingest")
    return _comparable(project)


def test_later_runs_read_only_new_hours_and_land_what_a_full_read_would(tmp_path: Path) -> None:
    first = dict(list(CHANGES.items())[:2])
    root = write_example(tmp_path / "project", yaml_text=YAML)
    _folder(root, first)
    project = Project.load(root)
    project.run(stage="ingest")

    _folder(root, CHANGES)  # two more hours arrive
    stage = project.run(stage="ingest").stages[0]
    changes = stage.details["changes"]["crm.contacts"]
    assert changes["read"] == "new hours only" and changes["why"] == "2 new group(s) on top of 3 applied"
    rows_in, landed = stage.rows_in["crm.contacts"], stage.rows_out["crm.contacts"]
    rejected = sum(n for k, n in stage.rejected.items() if k.startswith("crm.contacts."))
    assert rows_in == 4  # only the new hours' rows were read
    assert changes["carried"] == 4  # C001, C002, C004, C005 as landed by the first run
    assert rows_in + changes["carried"] == landed + rejected + changes["superseded"] + changes["deleted"]
    assert _comparable(project) == _fresh_read(tmp_path, root)
    rejects = pq.read_table(project.lake.rejects_table("crm", "contacts")).num_rows
    assert rejects == 2

    # Nothing new: nothing is read, the landed table stands.
    before = _comparable(project)
    stage = project.run(stage="ingest").stages[0]
    assert stage.details["changes"]["crm.contacts"]["read"] == "nothing new" and stage.rows_in["crm.contacts"] == 0
    assert _comparable(project) == before

    # Another declared type for the table: what was landed no longer fits; the whole folder is read again.
    yaml = root / "custdim.yaml"
    yaml.write_text(
        yaml.read_text(encoding="utf-8").replace("{modified: timestamp}", "{modified: timestamp, zip: int}")
    )
    stage = Project.load(root).run(stage="ingest").stages[0]
    assert stage.details["changes"]["crm.contacts"]["why"] == "the table's settings in the project file changed"
    yaml.write_text(
        yaml.read_text(encoding="utf-8").replace("{modified: timestamp, zip: int}", "{modified: timestamp}")
    )
    project = Project.load(root)
    project.run(stage="ingest")

    # A re-delivered full export (C004 changed in place): the whole folder is read again.
    full = root / "data" / "contacts" / "FullData" / "contacts.csv"
    full.write_text(full.read_text(encoding="utf-8").replace("Austin,73301", "Houston,77002"), encoding="utf-8")
    stage = project.run(stage="ingest").stages[0]
    changes = stage.details["changes"]["crm.contacts"]
    assert changes["read"] == "whole folder" and "FullData" in str(changes["why"])
    assert _comparable(project) == _fresh_read(tmp_path / "again", root)


def test_a_deleted_record_retires_its_profile_on_the_next_run(tmp_path: Path) -> None:
    root = write_example(tmp_path / "project", yaml_text=YAML)
    _folder(root, {})
    project = Project.load(root)
    project.run()
    retired_before = project.sql("SELECT count(*) AS n FROM IdChangeLog WHERE Event = 'retired'")["n"][0].as_py()
    carla = project.sql("SELECT CustomerId FROM Customer WHERE Email = 'carla@example.com'")["CustomerId"].to_pylist()
    assert len(carla) == 1  # her only record is C004 (no web-shop account)
    others = set(project.sql("SELECT CustomerId FROM Customer")["CustomerId"].to_pylist()) - set(carla)

    _folder(root, {"2024/01/02/10/Deletes/part-0.csv": ["C004,,,,,,,2024-01-02T10:30:00Z"]})
    project.run()
    assert project.sql("SELECT count(*) AS n FROM Customer WHERE Email = 'carla@example.com'")["n"][0].as_py() == 0
    retired = project.sql("SELECT CustomerId FROM IdChangeLog WHERE Event = 'retired'")["CustomerId"].to_pylist()
    assert carla[0] in retired and len(retired) == retired_before + 1
    assert set(project.sql("SELECT CustomerId FROM Customer")["CustomerId"].to_pylist()) == others  # ids kept


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"FullData": None}, "no FullData/ folder"),
        ({"IncrementalData/2024/01/02/Upserts/x.csv": HEADER}, "is not in IncrementalData/yyyy/mm/dd/hh/Upserts/"),
    ],
)
def test_a_folder_not_following_the_contract_is_a_clear_error(
    tmp_path: Path, layout: dict[str, str | None], message: str
) -> None:
    root = write_example(tmp_path / "project", yaml_text=YAML)
    base = root / "data" / "contacts"
    if "FullData" not in layout:
        _folder(root, {})
    base.mkdir(parents=True, exist_ok=True)
    for relative, text in layout.items():
        if text is not None:
            (base / relative).parent.mkdir(parents=True, exist_ok=True)
            (base / relative).write_text(text + "\n", encoding="utf-8")
    result = Project.load(root)
    with pytest.raises(Exception, match=message):
        result.run(stage="ingest")


def test_the_last_modified_column_must_be_declared_with_a_time_type(tmp_path: Path) -> None:
    root = write_example(tmp_path / "project", yaml_text=YAML.replace("        columns: {modified: timestamp}\n", ""))
    with pytest.raises(ConfigError, match=r"incremental.modified: declare the last-modified column's type"):
        Project.load(root)


def test_validate_reads_the_headers_of_a_change_folder(tmp_path: Path) -> None:
    root = write_example(tmp_path / "project", yaml_text=YAML)
    _folder(root, CHANGES)
    notes = Project.load(root).validate()
    assert "crm.contacts: 5 file(s), format csv, 8 columns" in notes  # FullData and four hours' files
    (root / "custdim.yaml").write_text(YAML.replace("{modified: modified}", "{modified: modifed}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"incremental\.modified: declare the last-modified column's type"):
        Project.load(root)
    (root / "custdim.yaml").write_text(YAML, encoding="utf-8")
    stray = root / "data" / "contacts" / "IncrementalData" / "2024" / "stray.csv"
    stray.write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.tables\[0\]\.path: .*is not in IncrementalData/yyyy"):
        Project.load(root).validate()
