"""Prediction quality on held-out time: the demo retailer run end to end, each model judged against its baseline.

``python -m bench.run --suite predictions [--prediction-customers 10000,100000] [--prediction-seeds 7,8]`` (or
``python -m bench.predictions``). Per size and seed, one fresh process generates the demo data (seeds other than the
demo's 42, which the models were developed on) and runs the whole pipeline with the demo project file as a user
gets it; the model cards then give, on the time each model did not see:

- CLV: share of the held-out year's revenue brought by the top decile by predicted CLV, against the top decile by
  past spend; predicted against actual purchases;
- churn: AUC of the churn score against recency alone (the envelope of every "no purchase in the last N days"
  rule), accuracy against the best such rule picked on the training cut-offs, the grade;
- recommendations: hit rate@5 on the last month against the five most popular products.

The predictions stage's time and peak memory are recorded too. Results: ``bench/results/predictions.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "work"
DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_SEEDS = (7, 8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.predictions", description=__doc__.splitlines()[0])
    add_options(parser)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        return _child(args.one, args.seed)
    return run(args.prediction_customers, args.prediction_seeds, args.out)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The predictions suite's own options (also offered by ``python -m bench.run``)."""
    from bench.er import int_list

    parser.add_argument(
        "--prediction-customers",
        type=lambda text: int_list(text, "prediction-customers", minimum=2000),
        default=DEFAULT_SIZES,
        help="predictions suite: demo customers per size, comma-separated",
    )
    parser.add_argument(
        "--prediction-seeds",
        type=lambda text: int_list(text, "prediction-seeds", minimum=0),
        default=DEFAULT_SEEDS,
        help="predictions suite: demo data seeds, comma-separated",
    )


def work_dir(customers: int, seed: int) -> Path:
    return WORK_DIR / f"predictions-{customers}-{seed}"


def run(sizes: tuple[int, ...], seeds: tuple[int, ...], out: Path) -> int:
    from bench.run import git_state, machine_facts

    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    runs = []
    for customers in sizes:
        for seed in seeds:
            print(f"predictions {customers:,} customers, seed {seed} ...", flush=True)
            result = _one(customers, seed)
            runs.append({"customers": customers, "seed": seed, **result})
            print(f"  {result['status']}", flush=True)
    doc = {
        "version": 1,
        "benchmark": "predictions",
        "timestamp": timestamp,
        **git_state(),
        "machine": machine_facts(),
        "runs": runs,
    }
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "predictions.json", out / "predictions.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(doc), encoding="utf-8")
    print()
    print(md_path.read_text(encoding="utf-8"))
    return 0 if all(r["status"] == "succeeded" for r in runs) else 1


def _one(customers: int, seed: int) -> dict[str, Any]:
    from bench.run import run_child

    command = [sys.executable, "-m", "bench.predictions", "--one", str(customers), "--seed", str(seed)]
    return run_child(command, "the run")


def _child(customers: int, seed: int) -> int:
    from bench.run import report_child

    return report_child(lambda: demo_phase(customers, seed))


def demo_phase(customers: int, seed: int) -> dict[str, Any]:
    """Generate and run the demo; return the predictions stage's cost and the models' held-out results."""
    from custdim.demo.runner import run_demo

    directory = work_dir(customers, seed)
    shutil.rmtree(directory, ignore_errors=True)
    result = run_demo(directory, customers=customers, seed=seed)
    stage = result.report.stage("predictions")
    if result.report.status != "succeeded" or stage is None:
        return {"status": "failed", "error": result.report.error or "the run did not reach predictions"}
    cards = {c["name"]: c for c in result.project.models()}
    clv = cards["clv"]["validation"]
    churn = cards["churn"].get("validation", {})
    recs = cards["recommendations"].get("validation", {})
    out: dict[str, Any] = {
        "status": "succeeded",
        "profiles": result.report.stage("merge").rows_out.get("Customer") if result.report.stage("merge") else None,
        "predictions_seconds": stage.seconds,
        "predictions_peak_rss_mb": stage.peak_rss_mb,
        "pipeline_seconds": round(result.report.seconds, 2),
        "clv": {
            k: clv.get(k)
            for k in (
                "top_decile_revenue_capture",
                "baseline_top_decile_by_past_spend",
                "predicted_purchases",
                "actual_purchases",
                "purchases_error",
            )
        },
        "churn": {
            "status": cards["churn"]["status"],
            "auc": churn.get("auc"),
            "baseline_auc_recency": churn.get("baseline", {}).get("auc_recency"),
            "accuracy": churn.get("accuracy"),
            "baseline_rule": churn.get("baseline", {}).get("rule"),
            "baseline_accuracy": churn.get("baseline", {}).get("accuracy"),
            "top_decile_lift": churn.get("top_decile_lift"),
            "baseline_top_decile_lift": churn.get("baseline", {}).get("top_decile_lift"),
            "churn_rate": churn.get("churn_rate"),
            "grade": churn.get("grade"),
            "validation_customers": churn.get("validation_customers"),
        },
        "recommendations": {
            "status": cards["recommendations"]["status"],
            "hit_rate": recs.get("hit_rate"),
            "baseline_popularity_hit_rate": recs.get("baseline_popularity_hit_rate"),
            "customers": recs.get("customers"),
        },
    }
    shutil.rmtree(directory, ignore_errors=True)
    return out


def _f(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def render_markdown(doc: dict[str, Any]) -> str:
    from bench.run import header_lines

    lines = [
        "# Predictions on held-out time: custdim's models against their baselines",
        "",
        *header_lines(doc),
        "- the demo retailer (`custdim demo`) with its project file as shipped; seeds other than the demo's 42",
        "",
        "| customers | seed | CLV top-decile capture | by past spend | churn AUC | by recency | churn accuracy "
        "| best rule | grade | hit rate@5 | popularity | predictions s | peak MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | :-: | ---: | ---: | ---: | ---: |",
    ]
    for r in doc["runs"]:
        if r["status"] != "succeeded":
            lines.append(f"| {r['customers']:,} | {r['seed']} | failed: {r.get('error')} |" + " |" * 10)
            continue
        c, ch, rc = r["clv"], r["churn"], r["recommendations"]
        rule = f"{_f(ch['baseline_accuracy'])} ({ch['baseline_rule']})" if ch["baseline_rule"] else "-"
        lines.append(
            f"| {r['customers']:,} | {r['seed']} | {_f(c['top_decile_revenue_capture'], '.1%')} | "
            f"{_f(c['baseline_top_decile_by_past_spend'], '.1%')} | {_f(ch['auc'])} | {_f(ch['baseline_auc_recency'])} "
            f"| {_f(ch['accuracy'])} | {rule} | {ch['grade'] or '-'} | {_f(rc['hit_rate'], '.1%')} | "
            f"{_f(rc['baseline_popularity_hit_rate'], '.1%')} | {r['predictions_seconds']:.1f} | "
            f"{r['predictions_peak_rss_mb']:,.0f} |"
        )
    lines += [
        "",
        "*CLV top-decile capture*: share of the held-out year's revenue brought by the 10 % of customers with the "
        "highest CLV predicted from the years before (*by past spend*: the 10 % who had spent most). *churn AUC*: "
        "the churn score on the last 90-day window, trained on the three windows before it (*by recency*: days "
        "since the last purchase as the score). *churn accuracy* at 0.5 against the best 'no purchase in the last N "
        "days' rule (N picked on the training windows); the grade is A when the model is 10 % more accurate, B when "
        "more accurate, C otherwise. *hit rate@5*: customers who bought something new in the last month and "
        "bought one of their five recommendations (*popularity*: the five most popular products). *predictions s* "
        "and *peak MiB*: the predictions stage (all four models) and the run's peak resident memory at its end.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
