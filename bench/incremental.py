"""Incremental benchmark: a night's 1% change set matched incrementally, against a full run on the same data.

``python -m bench.run --suite incremental [--incremental-records 1000000]`` (or ``python -m bench.incremental``).
In ``bench/work/incremental-<records>/``, each phase in its own process:

1. ``generate``: the demo retailer (messy source files) with about ``records`` customer records;
2. ``base``: the whole pipeline on it, as on the first night;
3. ``changes``: 1% of every customer table's records changed (:mod:`custdim.demo.changes`: new customers, half of
   them known to another system; changed emails, phones, last names, typos; deleted CRM contacts);
4. ``incremental``: the whole pipeline as shipped (the match compares only new and changed records);
5. ``full``: ``custdim run --full`` on the same data: the peer, every record matched afresh.

Then the two runs' pairs, near misses and profiles are compared row for row, and the CustomerId of every profile
the change did not touch is checked. Results: ``bench/results/incremental.{json,md}``. Reports; never fails on speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / "work"
PHASES = ("generate", "base", "changes", "incremental", "full")
DEFAULT_RECORDS = 1_000_000
RECORDS_PER_CUSTOMER = 1.71  # the demo retailer's customer records per person (measured: 3,425 for 2,000)
UNIFY = ("map", "match", "cluster", "merge")
KEYS = "SELECT SourceName, TableName, SourceKey, CustomerId FROM AlternateKey"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.phase is not None:
        from bench.run import report_child

        return report_child(lambda: _phase(args.phase, work_dir(args.incremental_records), args))
    return run(args.incremental_records, args.seed, args.out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental", description=__doc__.splitlines()[0])
    add_options(parser)
    parser.add_argument("--seed", type=int, default=42, help="data generator seed (default: 42)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    """The incremental suite's own options (also offered by ``python -m bench.run``)."""
    parser.add_argument(
        "--incremental-records", type=int, default=DEFAULT_RECORDS, help="incremental suite: customer records"
    )


def work_dir(records: int) -> Path:
    return WORK_DIR / f"incremental-{records}"


def run(records: int, seed: int, out: Path) -> int:
    """Every phase in its own process, then the comparison; writes incremental.json and .md under ``out``."""
    from bench.run import git_state, machine_facts, run_child

    directory = work_dir(records)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        print(f"incremental {records:,} records: {phase} ...", flush=True)
        command = [sys.executable, "-m", "bench.incremental", "--phase", phase]
        command += ["--incremental-records", str(records), "--seed", str(seed)]
        results[phase] = r = run_child(command, phase)
        print(f"  {r.get('status')}: {r.get('seconds', '')} s {r.get('error', '')}", flush=True)
        if r["status"] != "succeeded":
            break
    if all(results.get(p, {}).get("status") == "succeeded" for p in PHASES):
        results["check"] = check(directory)
    doc = {"version": 1, "benchmark": "incremental", "records": records, "seed": seed, "timestamp": timestamp,
           **git_state(), "machine": machine_facts(), "phases": results}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "incremental.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "incremental.md").write_text(render_markdown(doc), encoding="utf-8")
    print((out / "incremental.md").read_text(encoding="utf-8"))
    shutil.rmtree(directory, ignore_errors=True)
    return 0 if all(r["status"] == "succeeded" for r in results.values()) else 1


def _phase(phase: str, directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    from custdim.demo.changes import apply_change_set
    from custdim.demo.generate import generate
    from custdim.demo.project_file import write_project_file

    started = time.perf_counter()
    if phase == "generate":
        dataset = generate(directory, customers=round(args.incremental_records / RECORDS_PER_CUSTOMER), seed=args.seed)
        write_project_file(directory, "duckdb")
        return {"status": "succeeded", "seconds": round(time.perf_counter() - started, 3), "rows": dict(dataset.rows)}
    if phase == "changes":
        counts = apply_change_set(directory, 0.01, seed=args.seed)
        return {"status": "succeeded", "seconds": round(time.perf_counter() - started, 3), "changes": dict(counts)}
    return pipeline(directory, phase)


def pipeline(directory: Path, phase: str) -> dict[str, Any]:
    """One whole run (``full`` for the peer); keeps its unify outputs and published keys for the comparison."""
    import pyarrow.parquet as pq

    from custdim.project import Project

    project = Project.load(directory)
    started = time.perf_counter()
    report = project.run(full=phase == "full")
    seconds = time.perf_counter() - started
    keep = directory / "kept" / phase
    keep.mkdir(parents=True, exist_ok=True)
    pq.write_table(project.sql(KEYS), keep / "keys.parquet")
    for name in ("pairs", "near_misses", "clusters"):
        shutil.copytree(directory / "lake" / "work" / "unify" / name, keep / name)
    stages = {s.name: round(s.seconds, 3) for s in report.stages}
    match = next(s for s in report.stages if s.name == "match")
    return {
        "status": report.status,
        "seconds": round(seconds, 3),
        "stages": stages,
        "records": report.stages[1].rows_out.get("records") if len(report.stages) > 1 else None,
        "incremental": match.details.get("incremental"),
        "step_seconds": match.details.get("step_seconds"),
    }


def check(directory: Path) -> dict[str, Any]:
    """Incremental vs full: rows only one of them has, and CustomerIds of profiles the change did not touch."""
    import duckdb  # noqa: TID251 - the check reads the kept Parquet files directly

    kept = directory / "kept"
    con = duckdb.connect()
    out: dict[str, Any] = {"status": "succeeded"}
    for name in ("pairs", "near_misses", "clusters"):
        a, b = f"'{kept / 'incremental' / name}/*.parquet'", f"'{kept / 'full' / name}/*.parquet'"
        diff = con.sql(
            f"SELECT (SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})) + "
            f"(SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a})) AS n"
        ).fetchall()[0][0]
        out[f"{name}_differing_rows"] = int(diff)
    base, inc = f"'{kept / 'base' / 'keys.parquet'}'", f"'{kept / 'incremental' / 'keys.parquet'}'"
    # A profile is untouched when the same source records form it before and after: its id must not change.
    row = con.sql(
        f"""
        WITH b AS (SELECT CustomerId, list_sort(list(SourceName || ':' || TableName || ':' || SourceKey)) AS m
                   FROM {base} GROUP BY 1),
             i AS (SELECT CustomerId, list_sort(list(SourceName || ':' || TableName || ':' || SourceKey)) AS m
                   FROM {inc} GROUP BY 1)
        SELECT (SELECT count(*) FROM b) AS before,
               (SELECT count(*) FROM b JOIN i USING (m)) AS untouched,
               (SELECT count(*) FROM b JOIN i USING (m) WHERE b.CustomerId <> i.CustomerId) AS changed_ids
        """
    ).fetchall()[0]
    out.update(profiles_before=int(row[0]), untouched_profiles=int(row[1]), untouched_with_new_id=int(row[2]))
    if out["untouched_with_new_id"] or any(v for k, v in out.items() if k.endswith("differing_rows")):
        out["status"] = "failed"
    return out


def render_markdown(doc: dict[str, Any]) -> str:
    from bench.run import header_lines

    phases = doc["phases"]
    lines = ["# custdim incremental benchmark: a 1% change set on a large base", "", *header_lines(doc, doc["seed"])]
    base = phases.get("base", {})
    if base.get("status") == "succeeded":
        lines.append(f"- {base.get('records') or doc['records']:,} customer records in the base")
    changes = phases.get("changes", {}).get("changes")
    if changes:
        lines.append("- change set: " + ", ".join(f"{k} {v:,}" for k, v in sorted(changes.items()) if v))
    inc = phases.get("incremental", {}).get("incremental") or {}
    if inc.get("records"):
        lines.append(f"- the incremental match: {inc['why']}; {inc.get('match', {}).get('recomputed_records', 0):,} "
                     "left records recomputed in the match step")  # fmt: skip
    runs = [(p, phases[p]) for p in ("base", "incremental", "full") if phases.get(p, {}).get("status") == "succeeded"]
    if runs:
        names = list(dict.fromkeys(n for _, r in runs for n in r["stages"]))
        lines += ["", "| run | " + " | ".join(names) + " | unify | total |", "| --- |" + " ---: |" * (len(names) + 2)]
        for phase, r in runs:
            unify = sum(r["stages"].get(n, 0) for n in UNIFY)
            cells = [f"{r['stages'][n]:.2f}" for n in names]
            lines.append(f"| {phase} | " + " | ".join(cells) + f" | {unify:.2f} | {sum(r['stages'].values()):.2f} |")
        full, incr = phases.get("full", {}), phases.get("incremental", {})
        if full.get("status") == incr.get("status") == "succeeded":
            ratio = [
                ("match stage", incr["stages"]["match"], full["stages"]["match"]),
                ("unify (map+match+cluster+merge)", *(sum(r["stages"][n] for n in UNIFY) for r in (incr, full))),
                ("whole run", sum(incr["stages"].values()), sum(full["stages"].values())),
            ]
            lines += ["", "| incremental vs full (same data, same run) | incremental s | full s | ratio |",
                      "| --- | ---: | ---: | ---: |"]  # fmt: skip
            lines += [f"| {n} | {a:.2f} | {b:.2f} | {a / b:.1%} |" for n, a, b in ratio]
    check_ = phases.get("check")
    if check_:
        lines += ["", f"- incremental = full: pairs {check_['pairs_differing_rows']}, near misses "
                  f"{check_['near_misses_differing_rows']}, profiles {check_['clusters_differing_rows']} "
                  "differing rows",
                  f"- {check_['untouched_profiles']:,} of {check_['profiles_before']:,} profiles untouched by the "
                  f"change; {check_['untouched_with_new_id']} of them got a new CustomerId"]  # fmt: skip
    lines += ["", "Stage columns are seconds. Only the match stage is incremental; ingest, map, cluster, merge and the "
              "stages after it still run over every record.", ""]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
