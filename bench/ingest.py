"""Ingest benchmark: landing one large CSV extract, streamed and whole, against DuckDB's own CSV-to-Parquet copy.

``python -m bench.run --suite ingest [--ingest-rows 10000000]`` (or ``python -m bench.ingest``). In
``bench/work/ingest-<rows>/``, each phase in its own process so that every peak memory is its own:

1. ``generate``: a CRM contacts extract as one CSV file (ids, accented names, emails, phones, postcodes with leading
   zeros, birth dates, amounts, a quoted comma here and there), about 95 bytes per row;
2. ``streamed``: ``custdim run --stage ingest`` as shipped: the file is parsed block by block and every block written
   as a Parquet part, then typed, keyed and landed by the engine (declared types: birth date and amount);
3. ``whole``: the same with streaming switched off, i.e. the whole-file reader every file used before;
4. ``floor``: DuckDB alone: ``COPY (SELECT * FROM read_csv(file, all_varchar = true)) TO 'x.parquet'`` -- the rows
   as text in Parquet, no types, no keys, no rejects;
5. ``spark-driver``: the ingest stage with ``engine: spark``, the file streamed through the driver process;
6. ``spark``: the same as shipped: Spark's executors read and parse the file (Spark's read path), the driver never
   holds its rows. Peak memory is this Python process's; Spark's JVM is bounded by its heap setting either way;
7. the same extract as one Parquet file (written by ``generate``, row groups of 131,072 rows, every column text),
   landed on DuckDB (``parquet``, row group by row group in this process), on Spark through the driver
   (``spark-parquet-driver``) and on Spark's workers, one task per row group (``spark-parquet``, as shipped).

Results: ``bench/results/ingest.{json,md}``. Reports; never fails on speed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / "work"
PHASES = ("generate", "streamed", "whole", "floor", "spark-driver", "spark", "parquet", "spark-parquet-driver",
          "spark-parquet")  # fmt: skip
PARQUET_ROW_GROUP = 131_072
DEFAULT_ROWS = 10_000_000

PROJECT = """\
name: ingest-bench
lake: lake
sources:
  - name: crm
    type: files
    tables:
      - name: contacts
        path: data/contacts.csv
        primary_key: contact_id
        columns: {birth_date: date, amount: "decimal(12,2)"}
unify:
  tables:
    - table: crm.contacts
      fields: {first_name: Person.FirstName, last_name: Person.LastName, email: Identity.Service.Email}
  match:
    rules:
      - name: same-email
        conditions:
          - {field: Email, precision: exact, normalize: [lowercase]}
"""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.phase is not None:
        from bench.run import report_child

        return report_child(lambda: _phase(args.phase, work_dir(args.ingest_rows), args.ingest_rows, args.seed))
    return run(args.ingest_rows, args.seed, args.out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    add_options(parser)
    parser.add_argument("--seed", type=int, default=42, help="data generator seed (default: 42)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    """The ingest suite's own options (also offered by ``python -m bench.run``)."""
    parser.add_argument("--ingest-rows", type=int, default=DEFAULT_ROWS, help="ingest suite: rows in the CSV file")


def work_dir(rows: int) -> Path:
    return WORK_DIR / f"ingest-{rows}"


def run(rows: int, seed: int, out: Path) -> int:
    """Every phase in its own process; writes ingest.json and ingest.md under ``out``."""
    from bench.run import git_state, machine_facts, run_child

    directory = work_dir(rows)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        print(f"ingest {rows:,} rows: {phase} ...", flush=True)
        command = [sys.executable, "-m", "bench.ingest", "--phase", phase, "--ingest-rows", str(rows)]
        results[phase] = run_child([*command, "--seed", str(seed)], phase)
        r = results[phase]
        print(f"  {r.get('status')}: {r.get('seconds', '')} s {r.get('error', '')}", flush=True)
        if phase == "generate" and r["status"] != "succeeded":
            break
    doc = {"version": 1, "benchmark": "ingest", "rows": rows, "seed": seed, "timestamp": timestamp, **git_state(),
           "machine": machine_facts(), "phases": results}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "ingest.md").write_text(render_markdown(doc), encoding="utf-8")
    print((out / "ingest.md").read_text(encoding="utf-8"))
    shutil.rmtree(directory, ignore_errors=True)
    return 0 if all(r["status"] == "succeeded" for r in results.values()) else 1


def render_markdown(doc: dict[str, Any]) -> str:
    from bench.run import header_lines

    phases = doc["phases"]
    gen = phases.get("generate", {})
    lines = ["# custdim ingest benchmark: one large CSV extract", "", *header_lines(doc, doc["seed"])]
    if gen.get("status") == "succeeded":
        lines.append(f"- {doc['rows']:,} rows, {gen['bytes'] / 2**30:.2f} GiB of CSV in one file")
    lines += ["", *_table(phases, CSV_READERS, "floor", "DuckDB alone", rejected=True)]
    lines += ["", "custdim also applies the declared types strictly, checks keys, keeps rejects and writes the raw "
              "CDM manifest; DuckDB alone writes the text as it reads it.", "",
              "The same extract as one Parquet file (every column text, row groups of 131,072 rows):", ""]  # fmt: skip
    lines += _table(phases, PARQUET_READERS, "parquet", "DuckDB engine", rejected=False)
    lines.append("")
    return "\n".join(lines)


CSV_READERS = {
    "streamed": "custdim, streamed (default)",
    "whole": "custdim, whole file",
    "floor": "DuckDB alone",
    "spark-driver": "custdim on Spark, streamed by the driver",
    "spark": "custdim on Spark, read by the executors (default)",
}
PARQUET_READERS = {
    "parquet": "custdim on DuckDB, row groups read in process (default)",
    "spark-parquet-driver": "custdim on Spark, row groups read by the driver",
    "spark-parquet": "custdim on Spark, row groups read by the workers (default)",
}


def _table(
    phases: dict[str, Any], readers: dict[str, str], base_phase: str, base_name: str, rejected: bool
) -> list[str]:
    """A markdown table of the given phases, times as ratios to ``base_phase``."""
    extra = " rejected |" if rejected else ""
    lines = [f"| reader | seconds | peak GiB | rows landed |{extra} vs {base_name} |",
             "| --- | ---: | ---: | ---: |" + (" ---: |" if rejected else "") + " ---: |"]  # fmt: skip
    base = phases.get(base_phase, {})
    for phase, label in readers.items():
        r = phases.get(phase, {})
        if r.get("status") != "succeeded":
            lines.append(f"| {label} | failed: {r.get('error', 'not run')} | | |{' |' if rejected else ''} |")
            continue
        ratio = f"{r['seconds'] / base['seconds']:.2f}x" if base.get("status") == "succeeded" else ""
        count = f" {r.get('rejected', 0):,} |" if rejected else ""
        lines.append(
            f"| {label} | {r['seconds']:.1f} | {r['peak_rss_mb'] / 1024:.2f} | {r['rows']:,} |{count} {ratio} |"
        )
    return lines


def _phase(phase: str, directory: Path, rows: int, seed: int) -> dict[str, Any]:
    if phase == "generate":
        return generate(directory, rows, seed)
    if phase == "floor":
        return floor(directory)
    if phase == "parquet":
        return ingest(directory, streamed=True, source="parquet")
    if phase.startswith("spark-parquet"):
        return ingest(directory, True, engine="spark", executors=phase == "spark-parquet", source="parquet")
    if phase.startswith("spark"):
        return ingest(directory, streamed=True, engine="spark", executors=phase == "spark")
    return ingest(directory, streamed=phase == "streamed")


def generate(directory: Path, rows: int, seed: int) -> dict[str, Any]:
    """Write data/contacts.csv and the project file."""
    started = time.perf_counter()
    rng = random.Random(seed)
    first = ["Anna", "José", "Zoë", "Mårten", "Robert", "Bob", "Siobhán", "Łukasz", "Chloé", "Mohammed", "Li"]
    last = ["Müller", "Smith", "O'Brien", "García", "Nguyen", "Kowalski", "Öztürk", "Dubois", "Rossi", "Brown"]
    cities = ["Boston", "Salem", '"Washington, D.C."', "Zürich", "São Paulo", "Kraków"]
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    path = data / "contacts.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("contact_id,first_name,last_name,email,phone,city,zip,birth_date,amount\n")
        block = []
        for i in range(rows):
            f, la = rng.choice(first), rng.choice(last)
            block.append(
                f"C{i:09d},{f},{la},{f.lower()}.{i}@example.com,+1 555 {rng.randint(0, 9999999):07d},"
                f"{rng.choice(cities)},{rng.randint(0, 99999):05d},19{rng.randint(40, 99)}-{rng.randint(1, 12):02d}-"
                f"{rng.randint(1, 28):02d},{rng.randint(0, 999999) / 100:.2f}\n"
            )
            if len(block) == 100_000:
                fh.write("".join(block))
                block = []
        fh.write("".join(block))
    (directory / "custdim.yaml").write_text(PROJECT, encoding="utf-8")
    seconds = round(time.perf_counter() - started, 3)
    _to_parquet(path, data / "contacts.parquet")
    return {"status": "succeeded", "seconds": seconds, "bytes": path.stat().st_size}


def _to_parquet(csv_path: Path, out: Path) -> None:
    """The extract as one Parquet file, every column text, streamed (never the whole file in memory)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    reader = pacsv.open_csv(csv_path, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    schema = pa.schema([(f.name, pa.string()) for f in reader.schema])
    reader = pacsv.open_csv(
        csv_path, convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in schema.names})
    )
    with pq.ParquetWriter(out, schema) as writer:
        for batch in reader:
            writer.write_batch(batch, row_group_size=PARQUET_ROW_GROUP)


def ingest(
    directory: Path, streamed: bool, engine: str = "duckdb", executors: bool = True, source: str = "csv"
) -> dict[str, Any]:
    """custdim's ingest stage on the file, streamed (as shipped) or whole; on Spark, read by the executors (as
    shipped) or through the driver; ``source``: the CSV file or its Parquet copy."""
    from bench.er_metrics import RssSampler
    from custdim.engines.base import Engine
    from custdim.engines.spark import SparkEngine
    from custdim.project import Project
    from custdim.stages.ingest import streaming

    if not streamed:
        streaming.STREAM_BYTES = 1 << 62
    if not executors:
        SparkEngine.land_csv = Engine.land_csv  # type: ignore[method-assign]
        SparkEngine.run_tasks = Engine.run_tasks  # type: ignore[method-assign]
    project_dir = directory
    if engine != "duckdb" or source != "csv":
        project_dir = directory / f"{engine}-{source}"
        project_dir.mkdir(exist_ok=True)
        text = PROJECT.replace("path: data/contacts.csv", f"path: {(directory / 'data').as_posix()}/contacts.{source}")
        (project_dir / "custdim.yaml").write_text(f"{text}engine: {engine}\n", encoding="utf-8")
    shutil.rmtree(project_dir / "lake", ignore_errors=True)
    project = Project.load(project_dir)
    with RssSampler() as rss, rss.phase("ingest"):
        report = project.run(stage="ingest")
    stage = report.stages[0]
    return {
        "status": report.status,
        "seconds": round(stage.seconds, 3),
        "peak_rss_mb": rss.peak_mb(),
        "rows": sum(stage.rows_out.values()),
        "rejected": sum(stage.rejected.values()),
        "rows_in": sum(stage.rows_in.values()),
    }


def floor(directory: Path) -> dict[str, Any]:
    """DuckDB alone: the CSV as text columns into one Parquet file."""
    import duckdb  # noqa: TID251 - the floor is DuckDB alone on purpose

    from bench.er_metrics import RssSampler

    out = directory / "floor.parquet"
    con = duckdb.connect()
    source = (directory / "data" / "contacts.csv").as_posix()
    started = time.perf_counter()
    with RssSampler() as rss, rss.phase("floor"):
        con.execute(f"COPY (SELECT * FROM read_csv('{source}', all_varchar = true)) TO '{out.as_posix()}'")
    seconds = time.perf_counter() - started
    rows = con.execute(f"SELECT count(*) FROM '{out.as_posix()}'").fetchall()[0][0]
    return {"status": "succeeded", "seconds": round(seconds, 3), "peak_rss_mb": rss.peak_mb(), "rows": rows}


if __name__ == "__main__":
    raise SystemExit(main())
