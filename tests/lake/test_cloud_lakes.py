"""Lakes on object storage: the whole demo, source files, the run lock and crash-safe publishing on S3 and Azure.

Everything runs against real emulators started by the test suite (moto's S3 server, Azurite's blob service), with
no hierarchical namespace: nothing here may depend on renaming a folder. A cloud run must give the same answers as
a local run of the same generated data (CustomerIds are deterministic).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from custdim.contracts import EXPORT_MANIFEST
from custdim.demo.generate import generate
from custdim.demo.project_file import write_project_file
from custdim.failpoints import FAILPOINT_EXIT
from custdim.lake import Lake
from custdim.lake.layout import CACHE_ENV
from custdim.lake.lock import LakeBusyError, RunLock
from custdim.project import Project
from custdim.report import RunReport
from custdim.stages.publish import snapshots
from custdim.stages.publish.catalog import catalog_snapshot
from custdim.stages.publish.formats import count_rows, format_of
from tests.conftest import write_example
from tests.emulators.servers import Emulator
from tests.publish.cdm_sdk import load_manifest
from tests.reliability.published import cli_sql, custdim, start

# One pytest-xdist worker runs them all, so each emulator starts once per test run.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cloud")]

CUSTOMERS = 200
SEED = 7
# Lake URL forms: the emulator fixture that serves them and the fsspec scheme of a new container.
FORMS = {"s3": ("moto_s3", "s3"), "az": ("azurite", "az"), "abfs": ("azurite", "abfs")}
QUERIES = {
    "profiles": "SELECT count(*) AS n FROM Customer",
    "ids": "SELECT CustomerId FROM Customer ORDER BY CustomerId",
    "sizes": "SELECT SourceRecordCount, count(*) AS profiles FROM Customer GROUP BY 1 ORDER BY 1",
    "rules": "SELECT RuleName, count(*) AS pairs FROM MatchPairs GROUP BY 1 ORDER BY 1",
    # Rounded: a sum of doubles depends on the order DuckDB's threads add them in, on any lake.
    "top": "SELECT CustomerId, FirstName, LastName, ActivityCount, round(TotalAmount, 2) AS total FROM dim_customer "
    "ORDER BY TotalAmount DESC, CustomerId LIMIT 10",
    "keys": "SELECT SourceName, TableName, count(*) AS n FROM AlternateKey GROUP BY 1, 2 ORDER BY 1, 2",
}


@pytest.fixture(scope="module", autouse=True)
def catalog_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Cloud lakes keep their SQL catalog in the local cache: a private one for these tests (children inherit it)."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(folder))
        yield folder


def container(request: pytest.FixtureRequest, form: str) -> str:
    """A new, empty bucket or container on the emulator serving ``form``; its URL in that form."""
    fixture, scheme = FORMS[form]
    emulator: Emulator = request.getfixturevalue(fixture)
    return emulator.new_container(scheme)


def set_lake(project_dir: Path, lake: str) -> None:
    path = project_dir / "custdim.yaml"
    text, n = re.subn(r"^lake: .*$", f"lake: {lake}", path.read_text(encoding="utf-8"), count=1, flags=re.M)
    assert n == 1
    path.write_text(text, encoding="utf-8")


def sources_to_cloud(project_dir: Path, root: str) -> None:
    """Upload the project's data/ folder to ``root`` and point every ``type: files`` path there."""
    lake = Lake(root)
    lake.fs.put(str(project_dir / "data"), lake.path("data"), recursive=True)
    path = project_dir / "custdim.yaml"
    text, n = re.subn(r"^(\s+path: )data/", rf"\g<1>{root}/data/", path.read_text(encoding="utf-8"), flags=re.M)
    assert n > 0
    path.write_text(text, encoding="utf-8")


def demo_project(directory: Path) -> Path:
    """The demo's generated retailer and project file (`custdim demo` without the run)."""
    directory.mkdir(parents=True)
    generate(directory, customers=CUSTOMERS, seed=SEED)
    write_project_file(directory, "duckdb")
    return directory


@dataclass(frozen=True)
class DemoRun:
    directory: Path
    lake: str
    report: RunReport
    answers: dict[str, list[list[object]]]


def run_demo(directory: Path) -> DemoRun:
    project = Project.load(directory)
    report = project.run()
    assert report.status == "succeeded", report.error
    answers = {name: cli_sql(directory, sql) for name, sql in QUERIES.items()}
    return DemoRun(directory, project.lake.root, report, answers)


@pytest.fixture(scope="module")
def local_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return run_demo(demo_project(tmp_path_factory.mktemp("local") / "demo"))


# az:// and abfs:// reach the same Azurite service the same way; the whole demo runs on one of them (abfs, with
# its source files in the container too); az:// has the example-project tests below.
@pytest.fixture(scope="module", params=["s3", "abfs"])
def cloud_demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo on a cloud lake; with s3:// and abfs:// its source files are read from the cloud too."""
    form = str(request.param)
    root = container(request, form)
    directory = demo_project(tmp_path_factory.mktemp(form) / "demo")
    set_lake(directory, f"{root}/lake")
    if form in ("s3", "abfs"):
        sources_to_cloud(directory, root)
    return run_demo(directory)


def test_the_whole_demo_on_a_cloud_lake_gives_the_local_answers(cloud_demo: DemoRun, local_demo: DemoRun) -> None:
    assert "://" in cloud_demo.lake
    for stage in ("ingest", "merge", "publish"):
        cloud, local = cloud_demo.report.stage(stage), local_demo.report.stage(stage)
        assert cloud is not None and local is not None
        assert cloud.rows_out == local.rows_out, stage
    assert cloud_demo.answers["profiles"][0][0] > 0
    # CustomerIds are deterministic: the same records give the same profiles, wherever the lake is.
    for name in QUERIES:
        assert cloud_demo.answers[name] == local_demo.answers[name], name
    project = Project.load(cloud_demo.directory)
    assert project.lake.url("export", EXPORT_MANIFEST).startswith(("s3://", "abfs://"))
    assert "dim_customer" in project.views()


def test_the_demo_reads_its_source_files_from_cloud_storage(cloud_demo: DemoRun, local_demo: DemoRun) -> None:
    text = (cloud_demo.directory / "custdim.yaml").read_text(encoding="utf-8")
    paths = re.findall(r"^\s+path: (\S+)$", text, flags=re.M)
    assert paths
    # The az:// demo keeps its source files local (a cloud lake over local sources); the others read them remotely.
    remote = not cloud_demo.lake.startswith("az://")
    assert all(("://" in p) == remote for p in paths), paths
    ingest = cloud_demo.report.stage("ingest")
    local = local_demo.report.stage("ingest")
    assert ingest is not None and local is not None
    assert ingest.rows_in == local.rows_in and sum(ingest.rows_out.values()) > 0


def test_the_cloud_export_is_a_cdm_folder_the_sdk_loads(cloud_demo: DemoRun, tmp_path: Path) -> None:
    lake = Project.load(cloud_demo.directory).lake
    local = tmp_path / "export"
    lake.fs.get(lake.path("export"), str(local), recursive=True)
    manifest = load_manifest(local, EXPORT_MANIFEST)
    assert not manifest.errors, manifest.report()
    customer = manifest.entity("Customer")
    assert customer.partitions and customer.attributes
    assert all(Path(p.adapter_path or "").exists() for p in customer.partitions)


def test_cloud_catalogs_live_in_the_local_cache_and_are_rebuilt_when_missing(
    cloud_demo: DemoRun, catalog_cache: Path
) -> None:
    project = Project.load(cloud_demo.directory)
    catalog = Path(project.lake.catalog())
    assert catalog.is_relative_to(catalog_cache) and catalog.exists()
    assert not project.lake.exists(project.lake.path("_ldw", "catalog.duckdb"))
    catalog.unlink()
    # Another machine reading the lake starts without a catalog: it is built from the published manifest.
    assert cli_sql(cloud_demo.directory, QUERIES["profiles"]) == cloud_demo.answers["profiles"]
    assert catalog.exists()


def test_sql_on_a_cloud_lake_reads_only_the_published_views(cloud_demo: DemoRun) -> None:
    project = Project.load(cloud_demo.directory)
    raw = project.lake.url("raw")
    from custdim.ldw.guard import QueryError

    with pytest.raises(QueryError):
        project.sql(f"SELECT * FROM read_parquet('{raw}/**/*.parquet')")
    with pytest.raises(QueryError):
        project.sql(f"SELECT * FROM '{raw}/crm/contacts/part-00000.parquet'")


# --- the example project on a cloud lake: lock and crash safety --------------------------------------------------


def example_on(request: pytest.FixtureRequest, tmp_path: Path, form: str, sources: str = "local") -> Path:
    root = container(request, form)
    project_dir = write_example(tmp_path / "project")
    set_lake(project_dir, f"{root}/lake")
    if sources == "cloud":
        sources_to_cloud(project_dir, root)
    return project_dir


@pytest.mark.parametrize("form", ["s3", "az"])
def test_example_source_files_on_cloud_storage_give_the_local_result(
    request: pytest.FixtureRequest, tmp_path: Path, form: str
) -> None:
    local_dir = write_example(tmp_path / "local")
    Project.load(local_dir).run()
    cloud_dir = example_on(request, tmp_path / "cloud", form, sources="cloud")
    assert Project.load(cloud_dir).run().status == "succeeded"
    query = "SELECT FirstName, LastName, SourceRecordCount FROM Customer ORDER BY 1, 2, 3"
    assert cli_sql(cloud_dir, query) == cli_sql(local_dir, query)


def wait_for_holder(lake_url: str, timeout: float = 90) -> str:
    lock = RunLock(Lake(lake_url))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = lock.holder()
        if holder is not None:
            return holder.run_id
        time.sleep(0.2)
    raise AssertionError("the first run never took the lock")


def lake_of(project_dir: Path) -> str:
    return Project.load(project_dir).lake.root


@pytest.mark.parametrize("form", ["s3", "az"])
def test_a_second_run_on_a_cloud_lake_fails_while_the_first_holds_the_lock(
    request: pytest.FixtureRequest, tmp_path: Path, form: str
) -> None:
    project_dir = example_on(request, tmp_path, form)
    first = start("run", "--project", str(project_dir), failpoint="run.locked:sleep=10")
    holder = wait_for_holder(lake_of(project_dir))

    second = custdim("run", "--project", str(project_dir))
    assert second.returncode == 75, second.stderr  # EX_TEMPFAIL: busy, try again later
    assert f"another run ({holder}, started " in second.stderr and "--wait" in second.stderr
    assert "Traceback" not in second.stderr + second.stdout

    queued = start("run", "--project", str(project_dir), "--wait")
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    _, err = queued.communicate(timeout=300)
    assert queued.returncode == 0, err
    lake = Lake(lake_of(project_dir))
    assert RunLock(lake).holder() is None
    assert len(snapshots.all_snapshots(lake)) == 2  # both runs published, one after the other


@pytest.mark.parametrize("form", ["s3", "az"])
def test_the_cloud_lock_is_exclusive_when_runs_race_for_it(
    request: pytest.FixtureRequest, tmp_path: Path, form: str
) -> None:
    """Many takers at the same instant: the conditional create lets exactly one have the lock."""
    url = f"{container(request, form)}/lake"
    barrier = threading.Barrier(8)
    won: list[str] = []
    busy: list[str] = []

    def take(n: int) -> None:
        lock = RunLock(Lake(url))
        barrier.wait()
        try:
            lock.acquire(f"run-{n}")
            won.append(f"run-{n}")
        except LakeBusyError:
            busy.append(f"run-{n}")

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(won) == 1 and len(busy) == 7, (won, busy)
    lock = RunLock(Lake(url))
    holder = lock.holder()
    assert holder is not None and holder.run_id == won[0]
    lock.release(won[0])
    assert lock.holder() is None


@pytest.mark.parametrize("form", ["s3", "az"])
def test_waiting_runs_take_the_cloud_lock_in_turn_while_it_changes_hands(
    request: pytest.FixtureRequest, form: str
) -> None:
    """Waiters read the lock while its holder deletes it and the next one creates it: none of them may fail on a
    lock that vanished between two requests, and never do two hold it at once."""
    url = f"{container(request, form)}/lake"
    holding: list[str] = []
    taken: list[str] = []
    errors: list[BaseException] = []

    def take_turns(n: int) -> None:
        lock = RunLock(Lake(url))
        try:
            for turn in range(4):
                run_id = f"run-{n}-{turn}"
                lock.acquire(run_id, wait=True, timeout=120)
                holding.append(run_id)
                assert len(holding) == 1, holding
                taken.append(run_id)
                time.sleep(0.05)
                holding.remove(run_id)
                lock.release(run_id)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=take_turns, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(taken) == 16 and RunLock(Lake(url)).holder() is None


def assert_consistent_cloud_export(project_dir: Path) -> str:
    """Readers see one complete snapshot: the manifest and the catalog name it, every row of it is there."""
    count = cli_sql(project_dir, "SELECT count(*) AS n FROM dim_customer")
    project = Project.load(project_dir)
    lake = project.lake
    doc = snapshots.read_manifest(lake)
    assert doc is not None
    published = snapshots.manifest_snapshot(doc)
    assert published is not None and snapshots.is_complete(lake, published)
    assert catalog_snapshot(lake) == published, "the catalog and the manifest name different snapshots"
    marker = lake.read_json(snapshots.marker(lake, published))
    for entity in doc["entities"]:
        files = [lake.path("export", p["location"]) for p in entity["dataPartitions"]]
        assert all(lake.exists(f) for f in files), f"{entity['entityName']}: a published partition is missing"
        assert count_rows(lake, files, format_of(files[0])) == marker["rows"][entity["entityName"]]
    assert count == [[marker["rows"]["Customer"]]]
    for name, expected in marker["rows"].items():
        assert project.sql(f'SELECT count(*) FROM "{name}"').column(0).to_pylist() == [expected]
    legacy = snapshots.model_json_snapshot(lake)
    assert legacy is None or snapshots.is_complete(lake, legacy), f"model.json names the incomplete {legacy}"
    return published


def cloud_leftovers(project_dir: Path) -> list[str]:
    """Temporary files a killed run could leave, in the lake and in the local catalog cache."""
    lake = Project.load(project_dir).lake
    found = [f for f in lake.fs.find(lake.base) if ".tmp-" in f.rsplit("/", 1)[-1]]
    cache = Path(lake.catalog()).parent
    found += [p.name for p in cache.glob(".catalog*")] if cache.exists() else []
    return sorted(found)


def add_contact(project_dir: Path, n: int) -> None:
    contacts = project_dir / "data" / "contacts.csv"
    contacts.write_text(contacts.read_text() + f"N{n:03d},New{n},Person{n},new{n}@example.com,,Austin,73301\n")


# Killed mid-copy, after the snapshot is complete, right after the manifest swap, before the catalog swap and
# while pruning: every step of the publish protocol with a different outcome for readers.
CRASHES = (
    ("publish.copied.AlternateKey", False),
    ("publish.snapshot_complete", False),
    ("publish.manifest_swapped", True),
    ("catalog.before_swap", True),
    ("publish.pruned_one", True),
)


# Every step on S3; on Azure the two that decide what readers see (each cloud run costs a minute on an emulator).
@pytest.mark.parametrize(("form", "crashes"), [("s3", CRASHES), ("az", (CRASHES[0], CRASHES[2]))], ids=["s3", "az"])
def test_a_publish_killed_half_way_on_a_cloud_lake_leaves_the_previous_export(
    request: pytest.FixtureRequest, tmp_path: Path, form: str, crashes: tuple[tuple[str, bool], ...]
) -> None:
    project_dir = example_on(request, tmp_path, form)
    project = Project.load(project_dir)
    project.run()
    if any(point == "publish.pruned_one" for point, _ in crashes):
        for _ in range(2):
            project.run(stage="publish")  # three complete snapshots: the next publish prunes one
    seen = [assert_consistent_cloud_export(project_dir)]
    for n, (point, committed) in enumerate(crashes):
        add_contact(project_dir, n)  # every run publishes something new
        result = custdim("run", "--project", str(project_dir), failpoint=point, timeout=300)
        assert result.returncode == FAILPOINT_EXIT, f"{point} was not reached:\n{result.stdout}\n{result.stderr}"
        after = assert_consistent_cloud_export(project_dir)
        assert (after != seen[-1]) == committed, point
        seen.append(after)

    result = custdim("run", "--project", str(project_dir), timeout=300)
    assert result.returncode == 0, result.stderr
    final = assert_consistent_cloud_export(project_dir)
    assert final not in seen
    assert cloud_leftovers(project_dir) == []
    names = Project.load(project_dir).sql("SELECT FirstName FROM Customer").column(0).to_pylist()
    assert {f"New{n}" for n in range(len(crashes))} <= set(names)
    lake = Project.load(project_dir).lake
    assert all(snapshots.is_complete(lake, s) for s in snapshots.all_snapshots(lake))
