"""The two measured phases of one benchmark size, each run in its own process by :mod:`bench.run`.

``generate_phase`` writes the fictional retailer; ``pipeline_phase`` runs the full custdim pipeline on it and judges
the result against the generator's truth. Keeping them in separate processes means the pipeline's peak memory is its
own, not the generator's.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

from custdim.report import RunReport, peak_rss_mb


def generate_phase(directory: Path, customers: int, seed: int) -> dict[str, Any]:
    """Generate the dataset into ``directory``; return how long it took and what it wrote."""
    from custdim.demo.generate import generate

    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    dataset = generate(directory, customers=customers, seed=seed)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": peak_rss_mb(),
        "people": dataset.people,
        "rows": dict(dataset.rows),
    }


def pipeline_phase(directory: Path, engine: str) -> dict[str, Any]:
    """Run the whole pipeline on a generated dataset and evaluate it. Never raises: failures come back as data."""
    from custdim.demo.generate import TRUTH_PATH
    from custdim.demo.project_file import write_project_file
    from custdim.demo.runner import evaluate
    from custdim.project import Project

    write_project_file(directory, engine)
    project = Project.load(directory)
    customer_tables = [t.table for t in project.config.unify.tables]
    started = time.perf_counter()
    try:
        report = project.run()
    except Exception as exc:
        # Project.run writes its report even when a stage fails: keep the stages that did run.
        runs = project.runs(limit=1)
        return {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "wall_seconds": round(time.perf_counter() - started, 3),
            "peak_rss_mb": peak_rss_mb(),
            "customer_tables": customer_tables,
            "stages": stage_rows(runs[0]) if runs else [],
        }
    wall_seconds = time.perf_counter() - started
    pipeline_peak = peak_rss_mb()  # before evaluation, which is not part of the pipeline
    jobs = None
    if engine == "spark":
        from custdim.engines.spark import jobs_started

        jobs = jobs_started()
    started = time.perf_counter()
    quality, clusters = evaluate(project, directory / TRUTH_PATH)
    return {
        "status": report.status,
        "error": None,
        "traceback": None,
        "wall_seconds": round(wall_seconds, 3),
        "peak_rss_mb": pipeline_peak,
        "spark_jobs": jobs,
        "evaluation_seconds": round(time.perf_counter() - started, 3),
        "customer_tables": customer_tables,
        "stages": stage_rows(report),
        "quality": quality.to_json(),
        "cluster_quality": clusters.to_json(),
    }


def stage_rows(report: RunReport) -> list[dict[str, Any]]:
    """The per-stage facts worth keeping from a run report."""
    return [
        {
            "name": s.name,
            "status": s.status,
            "seconds": s.seconds,
            "peak_rss_mb": s.peak_rss_mb,
            "rows_in": s.rows_in,
            "rows_out": s.rows_out,
            "rejected": s.rejected,
            "details": s.details,
        }
        for s in report.stages
    ]
