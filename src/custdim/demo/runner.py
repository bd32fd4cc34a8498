"""`custdim demo`: generate the retailer, write its project file, run the pipeline and judge it against truth."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from custdim.contracts import CUSTOMER, EXPORT_MANIFEST
from custdim.demo.generate import DemoDataset, generate
from custdim.demo.project_file import write_project_file
from custdim.errors import UsageError
from custdim.metrics.clusters import ClusterQuality, cluster_quality
from custdim.metrics.pairs import PairQuality, pair_quality
from custdim.project import Project

if TYPE_CHECKING:
    from rich.console import Console

    from custdim.report import RunReport
    from custdim.stages.context import ProgressFn


EXAMPLE_QUERIES = (
    '"SELECT FirstName, LastName, Email, ActivityCount, TotalAmount FROM dim_customer '
    'ORDER BY TotalAmount DESC LIMIT 10"',
    '"SELECT SourceRecordCount, count(*) AS profiles FROM Customer GROUP BY 1 ORDER BY 1"',
    '--format csv "SELECT RuleName, count(*) AS pairs FROM MatchPairs GROUP BY 1"',
    '"SELECT FirstName, LastName, TotalTransactionValue, DaysSinceLastPurchase, FavouriteCategory FROM dim_customer '
    "WHERE list_contains(Segments, 'win-back') LIMIT 10\"",
)


@dataclass(frozen=True)
class DemoResult:
    directory: Path
    dataset: DemoDataset
    project: Project
    report: RunReport
    quality: PairQuality
    clusters: ClusterQuality


def load_truth(path: Path) -> dict[tuple[str, str, str], str]:
    """(source, table, key) -> person id from the generator's truth file."""
    with path.open(newline="", encoding="utf-8") as fh:
        return {(r["source"], r["table"], r["key"]): r["person_id"] for r in csv.DictReader(fh)}


def evaluate(project: Project, truth_path: Path) -> tuple[PairQuality, ClusterQuality]:
    """Pairwise and exact-cluster quality of the published AlternateKey against the truth file."""
    keys = project.sql("SELECT SourceName, TableName, SourceKey, CustomerId FROM AlternateKey").to_pylist()
    predicted = {(k["SourceName"], k["TableName"], k["SourceKey"]): k["CustomerId"] for k in keys}
    truth = load_truth(truth_path)
    return pair_quality(predicted, truth), cluster_quality(predicted, truth)


def check_demo_dir(directory: Path, force: bool = False) -> None:
    """Refuse to write the demo into a file, or into a folder that holds anything, unless ``force`` is set.

    The demo overwrites custdim.yaml, data/, truth/ and lake/: in someone's own project that would destroy their work.
    """
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--dir {directory} is a file, not a folder; choose another --dir")
    if force or not directory.exists():
        return
    if any(directory.iterdir()):
        raise UsageError(
            f"--dir {directory} is not empty; choose an empty or new folder, or pass --force to write the demo "
            "project into it anyway (its custdim.yaml, data/, truth/ and lake/ are overwritten)"
        )


def run_demo(
    directory: Path,
    customers: int = 10_000,
    seed: int = 42,
    engine: str = "duckdb",
    progress: ProgressFn | None = None,
    force: bool = False,
) -> DemoResult:
    """Generate the sample retailer into ``directory`` and run the full pipeline on it.

    ``directory`` must be new or empty unless ``force`` is set (see :func:`check_demo_dir`).
    """
    check_demo_dir(directory, force)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    dataset = generate(directory, customers=customers, seed=seed)
    write_project_file(directory, engine)
    project = Project.load(directory)
    report = project.run(progress=progress)
    pairs, clusters = evaluate(project, dataset.truth_path)
    return DemoResult(directory, dataset, project, report, pairs, clusters)


def demo_summary(console: Console, result: DemoResult) -> None:
    """What a person wants to read after the demo: in, out, quality, where, what next."""
    merge = result.report.stage("merge")
    records = merge.rows_in.get("records", 0) if merge else 0
    profiles = merge.rows_out.get(CUSTOMER, 0) if merge else 0
    q = result.quality
    console.print(
        f"\n[bold]{records:,}[/] customer records from {len(result.dataset.files)} source files "
        f"-> [bold]{profiles:,}[/] profiles ({result.dataset.people:,} real people) in {result.report.seconds:.1f} s"
    )
    c = result.clusters
    console.print(
        f"match quality vs truth: pairwise precision {q.precision:.3f}, recall {q.recall:.3f}, F1 {q.f1:.3f}; "
        f"exact profiles {c.exact_clusters:,} of {c.true_clusters:,} people (cluster F1 {c.f1:.3f})"
    )
    console.print(f"lake: {result.project.lake.root}")
    console.print(f"CDM manifest: {result.project.lake.url('export', EXPORT_MANIFEST)}\n")
    d = result.directory
    console.print("try:")
    for query in EXAMPLE_QUERIES:
        console.print(f"  custdim sql -p {d} {query}", soft_wrap=True, highlight=False)
