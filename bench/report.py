"""Turn the measured phases into run records, and run records into the results files (JSON and markdown)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_VERSION = 1


def build_run(
    *,
    customers: int,
    engine: str,
    seed: int,
    timestamp: str,
    environment: dict[str, Any],
    generation: dict[str, Any],
    pipeline: dict[str, Any],
) -> dict[str, Any]:
    """One size's record in the results document, from its generation and pipeline phase outputs."""
    stages: list[dict[str, Any]] = pipeline.get("stages", [])
    by_name = {s["name"]: s for s in stages}
    source_rows: dict[str, int] = generation.get("rows", {})
    customer_records = sum(source_rows.get(t, 0) for t in pipeline.get("customer_tables", []))
    stage_seconds = round(sum(s["seconds"] for s in stages), 3)
    succeeded = pipeline.get("status") == "succeeded"
    rejected_by_stage = {s["name"]: s["rejected"] for s in stages if s["rejected"]}
    return {
        "customers": customers,
        "engine": engine,
        "seed": seed,
        "status": pipeline.get("status", "failed"),
        "error": pipeline.get("error"),
        "traceback": pipeline.get("traceback"),
        "timestamp": timestamp,
        **environment,
        "people": generation.get("people"),
        "source_rows": source_rows,
        "customer_records": customer_records,
        "profiles": _rows_out(by_name, "merge", "Customer"),
        "activities": _rows_out(by_name, "activities", "UnifiedActivity"),
        "rejected": sum(n for counts in rejected_by_stage.values() for n in counts.values()),
        "rejected_by_stage": rejected_by_stage,
        "generation_seconds": generation.get("seconds"),
        "generation_peak_rss_mb": generation.get("peak_rss_mb"),
        "pipeline_seconds": stage_seconds if succeeded else None,
        "pipeline_wall_seconds": pipeline.get("wall_seconds"),
        "pipeline_peak_rss_mb": pipeline.get("peak_rss_mb"),
        "spark_jobs": pipeline.get("spark_jobs"),
        "evaluation_seconds": pipeline.get("evaluation_seconds"),
        "records_per_second": round(customer_records / stage_seconds, 1) if succeeded and stage_seconds else None,
        "quality": pipeline.get("quality"),
        "stages": stages,
    }


def _rows_out(stages: dict[str, dict[str, Any]], stage: str, table: str) -> int | None:
    value = stages.get(stage, {}).get("rows_out", {}).get(table)
    return int(value) if value is not None else None


def document(engine: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": RESULTS_VERSION, "benchmark": "pipeline", "engine": engine, "runs": runs}


def write_results(out: Path, engine: str, runs: list[dict[str, Any]]) -> tuple[Path, Path]:
    """Write (overwrite) ``pipeline_<engine>.json`` and ``pipeline_<engine>.md`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"pipeline_{engine}.json"
    md_path = out / f"pipeline_{engine}.md"
    json_path.write_text(json.dumps(document(engine, runs), indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(engine, runs), encoding="utf-8")
    return json_path, md_path


def render_markdown(engine: str, runs: list[dict[str, Any]]) -> str:
    lines = [f"# custdim pipeline benchmark: {engine}", ""]
    if runs:
        first = runs[0]
        machine = first["machine"]
        dirty = " (with uncommitted changes)" if first.get("git_dirty") else ""
        lines += [
            f"- commit `{first['commit']}`{dirty}, {first['timestamp']}, seed {first['seed']}",
            f"- {machine['platform']}, {machine['cpu_count']} CPUs ({machine['cpu_model']}), "
            f"{_gib(machine['total_memory_bytes'])} RAM",
            f"- Python {machine['python']}, duckdb {machine['duckdb']}, ibis {machine['ibis']}",
            "",
        ]
    lines += [render_table(runs), ""]
    lines += [
        "Stage columns and *total* are seconds (total = sum of stages); *generation* is the data generator, timed "
        "separately. *peak MiB* is the pipeline process's peak resident memory; *records/s* is source customer "
        "records per second of total; *F1* is pairwise match quality against the generator's truth. "
        "Full figures: the JSON file next to this one.",
        "",
    ]
    for run in runs:
        if run["status"] != "succeeded":
            lines += [f"**{run['customers']:,} customers failed:** `{run['error']}`", ""]
    return "\n".join(lines)


def render_table(runs: list[dict[str, Any]]) -> str:
    stage_names: list[str] = []
    for run in runs:
        stage_names += [s["name"] for s in run["stages"] if s["name"] not in stage_names]
    spark = any(run.get("spark_jobs") is not None for run in runs)
    header = ["customers", *stage_names, "total", "wall (session start included)", "generation", "peak MiB"]
    header += ["records/s", "F1", *(["Spark jobs"] if spark else [])]
    rows = [header, ["---:"] * len(header)]
    for run in runs:
        seconds = {s["name"]: s["seconds"] for s in run["stages"] if s["status"] == "succeeded"}
        quality = run.get("quality") or {}
        rows.append(
            [
                f"{run['customers']:,}",
                *(_num(seconds.get(name), 2) for name in stage_names),
                _num(run["pipeline_seconds"], 2) if run["status"] == "succeeded" else "FAILED",
                _num(run.get("pipeline_wall_seconds"), 2),
                _num(run["generation_seconds"], 2),
                _num(run["pipeline_peak_rss_mb"], 0),
                _num(run["records_per_second"], 0),
                _num(quality.get("f1"), 4),
                *([_num(run.get("spark_jobs"), 0)] if spark else []),
            ]
        )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _gib(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 2**30:.1f} GiB"
