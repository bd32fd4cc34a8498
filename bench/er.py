"""Entity-resolution benchmark: custdim unify against Splink 5 (DuckDB) on the demo retailer, scored against truth.

``python -m bench.run --suite er [--records 100000,1000000] [--seed 42]`` (or ``python -m bench.er`` with the same
options). Per size, in ``bench/work/er-<records>/`` and in separate processes so every peak memory is its own:

1. ``generate``: the demo retailer with about ``records`` customer records (``records / 1.75`` people);
2. ``ingest``: custdim lands the source files as raw Parquet (timed and reported, not part of unify);
3. ``custdim``: the unify stages map, match, cluster, merge, one ``Project.run(stage=...)`` each; then activities and
   publish, and the published ``AlternateKey`` is scored;
4. ``splink``: Splink on the same landed raw Parquet (see :mod:`bench.er_splink`), scored the same way.

Before the sizes, Splink's match-probability threshold (its only tuned knob) is chosen on a different seed
(:data:`TUNING_SEED`, :data:`TUNING_RECORDS` records) and then used unchanged for every reported size. custdim runs
the demo project file as it is. Results: ``bench/results/er.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.er_metrics import (
    RssSampler,
    link_quality,
    load_truth,
    quality,
    record_id,
    ru_maxrss_mb,
    size_distribution,
)
from bench.run import BENCH_DIR, REPO_ROOT, WORK_DIR, _version, git_state, machine_facts, report_child

RESULTS_VERSION = 1
DEFAULT_RECORDS = (100_000, 1_000_000)
DEFAULT_SEED = 42
RECORDS_PER_PERSON = 1.75
"""The demo generator writes about 1.75 customer records per person (CRM, shop, POS presence plus 4% duplicates)."""
CUSTOMER_TABLES = ("crm.contacts", "shop.accounts", "pos.members")
UNIFY_STAGES = ("map", "match", "cluster", "merge")
AFTER_UNIFY_STAGES = ("activities", "measures", "segments", "publish")
SPLINK_PHASES = ("prepare", "training", "prediction", "clustering")

TUNING_SEED = 7
TUNING_RECORDS = 100_000
THRESHOLD_GRID = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
"""Match-probability thresholds tried on the tuning data; the one with the best cluster F1 is used everywhere."""

TARGET_RECORDS = 1_000_000
TARGETS: tuple[tuple[str, str, str, float, str], ...] = (
    # (name, metric path, comparison, bound, unit)
    ("custdim unify wall time", "custdim.unify_seconds", "<=", 60.0, "s"),
    ("custdim unify peak memory", "custdim.unify_peak_rss_mb", "<=", 3 * 1024.0, "MiB"),
    ("speedup over Splink", "ratios.speedup", ">=", 2.5, "x"),
    ("cluster F1 over Splink", "ratios.cluster_f1_delta", ">=", 0.05, ""),
)

PHASES = ("generate", "ingest", "custdim", "splink", "splink-tune")
RULE_SETS = ("three", "nine")
STYLES = ("default", "messy")
MODES = ("ordered", "all_rules")
VARIANT: dict[str, str] = {"config": "three", "style": "default", "mode": "ordered"}
"""Rule set, generator style and custdim match mode of this run; the parent writes it to :data:`VARIANT_FILE`
for its phase processes."""
VARIANT_FILE = "bench-variant.json"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.phase is not None:
        return _child(args.phase, Path(args.dir), args.records[0], args.seed, args.threshold)
    VARIANT.update(config=args.config, style=args.style, mode=args.match_mode)
    return run(args.records, args.seed, args.out, args.splink_threshold)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.er", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=records_list, default=DEFAULT_RECORDS, help="customer records per run")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"data seed (default: {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument(
        "--splink-threshold",
        type=float,
        default=None,
        help=f"skip tuning and use this Splink match probability (default: tune on seed {TUNING_SEED})",
    )
    parser.add_argument(
        "--config",
        choices=RULE_SETS,
        default="three",
        help="custdim rules (and the Splink model mirroring them): the demo's three or the nine-rule set",
    )
    parser.add_argument(
        "--style", choices=STYLES, default="default", help="demo generator style: default, or messy (see demo.messy)"
    )
    parser.add_argument(
        "--match-mode", choices=MODES, default="ordered", help="custdim's unify.match.mode (default: ordered)"
    )
    # Internal: run one phase in this process and print its JSON on stdout.
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--threshold", type=float, help=argparse.SUPPRESS)
    return parser


def records_list(text: str) -> tuple[int, ...]:
    return int_list(text, "records", minimum=2)


def int_list(text: str, what: str, minimum: int) -> tuple[int, ...]:
    """A comma-separated list of integers for an argparse option, each at least ``minimum``."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < minimum:
        raise argparse.ArgumentTypeError(f"{what} must be integers of at least {minimum}, got {text!r}")
    return values


def people_for(records: int) -> int:
    return max(1, round(records / RECORDS_PER_PERSON))


def _suffix() -> str:
    mode = "" if VARIANT["mode"] == "ordered" else f"-{VARIANT['mode'].replace('_', '-')}"
    default = VARIANT["config"] == "three" and VARIANT["style"] == "default"
    return mode if default else f"-{VARIANT['config']}-{VARIANT['style']}{mode}"


def work_dir(records: int) -> Path:
    return WORK_DIR / f"er-{records}{_suffix()}"


def tuning_dir() -> Path:
    return WORK_DIR / f"er-tune-{TUNING_RECORDS}-seed{TUNING_SEED}{_suffix()}"


def results_stem(records: list[int] | None = None) -> str:
    """``er`` for the demo's own setting, ``er-<config>-<style>[-<mode>]`` otherwise, so no variant overwrites
    another; a run of the million records alone adds ``-1m``, so it does not overwrite the 100k run either."""
    alone = "-1m" if records == [1_000_000] else ""
    return f"er{_suffix()}{alone}"


def _start_dir(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    (directory / VARIANT_FILE).write_text(json.dumps(VARIANT), encoding="utf-8")


def read_variant(directory: Path) -> dict[str, str]:
    """The rule set and generator style a work folder was started with."""
    path = directory / VARIANT_FILE
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else dict(VARIANT)


# --- parent ---------------------------------------------------------------------------------------------------------


def run(records: tuple[int, ...], seed: int, out: Path, splink_threshold: float | None = None) -> int:
    console = Console(highlight=False, stderr=True)

    def say(message: str) -> None:
        console.print(message, markup=False, soft_wrap=True)

    if splink_threshold is None and seed == TUNING_SEED:
        say(f"--seed {seed} is the Splink threshold tuning seed: report on another seed, or pass --splink-threshold")
        return 2
    machine = {**machine_facts(), "splink": _version("splink"), "psutil": _version("psutil")}
    environment = {**git_state(), "src_dirty": _src_dirty(), "machine": machine}
    fingerprint = source_fingerprint()
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    if splink_threshold is None:
        say(f"[tuning] Splink threshold on seed {TUNING_SEED}, {TUNING_RECORDS:,} records: started")
        tuning = tune_splink()
        say(f"[tuning] {_tuning_outcome(tuning)}")
    else:
        tuning = {
            "status": "skipped",
            "chosen": splink_threshold,
            "why": "given on the command line (--splink-threshold)",
        }
    threshold = tuning.get("chosen")
    runs: list[dict[str, Any]] = []
    for i, size in enumerate(records, start=1):
        tag = f"[{i}/{len(records)}] {size:,} records"
        say(f"{tag}: started")
        runs.append(run_size(size, seed, threshold, say))
        say(f"{tag}: {_outcome(runs[-1])}")
    seen = {r["custdim"].get("source_fingerprint") for r in runs} - {None}
    environment["custdim_source"] = {
        "fingerprint": fingerprint,
        "changed_during_run": bool(seen - {fingerprint}) or source_fingerprint() != fingerprint,
    }
    doc = document(seed, timestamp, environment, tuning, runs)
    json_path, md_path = write_results(out, doc)
    print(render_markdown(doc))
    print(f"wrote {_shown(json_path)} and {_shown(md_path)}")
    ok = tuning["status"] in ("succeeded", "skipped") and all(r["status"] == "succeeded" for r in runs)
    return 0 if ok else 1


def tune_splink() -> dict[str, Any]:
    """Choose Splink's match-probability threshold on the tuning seed: best cluster F1 over :data:`THRESHOLD_GRID`."""
    directory = tuning_dir()
    _start_dir(directory)
    base: dict[str, Any] = {"seed": TUNING_SEED, "records": TUNING_RECORDS, "people": people_for(TUNING_RECORDS)}
    base |= {"criterion": "highest cluster F1 (ties: highest pairwise F1)", "grid_thresholds": list(THRESHOLD_GRID)}
    for phase in ("generate", "ingest", "splink-tune"):
        result = _phase(phase, directory, TUNING_RECORDS, TUNING_SEED)
        if result["status"] != "succeeded":
            return {**base, "status": "failed", "phase": phase, "error": result.get("error"), "chosen": None}
    grid: list[dict[str, Any]] = result["grid"]
    best = max(grid, key=lambda r: (r["cluster"]["f1"], r["pairwise"]["f1"]))
    best_pairwise = max(grid, key=lambda r: (r["pairwise"]["f1"], r["cluster"]["f1"]))
    chosen = best["threshold_match_probability"]
    why = (
        f"On seed {TUNING_SEED} at {TUNING_RECORDS:,} records, match probability {chosen} gave Splink its best cluster "
        f"F1 ({best['cluster']['f1']:.4f}; pairwise F1 {best['pairwise']['f1']:.4f}) of the {len(grid)} thresholds "
        f"tried from {min(THRESHOLD_GRID)} to {max(THRESHOLD_GRID)}. Cluster F1 is the headline comparison, so Splink "
        f"gets the threshold that is best for it there"
    )
    if best_pairwise is not best:
        why += (
            f" (the best pairwise F1, {best_pairwise['pairwise']['f1']:.4f}, came at "
            f"{best_pairwise['threshold_match_probability']})"
        )
    why += ". The same value is the prediction and the clustering threshold for every reported size."
    grid_rows = [
        {
            "threshold_match_probability": r["threshold_match_probability"],
            "pairwise": r["pairwise"],
            "cluster": r["cluster"],
        }
        for r in grid
    ]
    return {
        **base,
        "status": "succeeded",
        "chosen": chosen,
        "why": why,
        "predicted_pairs_at_lowest": result.get("predicted_pairs"),
        "probability_two_random_records_match": result.get("probability_two_random_records_match"),
        "grid": grid_rows,
    }


def run_size(records: int, seed: int, threshold: float | None, say: Any = print) -> dict[str, Any]:
    """Generate, ingest, unify and link one size, each in a fresh process, in a fresh work folder."""
    directory = work_dir(records)
    _start_dir(directory)
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict[str, dict[str, Any]] = {}
    for phase in ("generate", "ingest", "custdim", "splink"):
        if phase != "generate" and results["generate"]["status"] != "succeeded":
            break
        if phase in ("custdim", "splink") and results["ingest"]["status"] != "succeeded":
            break
        if phase == "splink" and threshold is None:
            results[phase] = {"status": "failed", "error": "no Splink threshold: tuning failed"}
            continue
        results[phase] = _phase(phase, directory, records, seed, threshold)
        say(f"    {phase}: {_phase_outcome(phase, results[phase])}")
    return build_run(records, seed, timestamp, results)


def _phase(phase: str, directory: Path, records: int, seed: int, threshold: float | None = None) -> dict[str, Any]:
    """Run one phase in a child process; its stdout is one JSON object, its stderr passes through."""
    command = [sys.executable, "-m", "bench.er", "--phase", phase, "--dir", str(directory)]
    command += ["--records", str(records), "--seed", str(seed)]
    if threshold is not None:
        command += ["--threshold", repr(threshold)]
    load_before = _load_average()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, check=False)
    elapsed = round(time.perf_counter() - started, 1)
    # The machine may be shared: the 1-minute load average around the phase says how much it was.
    facts = {"process_seconds": elapsed, "load_average_1m": {"start": load_before, "end": _load_average()}}
    lines = done.stdout.strip().splitlines()
    with contextlib.suppress(ValueError, IndexError):
        result: dict[str, Any] = json.loads(lines[-1])
        return {**result, **facts}
    reason = f"exit code {done.returncode}"
    if done.returncode < 0:
        reason = f"killed by {signal.Signals(-done.returncode).name}"
    error = f"{phase} process ended without a result ({reason}) after {elapsed} s"
    return {"status": "failed", "error": error, "traceback": None, **facts}


def source_fingerprint() -> str:
    """Short hash of custdim's source files: other people may edit ``src/`` while a long benchmark runs."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "src" / "custdim").rglob("*.py")):
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _src_dirty() -> bool | None:
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(done.stdout.strip())


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _phase_outcome(phase: str, result: dict[str, Any]) -> str:
    if result["status"] != "succeeded":
        return f"FAILED: {result.get('error')}"
    if phase == "custdim":
        c = result["quality"]["cluster"]["f1"]
        return f"unify {result['unify_seconds']:.1f} s, peak {result['unify_peak_rss_mb']:.0f} MiB, cluster F1 {c:.4f}"
    if phase == "splink":
        c = result["quality"]["cluster"]["f1"]
        return f"total {result['total_seconds']:.1f} s, peak {result['peak_rss_mb']:.0f} MiB, cluster F1 {c:.4f}"
    return f"{result.get('seconds', 0):.1f} s, peak {result.get('peak_rss_mb')} MiB"


def _tuning_outcome(tuning: dict[str, Any]) -> str:
    if tuning["status"] != "succeeded":
        return f"FAILED in {tuning.get('phase')}: {tuning.get('error')}"
    return f"chose match probability {tuning['chosen']}"


def _outcome(run_record: dict[str, Any]) -> str:
    if run_record["status"] != "succeeded":
        return f"FAILED: {run_record['error']}"
    ratios = run_record["ratios"]
    return f"done: speedup {ratios['speedup']:.2f}x, cluster F1 delta {ratios['cluster_f1_delta']:+.4f}"


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


# --- children: one phase each ---------------------------------------------------------------------------------------


def _child(phase: str, directory: Path, records: int, seed: int, threshold: float | None) -> int:
    return report_child(lambda: _run_phase(phase, directory, records, seed, threshold))


def _run_phase(phase: str, directory: Path, records: int, seed: int, threshold: float | None) -> dict[str, Any]:
    if phase == "generate":
        return generate_phase(directory, records, seed)
    if phase == "ingest":
        return ingest_phase(directory)
    if phase == "custdim":
        return custdim_phase(directory)
    if phase == "splink":
        from bench.er_splink import splink_phase

        if threshold is None:
            raise ValueError("the splink phase needs --threshold")
        return splink_phase(directory, threshold)
    from bench.er_splink import splink_tune_phase

    return splink_tune_phase(directory, THRESHOLD_GRID)


def generate_phase(directory: Path, records: int, seed: int) -> dict[str, Any]:
    from custdim.demo.generate import generate

    directory.mkdir(parents=True, exist_ok=True)
    with RssSampler() as rss, rss.phase("generate"):
        started = time.perf_counter()
        dataset = generate(directory, customers=people_for(records), seed=seed, style=read_variant(directory)["style"])
        seconds = time.perf_counter() - started
    return {
        "status": "succeeded",
        "seconds": round(seconds, 3),
        "peak_rss_mb": ru_maxrss_mb(),
        "people": dataset.people,
        "rows": dict(dataset.rows),
    }


def ingest_phase(directory: Path) -> dict[str, Any]:
    """Write the demo project file and land the sources (custdim's ingest; the input of both systems)."""
    from custdim.demo.project_file import write_project_file
    from custdim.project import Project

    variant = read_variant(directory)
    write_project_file(directory, "duckdb", style=variant["style"], rules=variant["config"])
    mode = variant.get("mode", "ordered")
    if mode != "ordered":
        path = directory / "custdim.yaml"
        text = path.read_text(encoding="utf-8")
        if "\n  match:\n" not in text:
            raise RuntimeError("the demo project file has no unify.match section to set the mode in")
        path.write_text(text.replace("\n  match:\n", f"\n  match:\n    mode: {mode}\n", 1), encoding="utf-8")
    project = Project.load(directory)
    started = time.perf_counter()
    report = project.run(stage="ingest")
    wall = time.perf_counter() - started
    stage = report.stages[0]
    return {
        "status": "succeeded",
        "seconds": stage.seconds,
        "wall_seconds": round(wall, 3),
        "peak_rss_mb": ru_maxrss_mb(),
        "rows_out": stage.rows_out,
        "rejected": stage.rejected,
    }


def custdim_phase(directory: Path) -> dict[str, Any]:
    """Run map, match, cluster and merge one stage at a time (timed, memory-sampled), then publish and score."""
    from custdim.demo.generate import TRUTH_PATH
    from custdim.project import Project

    # Import the engine and the stages before the clock starts (Splink's process imports splink before its clock, too).
    importlib.import_module("custdim.engines.duckdb")
    importlib.import_module("custdim.stages.registry")
    fingerprint = source_fingerprint()
    project = Project.load(directory)
    stages: list[dict[str, Any]] = []
    with RssSampler() as rss:
        for name in (*UNIFY_STAGES, *AFTER_UNIFY_STAGES):
            if name == AFTER_UNIFY_STAGES[0]:
                unify_process_peak = ru_maxrss_mb()  # the process has done nothing but unify so far
            try:
                with rss.phase(name):
                    started = time.perf_counter()
                    report = project.run(stage=name)
                    wall = time.perf_counter() - started
            except Exception as exc:
                return {
                    "status": "failed",
                    "error": f"{name}: {type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                    "stages": stages,
                    "peak_rss_mb": rss.peak_mb(),
                }
            stage = report.stages[0]
            stages.append(
                {
                    "name": name,
                    "seconds": stage.seconds,
                    "wall_seconds": round(wall, 3),
                    "peak_rss_mb": rss.peak_mb(name),
                    "rows_in": stage.rows_in,
                    "rows_out": stage.rows_out,
                    "details": stage.details,
                }
            )
            _log(f"custdim {name}: {wall:.1f} s, peak {rss.peak_mb(name)} MiB")
        unify_sampled = rss.peak_mb(*UNIFY_STAGES)
    started = time.perf_counter()
    keys = project.sql("SELECT SourceName, TableName, SourceKey, CustomerId FROM AlternateKey").to_pylist()
    predicted = {record_id(k["SourceName"], k["TableName"], k["SourceKey"]): k["CustomerId"] for k in keys}
    truth = load_truth(directory / TRUTH_PATH)
    scored = quality(predicted, truth)
    scored["sizes"] = size_distribution(predicted, truth)
    pairs = project.sql(
        "SELECT Stage, RuleName, LeftSourceName, LeftTableName, LeftSourceKey, "
        "RightSourceName, RightTableName, RightSourceKey FROM MatchPairs"
    ).to_pylist()
    scored["links"] = link_quality(
        [
            (
                p["Stage"],
                p["RuleName"],
                record_id(p["LeftSourceName"], p["LeftTableName"], p["LeftSourceKey"]),
                record_id(p["RightSourceName"], p["RightTableName"], p["RightSourceKey"]),
            )
            for p in pairs
        ],
        truth,
    )
    unify = [s for s in stages if s["name"] in UNIFY_STAGES]
    merge = unify[-1]
    return {
        "status": "succeeded",
        "source_fingerprint": fingerprint,
        "stages": stages,
        "unify_seconds": round(sum(s["wall_seconds"] for s in unify), 3),
        "unify_stage_seconds": round(sum(s["seconds"] for s in unify), 3),
        "unify_peak_rss_mb": _max(unify_sampled, unify_process_peak),
        "unify_sampled_peak_rss_mb": unify_sampled,
        "unify_process_peak_rss_mb": unify_process_peak,
        "rss_samples": rss.samples,
        "records": merge["rows_in"].get("records"),
        "profiles": merge["rows_out"].get("Customer"),
        "evaluation_seconds": round(time.perf_counter() - started, 3),
        "quality": scored,
    }


def _max(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- results --------------------------------------------------------------------------------------------------------


def build_run(records: int, seed: int, timestamp: str, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    generation = results.get("generate", {})
    ingest = results.get("ingest", {})
    custdim = results.get("custdim", {})
    splink = results.get("splink", {})
    failed = {phase: r.get("error") for phase, r in results.items() if r.get("status") != "succeeded"}
    missing = [p for p in ("generate", "ingest", "custdim", "splink") if p not in results]
    rows: dict[str, int] = generation.get("rows", {})
    succeeded = not failed and not missing
    return {
        "records": records,
        "seed": seed,
        "timestamp": timestamp,
        "status": "succeeded" if succeeded else "failed",
        "error": "; ".join(f"{p}: {e}" for p, e in failed.items())
        or (f"not run: {', '.join(missing)}" if missing else None),
        "people": generation.get("people"),
        "customer_records": sum(rows.get(t, 0) for t in CUSTOMER_TABLES) if rows else None,
        "source_rows": rows,
        "generation": generation,
        "ingest": ingest,
        "custdim": custdim,
        "splink": splink,
        "ratios": ratios(custdim, splink),
    }


def ratios(custdim: dict[str, Any], splink: dict[str, Any]) -> dict[str, float | None]:
    if custdim.get("status") != "succeeded" or splink.get("status") != "succeeded":
        return {"speedup": None, "cluster_f1_delta": None, "pairwise_f1_delta": None, "peak_memory_ratio": None}
    c, s = custdim["quality"], splink["quality"]
    return {
        "speedup": round(splink["total_seconds"] / custdim["unify_seconds"], 3),
        "cluster_f1_delta": round(c["cluster"]["f1"] - s["cluster"]["f1"], 4),
        "pairwise_f1_delta": round(c["pairwise"]["f1"] - s["pairwise"]["f1"], 4),
        "peak_memory_ratio": round(splink["peak_rss_mb"] / custdim["unify_peak_rss_mb"], 3),
    }


def targets(run_record: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, path, op, bound, unit in TARGETS:
        value: Any = run_record
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            out.append({"target": name, "metric": path, "op": op, "bound": bound, "unit": unit, "value": None})
            continue
        met = value <= bound if op == "<=" else value >= bound
        margin = bound - value if op == "<=" else value - bound
        out.append(
            {
                "target": name,
                "metric": path,
                "op": op,
                "bound": bound,
                "unit": unit,
                "value": value,
                "met": met,
                "margin": round(margin, 4),
            }
        )
    return out


def document(
    seed: int, timestamp: str, environment: dict[str, Any], tuning: dict[str, Any], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    from bench.er_splink import configuration

    target_run = next((r for r in runs if r["records"] == TARGET_RECORDS), None)
    return {
        "version": RESULTS_VERSION,
        "benchmark": "er",
        "config": VARIANT["config"],
        "style": VARIANT["style"],
        "match_mode": VARIANT["mode"],
        "seed": seed,
        "timestamp": timestamp,
        **environment,
        "method": {
            "records_per_person": RECORDS_PER_PERSON,
            "custdim": "demo project file as generated (not tuned); unify = map + match + cluster + merge, one "
            "Project.run(stage=...) each; unify_seconds = sum of their wall times (engine start-up included); "
            "ingest, activities and publish are reported but not part of unify",
            "splink": "total = prepare + training + prediction + clustering; input is the same landed raw Parquet",
            "memory": "peak = max(psutil RSS sampled every 50 ms in the phase, the process's ru_maxrss at its end); "
            "every system runs in its own process",
            "quality": "truth records only; pairwise and exact-cluster precision / recall / F1",
        },
        "splink_configuration": configuration(VARIANT["config"], VARIANT["style"]),
        "splink_threshold": tuning,
        "targets": {
            "records": TARGET_RECORDS,
            "results": targets(target_run) if target_run else None,
        },
        "runs": runs,
    }


def write_results(out: Path, doc: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = results_stem([int(r["records"]) for r in doc["runs"]])
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(doc), encoding="utf-8")
    return json_path, md_path


def render_markdown(doc: dict[str, Any]) -> str:
    machine = doc["machine"]
    dirty = ""
    if doc.get("git_dirty"):
        dirty = (
            " (with uncommitted changes)"
            if doc.get("src_dirty") is not False
            else " (uncommitted changes outside src/)"
        )
    lines = [
        "# Entity resolution: custdim vs Splink",
        "",
        f"- commit `{doc['commit']}`{dirty}, {doc['timestamp']}, data seed {doc['seed']}{_source_note(doc)}",
        f"- {machine['platform']}, {machine['cpu_count']} CPUs ({machine['cpu_model']}), "
        f"{_gib(machine['total_memory_bytes'])} RAM",
        f"- Python {machine['python']}, duckdb {machine['duckdb']}, ibis {machine['ibis']}, splink {machine['splink']}",
        f"- custdim rules: `{doc.get('config', 'three')}`; generator style: `{doc.get('style', 'default')}`; "
        f"match mode: `{doc.get('match_mode', 'ordered')}`",
        "",
        "Both systems start from the same landed raw Parquet (custdim's ingest) and run in their own processes. "
        "custdim *unify* = map + match + cluster + merge (sum of the wall times of one `Project.run(stage=...)` each); "
        "Splink *total* = prepare (read, map, clean) + training + prediction + clustering. Peak memory is each "
        "process's resident peak during those phases. Quality is scored on the records in the truth file: pairwise "
        "(pairs of records in one cluster) and exact clusters (a cluster counts only if it is exactly one person's "
        "records; singletons included).",
        "",
    ]
    for run in doc["runs"]:
        lines += _size_section(run)
        lines += _rule_section(run)
    lines += _targets_section(doc)
    lines += _splink_section(doc)
    return "\n".join(lines)


def _source_note(doc: dict[str, Any]) -> str:
    source = doc.get("custdim_source") or {}
    note = f"; custdim source `{source['fingerprint']}`" if source.get("fingerprint") else ""
    if source.get("changed_during_run"):
        note += " **- src/ changed while the suite ran: sizes may have measured different code**"
    return note


def _size_section(run: dict[str, Any]) -> list[str]:
    people = f"{run['people']:,}" if run.get("people") else "?"
    records = f"{run['customer_records']:,}" if run.get("customer_records") else "?"
    lines = [f"## {run['records']:,} records", ""]
    generation, ingest = run["generation"], run["ingest"]
    lines += [
        f"{records} customer records ({people} people), seed {run['seed']}. Data generation "
        f"{_num(generation.get('seconds'), 1)} s; custdim ingest (landing the sources, input of both systems, not part "
        f"of unify) {_num(ingest.get('wall_seconds'), 1)} s, peak {_num(ingest.get('peak_rss_mb'), 0)} MiB.",
        "",
    ]
    if run["status"] != "succeeded":
        lines += [f"**Failed:** `{run['error']}`", ""]
    custdim, splink = run["custdim"], run["splink"]
    rows = [["custdim stage", "seconds", "peak MiB"], ["---", "---:", "---:"]]
    for stage in custdim.get("stages", []):
        label = stage["name"] if stage["name"] in UNIFY_STAGES else f"({stage['name']}, not in unify)"
        rows.append([label, _num(stage["wall_seconds"], 2), _num(stage["peak_rss_mb"], 0)])
    rows.append(["**unify**", _bold(custdim.get("unify_seconds"), 2), _bold(custdim.get("unify_peak_rss_mb"), 0)])
    lines += [_table(rows), ""]
    lines += _candidates_line(custdim)
    rows = [["Splink phase", "seconds", "peak MiB"], ["---", "---:", "---:"]]
    for phase in SPLINK_PHASES:
        rows.append(
            [
                phase,
                _num(splink.get("seconds", {}).get(phase), 2),
                _num(splink.get("phase_peak_rss_mb", {}).get(phase), 0),
            ]
        )
    rows.append(["**total**", _bold(splink.get("total_seconds"), 2), _bold(splink.get("peak_rss_mb"), 0)])
    lines += [_table(rows), ""]
    if splink.get("predicted_pairs") is not None:
        lines += [
            f"Splink pairs kept by prediction (match probability >= {splink['threshold_match_probability']}): "
            f"{splink['predicted_pairs']:,}.",
            "",
        ]
    rows = [["quality", "custdim", "Splink", "custdim - Splink"], ["---", "---:", "---:", "---:"]]
    cq, sq = custdim.get("quality", {}), splink.get("quality", {})
    for kind in ("pairwise", "cluster"):
        for measure in ("precision", "recall", "f1"):
            c = cq.get(kind, {}).get(measure)
            s = sq.get(kind, {}).get(measure)
            delta = f"{c - s:+.4f}" if c is not None and s is not None else "-"
            rows.append([f"{kind} {measure}", _num(c, 4), _num(s, 4), delta])
    c_clusters = cq.get("cluster", {}).get("predicted_clusters")
    s_clusters = sq.get("cluster", {}).get("predicted_clusters")
    rows.append(["clusters (true: " + _num(cq.get("cluster", {}).get("true_clusters"), 0) + ")", _num(c_clusters, 0),
                 _num(s_clusters, 0), "-"])  # fmt: skip
    lines += [_table(rows), ""]
    loads = [
        f"{label} {_load_range(run[phase])}"
        for phase, label in (("custdim", "custdim"), ("splink", "Splink"))
        if run[phase].get("load_average_1m")
    ]
    if loads:
        lines += [
            f"Machine load (1-minute load average, start -> end of the phase): {'; '.join(loads)}.",
            "",
        ]
    ratio = run["ratios"]
    if ratio.get("speedup") is not None:
        lines += [
            f"Speedup (Splink total / custdim unify): **{ratio['speedup']:.2f}x**; cluster F1 delta: "
            f"**{ratio['cluster_f1_delta']:+.4f}**; Splink peak memory / custdim's: {ratio['peak_memory_ratio']:.2f}.",
            "",
        ]
    return lines


def _rule_section(run: dict[str, Any]) -> list[str]:
    """custdim's match stage: seconds per fused step, then counts per rule use, false links per rule, profile sizes."""
    match = next((s for s in run.get("custdim", {}).get("stages", []) if s["name"] == "match"), None)
    if match is None or not match.get("details", {}).get("rules"):
        return []
    custdim, splink = run.get("custdim", {}), run.get("splink", {})
    lines = [
        f"Whole-run wall time of each tool's process (imports, all its phases and scoring): custdim "
        f"{_num(custdim.get('process_seconds'), 1)} s (unify {_num(custdim.get('unify_seconds'), 1)} s), Splink "
        f"{_num(splink.get('process_seconds'), 1)} s (its four phases {_num(splink.get('total_seconds'), 1)} s).",
        "",
        f"### custdim match stage ({run['records']:,} records)",
        "",
    ]
    steps: dict[str, float] = match["details"].get("step_seconds") or {}
    if steps:
        lines += [
            f"The match stage took {_num(match.get('wall_seconds'), 1)} s. All rules of a step run fused, so time "
            "is measured per step (every rule at once), not per rule; the rest of the stage is writing the pairs "
            "and the report.",
            "",
            _table(
                [["step", "seconds"], ["---", "---:"]]
                + [[name, f"{sec:.2f}"] for name, sec in steps.items()]
                + [["**all steps**", f"**{sum(steps.values()):.2f}**"]]
            ),
            "",
        ]
    rows = [
        ["rule use", "candidates", "pairs", "records matched", "near misses"],
        ["---", "---:", "---:", "---:", "---:"],
    ]
    for name, d in match["details"]["rules"].items():
        rows.append([name, f"{d['candidates']:,}", f"{d['pairs']:,}", f"{d['records']:,}", f"{d['near_misses']:,}"])
    lines += [_table(rows), ""]
    frequent = match["details"].get("frequent_values") or {}
    for step, guards in frequent.items():
        for g in guards:
            lines.append(
                f"- frequency guard, {step}: {g['values']:,} {g['field']} values shared by more than "
                f"{g['max_frequency']} records ({g['records']:,} records) were no evidence."
            )
    if frequent:
        lines.append("")
    quality = custdim.get("quality", {})
    if quality.get("links"):
        link_rows = [["step", "rule", "links", "false links", "share false"], ["---", "---", "---:", "---:", "---:"]]
        for q in quality["links"]:
            share = "-" if q["false_share"] is None else f"{q['false_share']:.1%}"
            link_rows.append([q["stage"], q["rule"], f"{q['links']:,}", f"{q['false']:,}", share])
        lines += ["Direct links (MatchPairs) against the truth, by rule:", "", _table(link_rows), ""]
    if quality.get("sizes"):
        size_rows = [["profile size", "profiles", "holding more than one person"], ["---", "---:", "---:"]]
        size_rows += [[b["size"], f"{b['profiles']:,}", f"{b['mixed']:,}"] for b in quality["sizes"]]
        lines += ["custdim profiles by size (records in the truth file):", "", _table(size_rows), ""]
    return lines


def _candidates_line(custdim: dict[str, Any]) -> list[str]:
    """Where custdim's match stage spent its comparisons: candidate pairs per rule, largest first."""
    match = next((s for s in custdim.get("stages", []) if s["name"] == "match"), None)
    rules: dict[str, dict[str, Any]] = (match or {}).get("details", {}).get("rules", {})
    if not rules:
        return []
    by_rule: dict[str, int] = {}
    for r in rules.values():
        name = str(r["rule"]).rsplit("/", 1)[-1]
        by_rule[name] = by_rule.get(name, 0) + int(r["candidates"])
    total = sum(by_rule.values())
    parts = [f"{name} {n:,} ({n / total:.1%})" for name, n in sorted(by_rule.items(), key=lambda kv: -kv[1])]
    return [f"custdim match scored {total:,} candidate pairs (dedupe + match, by rule: {', '.join(parts)}).", ""]


def _targets_section(doc: dict[str, Any]) -> list[str]:
    lines = [f"## Targets on {TARGET_RECORDS:,} records", ""]
    results = doc["targets"]["results"]
    if results is None:
        return [*lines, f"Not measured: no {TARGET_RECORDS:,}-record run in this file.", ""]
    rows = [["target", "wanted", "measured", "verdict"], ["---", "---", "---:", "---"]]
    for t in results:
        unit = t["unit"]
        wanted = f"{t['op']} {_fmt(t['bound'], unit)}"
        if t["value"] is None:
            rows.append([t["target"], wanted, "-", "not measured"])
            continue
        verdict = (
            f"met ({_fmt(abs(t['margin']), unit)} to spare)" if t["met"] else f"missed by {_fmt(-t['margin'], unit)}"
        )
        rows.append([t["target"], wanted, _fmt(t["value"], unit), verdict])
    return [*lines, _table(rows), ""]


def _splink_section(doc: dict[str, Any]) -> list[str]:
    config, tuning = doc["splink_configuration"], doc["splink_threshold"]
    lines = ["## Splink configuration", ""]
    lines += [f"- {config['backend']}, `{config['link_type']}`, unique_id `{config['unique_id']}`"]
    lines += ["- cleaning (DuckDB SQL): " + "; ".join(f"{k}: {v}" for k, v in config["cleaning"].items())]
    lines += ["- comparisons: " + ", ".join(f"`{c}`" for c in config["comparisons"])]
    rules = config["blocking_rules_to_generate_predictions"]
    lines += ["- prediction blocking rules: " + ", ".join(f"`{r}`" for r in rules)]
    training = config["training"]
    prior = training["estimate_probability_two_random_records_match"]
    lines += [
        "- training: `estimate_probability_two_random_records_match` on "
        + ", ".join(f"`{r}`" for r in prior["deterministic_rules"])
        + f" (recall {prior['recall']}); `estimate_u_using_random_sampling(max_pairs="
        f"{training['estimate_u_using_random_sampling']['max_pairs']:.0e})`; EM on "
        + ", ".join(f"`{r}`" for r in training["estimate_parameters_using_expectation_maximisation"]),
        "",
        "### Threshold",
        "",
    ]
    if tuning["status"] == "skipped":
        return [*lines, f"Match probability {tuning['chosen']}: {tuning['why']}.", ""]
    if tuning["status"] != "succeeded":
        return [*lines, f"Tuning failed in {tuning.get('phase')}: `{tuning.get('error')}`", ""]
    lines += [tuning["why"], ""]
    rows = [["match probability", "pairwise P", "pairwise R", "pairwise F1", "cluster P", "cluster R", "cluster F1"]]
    rows.append(["---:"] * len(rows[0]))
    for r in tuning["grid"]:
        mark = "**" if r["threshold_match_probability"] == tuning["chosen"] else ""
        p, c = r["pairwise"], r["cluster"]
        cells = [r["threshold_match_probability"], p["precision"], p["recall"], p["f1"]]
        cells += [c["precision"], c["recall"], c["f1"]]
        rows.append([f"{mark}{cells[0]}{mark}", *(f"{mark}{v:.4f}{mark}" for v in cells[1:])])
    lines += [f"Tuning data: seed {tuning['seed']}, {tuning['records']:,} records ({tuning['people']:,} people).", ""]
    return [*lines, _table(rows), ""]


def _load_range(result: dict[str, Any]) -> str:
    load = result["load_average_1m"]
    return f"{_num(load.get('start'), 2)} -> {_num(load.get('end'), 2)}"


def _table(rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _bold(value: float | None, digits: int) -> str:
    return "-" if value is None else f"**{value:,.{digits}f}**"


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:,.1f} s"
    if unit == "MiB":
        return f"{value:,.0f} MiB ({value / 1024:.2f} GiB)"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.4f}"


def _gib(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 2**30:.1f} GiB"


if __name__ == "__main__":
    sys.exit(main())
