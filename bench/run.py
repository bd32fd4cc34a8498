"""Benchmark custdim on generated data: ``python -m bench.run [--suite pipeline|er|insights|all] [--sizes ...]``.

Suites: ``pipeline`` runs the full custdim pipeline per size (``--sizes``, customers); ``er`` compares custdim's unify
with Splink per size (``--records``, customer records; see :mod:`bench.er`); ``insights`` times the measures and
segments stages against a hand-written DuckDB query and on Spark (``--customers``, ``--activities``; see
:mod:`bench.insights`); ``clv`` fits the lifetime-value models against the ``lifetimes`` package
(``--clv-customers``; see :mod:`bench.clv`); ``predictions`` judges every model on held-out time against its
baseline on the demo retailer (``--prediction-customers``, ``--prediction-seeds``; see :mod:`bench.predictions`);
``export`` publishes 1M customers as Parquet, CSV and Delta and measures the SQL endpoint's latency
(``--export-customers``, ``--export-activities``; see :mod:`bench.export`); ``ingest`` lands one large CSV file
streamed and whole against DuckDB's own copy (``--ingest-rows``; see :mod:`bench.ingest`); ``incremental`` runs a 1%
change set incrementally against a full run (``--incremental-records``; see :mod:`bench.incremental`); ``all`` (the
default) runs all eight.
Each size runs in fresh processes (one to generate the data, one to run the pipeline on it), so timings start cold
and peak memory belongs to that size and phase alone. Results go to ``bench/results/pipeline_<engine>.{json,md}``
, ``bench/results/er.{json,md}``, ``bench/results/insights.{json,md}`` and
``bench/results/clv.{json,md}`` and ``bench/results/predictions.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.report import build_run, render_table, write_results

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "work"
DEFAULT_SIZES = (10_000, 100_000)
PHASES = ("generate", "pipeline")
SUITES = ("pipeline", "er", "insights", "clv", "predictions", "export", "ingest", "incremental", "all")
ER_DEFAULT_RECORDS = (100_000, 1_000_000)  # bench.er.DEFAULT_RECORDS (not imported: bench.er imports this module)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.one is not None:
        return _child(args.phase, args.one, args.engine, args.seed)
    status = 0
    if args.suite in ("pipeline", "all"):
        status = max(status, run(args.sizes, args.engine, args.seed, args.out))
    if args.suite in ("er", "all"):
        from bench import er

        status = max(status, er.run(args.records, args.seed, args.out))
    if args.suite in ("insights", "all"):
        from bench import insights

        status = max(status, insights.run(args.customers, args.activities, args.seed, args.out, not args.no_spark))
    if args.suite in ("clv", "all"):
        from bench import clv

        status = max(status, clv.run(args.clv_customers, args.out))
    if args.suite in ("predictions", "all"):
        from bench import predictions

        status = max(status, predictions.run(args.prediction_customers, args.prediction_seeds, args.out))
    if args.suite in ("export", "all"):
        from bench import export

        status = max(status, export.run(args.export_customers, args.export_activities, args.seed, args.out))
    if args.suite in ("ingest", "all"):
        from bench import ingest

        status = max(status, ingest.run(args.ingest_rows, args.seed, args.out))
    if args.suite in ("incremental", "all"):
        from bench import incremental

        status = max(status, incremental.run(args.incremental_records, args.seed, args.out))
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=SUITES, default="all", help="which benchmark to run (default: all)")
    parser.add_argument("--sizes", type=_sizes, default=DEFAULT_SIZES, help="customers per run, comma-separated")
    parser.add_argument("--engine", default="duckdb", help="custdim engine (default: duckdb)")
    parser.add_argument(
        "--records",
        type=_records,
        default=ER_DEFAULT_RECORDS,
        help="er suite: customer records per run, comma-separated",
    )
    from bench import clv, export, incremental, ingest, insights, predictions

    insights.add_options(parser)
    incremental.add_options(parser)
    export.add_options(parser)
    ingest.add_options(parser)
    clv.add_options(parser)
    predictions.add_options(parser)
    parser.add_argument("--seed", type=int, default=42, help="data generator seed (default: 42)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    # Internal: run one phase of one size in this process and print its JSON on stdout.
    parser.add_argument("--one", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=PHASES, default="pipeline", help=argparse.SUPPRESS)
    return parser


def _sizes(text: str) -> tuple[int, ...]:
    from bench.er import int_list

    return int_list(text, "sizes", minimum=1)


def _records(text: str) -> tuple[int, ...]:
    from bench.er import records_list

    return records_list(text)


def work_dir(engine: str, customers: int) -> Path:
    return WORK_DIR / f"{engine}-{customers}"


# --- parent: one row per size ---------------------------------------------------------------------------------------


def run(sizes: tuple[int, ...], engine: str, seed: int, out: Path) -> int:
    console = Console(highlight=False)
    environment = {**git_state(), "machine": machine_facts()}
    runs: list[dict[str, Any]] = []
    for i, customers in enumerate(sizes, start=1):
        tag = f"[{i}/{len(sizes)}] {customers:,} customers on {engine}"
        console.print(f"{tag}: started", markup=False, soft_wrap=True)
        run_record = run_size(customers, engine, seed, environment)
        runs.append(run_record)
        console.print(f"{tag}: {_outcome(run_record)}", markup=False, soft_wrap=True)
    json_path, md_path = write_results(out, engine, runs)
    print()
    print(render_table(runs))
    print()
    print(f"wrote {_shown(json_path)} and {_shown(md_path)}")
    return 0 if all(r["status"] == "succeeded" for r in runs) else 1


def run_size(customers: int, engine: str, seed: int, environment: dict[str, Any]) -> dict[str, Any]:
    """Generate and run one size in fresh processes, in a fresh work folder."""
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    shutil.rmtree(work_dir(engine, customers), ignore_errors=True)
    generation = _phase("generate", customers, engine, seed)
    if generation["status"] == "succeeded":
        pipeline = _phase("pipeline", customers, engine, seed)
    else:
        pipeline = {key: generation.get(key) for key in ("status", "error", "traceback")}
    return build_run(
        customers=customers,
        engine=engine,
        seed=seed,
        timestamp=timestamp,
        environment=environment,
        generation=generation,
        pipeline=pipeline,
    )


def _phase(phase: str, customers: int, engine: str, seed: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.run", "--one", str(customers), "--phase", phase]
    return run_child([*command, "--engine", engine, "--seed", str(seed)], phase)


def header_lines(doc: dict[str, Any], seed: object | None = None) -> list[str]:
    """The commit and machine lines every results page starts with."""
    m = doc["machine"]
    dirty = " (with uncommitted changes)" if doc.get("git_dirty") else ""
    seeded = f", seed {seed}" if seed is not None else ""
    return [
        f"- commit `{doc['commit']}`{dirty}, {doc['timestamp']}{seeded}",
        f"- {m['platform']}, {m['cpu_count']} CPUs ({m['cpu_model']}), "
        f"{(m['total_memory_bytes'] or 0) / 2**30:.1f} GiB RAM",
    ]


def run_child(command: list[str], what: str) -> dict[str, Any]:
    """Run one benchmark phase in a child process: its stdout's last line is one JSON object (the result), its
    stderr passes through. A child that dies without a result becomes a failed result saying how it ended."""
    done = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    with contextlib.suppress(ValueError, IndexError):
        result: dict[str, Any] = json.loads(lines[-1])
        return result
    reason = f"exit code {done.returncode}"
    if done.returncode < 0:
        reason = f"killed by {signal.Signals(-done.returncode).name}"
    return {"status": "failed", "error": f"{what} process ended without a result ({reason})", "traceback": None}


def _outcome(run_record: dict[str, Any]) -> str:
    if run_record["status"] != "succeeded":
        return f"FAILED: {run_record['error']}"
    quality = run_record["quality"] or {}
    return (
        f"done: pipeline {run_record['pipeline_seconds']:.1f} s, generation {run_record['generation_seconds']:.1f} s, "
        f"peak {run_record['pipeline_peak_rss_mb']:.0f} MiB, {run_record['records_per_second']:,.0f} records/s, "
        f"F1 {quality.get('f1', 0):.4f}"
    )


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


# --- child: one phase of one size ----------------------------------------------------------------------------------


def _child(phase: str, customers: int, engine: str, seed: int) -> int:
    from bench.pipeline import generate_phase, pipeline_phase

    directory = work_dir(engine, customers)

    def work() -> dict[str, Any]:
        if phase == "generate":
            return {"status": "succeeded", **generate_phase(directory, customers, seed)}
        return pipeline_phase(directory, engine)

    return report_child(work)


def report_child(work: Callable[[], dict[str, Any]]) -> int:
    """Run a child's work with stdout kept for its JSON result; failures become a result with the traceback."""
    with _stdout_to_stderr():
        try:
            result = work()
        except Exception as exc:
            result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        if result.get("traceback"):
            print(result["traceback"], file=sys.stderr)
    print(json.dumps(result))
    return 0 if result["status"] == "succeeded" else 1


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (by Python or native code) to stderr, keeping stdout for the result."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


# --- facts about where the numbers come from ------------------------------------------------------------------------


def git_state() -> dict[str, Any]:
    """Short commit of HEAD ("unknown" outside git) and whether tracked files differ from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results")
    return {"commit": commit or "unknown", "git_dirty": bool(status) if commit else None}


def machine_facts() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "total_memory_bytes": _total_memory(),
        "python": platform.python_version(),
        "duckdb": _version("duckdb"),
        "ibis": _version("ibis-framework"),
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _total_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
