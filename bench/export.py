"""Export and SQL endpoint benchmark: publishing 1M customers + 10M activities as Parquet, CSV and Delta, and the
endpoint's latency at that size.

``python -m bench.run --suite export [--customers 1000000] [--activities 10000000]`` (or ``python -m bench.export``).
In ``bench/work/export-<customers>/``, each phase in its own process so that every peak memory is its own:

1. ``prepare``: the insights suite's retailer (same generator and project file, plus ``export:``), then custdim
   ingest -> segments and the (unconfigured, empty) predictions stage on DuckDB: the work zone a publish exports;
2. ``parquet``, ``csv``, ``delta``, ``parquet-pseudonymized``: ``Project.run(stage="publish")`` with that
   ``export.format`` (the last with ``pseudonymize: [Email]``), timed, memory-sampled, its snapshot's size on disk;
3. ``floor``: the same entities written by the tools alone, no CDM metadata, no verification: DuckDB ``COPY ... TO``
   CSV and Parquet, and ``deltalake.write_deltalake`` of each entity's Parquet files;
4. ``endpoint``: the Parquet export served by ``custdim serve sql``; psycopg measures a point lookup by CustomerId
   (Customer and dim_customer) and an aggregate over fact_activity, against the same SQL on an in-process DuckDB
   connection to the same catalog.

Results: ``bench/results/export.{json,md}``. Reports; never fails on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / "work"
FORMATS = ("parquet", "csv", "delta", "parquet-pseudonymized")
PHASES = ("prepare", *FORMATS, "floor", "endpoint")
DEFAULT_CUSTOMERS = 1_000_000
DEFAULT_ACTIVITIES = 10_000_000
LOOKUPS = 300
AGGREGATES = 40
USER, PASSWORD = "bench", "bench-password-1"
KEY = "a-benchmark-pseudonym-key-0123456789"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.phase is not None:
        return _child(args.phase, args.export_customers, args.export_activities, args.seed)
    return run(args.export_customers, args.export_activities, args.seed, args.out, args.reuse)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.splitlines()[0])
    add_options(parser)
    parser.add_argument("--seed", type=int, default=42, help="data generator seed (default: 42)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument("--reuse", action="store_true", help="keep an already prepared work folder of this size")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    """The export suite's own options (also offered by ``python -m bench.run``)."""
    parser.add_argument("--export-customers", type=int, default=DEFAULT_CUSTOMERS, help="export suite: customers")
    parser.add_argument(
        "--export-activities", type=int, default=DEFAULT_ACTIVITIES, help="export suite: activity rows (all types)"
    )


def work_dir(customers: int) -> Path:
    return WORK_DIR / f"export-{customers}"


# --- parent ---------------------------------------------------------------------------------------------------------


def run(customers: int, activities: int, seed: int, out: Path, reuse: bool = False) -> int:
    """All phases; ``reuse`` keeps a prepared work folder of the same size (skips ``prepare``)."""
    from bench.run import git_state, machine_facts, run_child

    directory = work_dir(customers)
    prepared = reuse and (directory / "lake" / "work" / "_state" / "segments.json").exists()
    if not prepared:
        shutil.rmtree(directory, ignore_errors=True)
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        if phase == "prepare" and prepared:
            results[phase] = json.loads((directory / "prepared.json").read_text(encoding="utf-8"))
            continue
        print(f"export {customers:,} customers / {activities:,} activities: {phase} ...", flush=True)
        command = [sys.executable, "-m", "bench.export", "--phase", phase, "--export-customers", str(customers)]
        command += ["--export-activities", str(activities), "--seed", str(seed)]
        results[phase] = run_child(command, phase)
        r = results[phase]
        print(f"  {r.get('status')}: {r.get('seconds', '')} s {r.get('error', '')}", flush=True)
        if phase == "prepare":
            if r["status"] != "succeeded":
                break
            (directory / "prepared.json").write_text(json.dumps(r), encoding="utf-8")
    doc = {
        "version": 1,
        "benchmark": "export",
        "customers": customers,
        "activities": activities,
        "seed": seed,
        "timestamp": timestamp,
        **git_state(),
        "machine": machine_facts(),
        "phases": results,
    }
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "export.json", out / "export.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(doc), encoding="utf-8")
    print()
    print(md_path.read_text(encoding="utf-8"))
    print(f"wrote {json_path} and {md_path}")
    return 0 if all(r["status"] == "succeeded" for r in results.values()) else 1


def render_markdown(doc: dict[str, Any]) -> str:
    from bench.run import header_lines

    phases = doc["phases"]
    lines = ["# custdim export and SQL endpoint benchmark", "", *header_lines(doc, doc["seed"])]
    lines.append(f"- {doc['customers']:,} customers, {doc['activities']:,} activity rows")
    prep = phases.get("prepare", {})
    if prep.get("status") == "succeeded":
        lines.append(
            f"- prepared in {prep['seconds']:.1f} s (generate + ingest -> segments, not measured here): "
            f"{prep['rows'].get('Customer', 0):,} profiles, {prep['rows'].get('UnifiedActivity', 0):,} activities"
        )
    lines += ["", "## Publishing the export", "",
              "| format | seconds | peak GiB | size on disk | rows | floor (the tool alone) | custdim / floor |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    floor = phases.get("floor", {}) if phases.get("floor", {}).get("status") == "succeeded" else {}
    for fmt in FORMATS:
        r = phases.get(fmt, {})
        if r.get("status") != "succeeded":
            lines.append(f"| {fmt} | failed: {r.get('error', 'not run')} | | | | | |")
            continue
        base = fmt.split("-")[0]
        f = floor.get(base)
        floor_text = f"{f['seconds']:.1f} s, {f['bytes'] / 2**30:.2f} GiB ({f['tool']})" if f else ""
        ratio = f"{r['seconds'] / f['seconds']:.2f}x" if f else ""
        lines.append(
            f"| {fmt} | {r['seconds']:.1f} | {r['peak_rss_mb'] / 1024:.2f} | {r['bytes'] / 2**30:.2f} GiB | "
            f"{sum(r['rows'].values()):,} | {floor_text} | {ratio} |"
        )
    lines += ["", "*seconds*: the publish stage (write every entity, read each back to verify rows and columns, "
              "manifest, model.json, SQL catalog); the floor writes the same rows with nothing else. Parquet "
              "sorts entities with a CustomerId by it (row groups of 100k rows), then copies those files byte for byte "
              "unless pseudonymizing.", ""]  # fmt: skip
    e = phases.get("endpoint", {})
    if e.get("status") == "succeeded":
        lines += ["## SQL endpoint latency", "",
                  "| query | runs | endpoint p50 ms | endpoint p99 ms | in-process DuckDB p50 ms | p99 ms | "
                  "endpoint / in-process (p50) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for name, q in e["queries"].items():
            ratio = q["endpoint"]["p50"] / q["direct"]["p50"]
            lines.append(
                f"| {name} | {q['runs']} | {q['endpoint']['p50']:.1f} | {q['endpoint']['p99']:.1f} | "
                f"{q['direct']['p50']:.1f} | {q['direct']['p99']:.1f} | {ratio:.2f}x |"
            )
        lines += ["", "Endpoint: psycopg 3 over loopback, server-side parameters, one connection, warm (each query "
                  "run 5 times first). In-process: the same SQL on a DuckDB cursor over the same catalog file. "
                  f"SQL: {json.dumps(e['sql'])}", ""]  # fmt: skip
    elif e:
        lines += ["## SQL endpoint latency", "", f"failed: {e.get('error')}", ""]
    return "\n".join(lines) + "\n"


# --- children -------------------------------------------------------------------------------------------------------


def _child(phase: str, customers: int, activities: int, seed: int) -> int:
    from bench.run import report_child

    directory = work_dir(customers)

    def work() -> dict[str, Any]:
        if phase == "prepare":
            return prepare_phase(directory, customers, activities, seed)
        if phase == "floor":
            return floor_phase(directory)
        if phase == "endpoint":
            return endpoint_phase(directory)
        return publish_phase(directory, phase)

    return report_child(work)


def _project_text(directory: Path, export: str) -> None:
    from bench.insights import PROJECT

    (directory / "custdim.yaml").write_text(PROJECT + export, encoding="utf-8")


def prepare_phase(directory: Path, customers: int, activities: int, seed: int) -> dict[str, Any]:
    from bench.insights import generate
    from custdim.project import Project
    from custdim.stages import STAGE_NAMES

    started = time.perf_counter()
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    generated = generate(data, customers, activities, seed)
    _project_text(directory, "export:\n  keep_snapshots: 1\n")
    project = Project.load(directory)
    rows: dict[str, int] = {}
    for stage in [s for s in STAGE_NAMES if s != "publish"]:
        report = project.run(stage=stage)
        rows.update(report.stages[0].rows_out)
    return {"status": "succeeded", "seconds": round(time.perf_counter() - started, 3), "generated": generated,
            "rows": rows}  # fmt: skip


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def publish_phase(directory: Path, variant: str) -> dict[str, Any]:
    from bench.er_metrics import RssSampler
    from custdim.project import Project

    fmt = variant.split("-")[0]
    extra = "  pseudonymize: [Email]\n" if variant.endswith("pseudonymized") else ""
    _project_text(directory, f"export:\n  format: {fmt}\n  keep_snapshots: 1\n{extra}")
    os.environ["CUSTDIM_PSEUDONYM_KEY"] = KEY
    project = Project.load(directory)
    with RssSampler() as rss, rss.phase("publish"):
        report = project.run(stage="publish")
    stage = report.stages[0]
    snapshot = Path(stage.details["snapshot"])
    return {
        "status": "succeeded",
        "seconds": round(stage.seconds, 3),
        "peak_rss_mb": rss.peak_mb(),
        "bytes": _size(snapshot),
        "rows": stage.rows_out,
    }


def floor_phase(directory: Path) -> dict[str, Any]:
    """The export's rows written by DuckDB and delta-rs alone (what the formats cost without custdim)."""
    import duckdb  # noqa: TID251 - the floor is DuckDB alone on purpose
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake import write_deltalake

    from custdim.contracts import EXPORT_ENTITIES as ENTITIES

    entities = directory / "lake" / "work" / "entities"
    out = directory / "floor"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    result: dict[str, Any] = {"status": "succeeded"}
    con = duckdb.connect()
    for fmt, options in (("parquet", "FORMAT parquet"), ("csv", "FORMAT csv, HEADER true")):
        target = out / fmt
        target.mkdir()
        started = time.perf_counter()
        for name in ENTITIES:
            source = str(entities / name / "*.parquet")
            con.execute(f"COPY (SELECT * FROM read_parquet('{source}')) TO '{target / name}.{fmt}' ({options})")
        result[fmt] = {"seconds": round(time.perf_counter() - started, 3), "bytes": _size(target),
                       "tool": f"DuckDB COPY TO {fmt}"}  # fmt: skip
    target = out / "delta"
    started = time.perf_counter()
    for name in ENTITIES:
        dataset = ds.dataset(str(entities / name), format="parquet")
        schema = _delta_schema(dataset.schema)
        batches = (b.cast(schema) for b in dataset.to_batches())
        write_deltalake(str(target / name), pa.RecordBatchReader.from_batches(schema, batches))
    result["delta"] = {"seconds": round(time.perf_counter() - started, 3), "bytes": _size(target),
                       "tool": "deltalake.write_deltalake"}  # fmt: skip
    return result


def _delta_schema(schema: Any) -> Any:
    from custdim.stages.publish.formats import delta_schema

    return delta_schema(schema)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def endpoint_phase(directory: Path) -> dict[str, Any]:
    import psycopg

    from custdim.engines.duckdb_reader import CatalogReader
    from custdim.project import Project

    _project_text(directory, "export:\n  format: parquet\n  keep_snapshots: 1\n")
    project = Project.load(directory)
    project.run(stage="publish")
    rng = random.Random(7)
    ids = rng.sample(project.sql("SELECT CustomerId FROM Customer").column(0).to_pylist(), 2000)
    keys = sorted(project.sql("SELECT DISTINCT DateKey FROM fact_activity").column(0).to_pylist())
    sql = {
        "point lookup: Customer by CustomerId": 'SELECT * FROM "Customer" WHERE "CustomerId" = $1',
        "point lookup: dim_customer by CustomerId": 'SELECT * FROM dim_customer WHERE "CustomerId" = $1',
        "aggregate: fact_activity by type since a date": 'SELECT "ActivityType", count(*) AS n, sum("Amount") AS '
        'amount FROM fact_activity WHERE "DateKey" >= $1 GROUP BY 1 ORDER BY 1',
    }
    params = {
        name: [[rng.choice(ids)] for _ in range(LOOKUPS)] if "lookup" in name else
        [[rng.choice(keys)] for _ in range(AGGREGATES)]
        for name in sql
    }  # fmt: skip
    port = free_port()
    env = {**os.environ, "CUSTDIM_SQL_USERS": f"{USER}:{PASSWORD}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "custdim.cli.main", "serve", "sql", "-p", str(directory), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if "custdim SQL endpoint" not in line:
            raise RuntimeError(f"the endpoint did not start: {line} {server.stderr.read() if server.stderr else ''}")
        queries: dict[str, Any] = {}
        dsn = f"host=127.0.0.1 port={port} user={USER} password={PASSWORD} dbname=custdim"
        with psycopg.connect(dsn) as con:
            for name, text in sql.items():
                psql = text.replace("$1", "%s")
                for p in params[name][:5]:
                    con.execute(psql, p, prepare=True).fetchall()
                timings = []
                for p in params[name]:
                    started = time.perf_counter()
                    con.execute(psql, p, prepare=True).fetchall()
                    timings.append((time.perf_counter() - started) * 1000)
                queries[name] = {"runs": len(timings), "endpoint": _percentiles(timings)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    reader = CatalogReader(project.lake.catalog(), [project.lake.path("export")], "custdim")
    cur = reader.cursor()
    for name, text in sql.items():
        for p in params[name][:5]:
            cur.execute(text, p).fetchall()
        timings = []
        for p in params[name]:
            started = time.perf_counter()
            cur.execute(text, p).fetchall()
            timings.append((time.perf_counter() - started) * 1000)
        queries[name]["direct"] = _percentiles(timings)
    cur.close()
    reader.close()
    return {"status": "succeeded", "seconds": 0, "queries": queries, "sql": sql}


if __name__ == "__main__":
    raise SystemExit(main())
