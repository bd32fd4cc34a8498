"""CLV fit benchmark: custdim's BG/NBD + Gamma-Gamma fit against the ``lifetimes`` package, on the same simulated data.

``python -m bench.run --suite clv [--clv-customers 1000000,10000000]`` (or ``python -m bench.clv``). Per size, in
``bench/work/clv-<customers>/`` and one process per phase so that every peak memory is its own:

1. ``simulate``: customers drawn from BG/NBD and Gamma-Gamma with known parameters, observed for 1 to 156 weeks after
   their first purchase, at day resolution (as the predictions stage summarises real purchases), written as Parquet
   summaries (x, t_x and T in days, the repeat purchases' mean value m);
2. ``custdim``: :func:`custdim.stages.predictions.clv.fit` as the stage calls it: DuckDB groups the summaries to
   distinct rows, scipy fits both models on them;
3. ``lifetimes``: ``BetaGeoFitter().fit(frequency, recency, T)`` and ``GammaGammaFitter().fit(frequency,
   monetary_value)`` on the same summaries read into pandas, one row per customer as its documentation shows.

Both sides are judged against the true parameters. Results: ``bench/results/clv.{json,md}``.
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
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "work"
DEFAULT_SIZES = (1_000_000, 10_000_000)
PHASES = ("simulate", "custdim", "lifetimes")
TRUE_BGNBD = {"r": 0.5, "alpha": 2.0, "a": 1.2, "b": 3.0}  # per week
TRUE_GG = {"p": 6.0, "q": 4.0, "v": 15.0}
TARGET_SPEEDUP = 3.0
SEED = 42


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clv", description=__doc__.splitlines()[0])
    add_options(parser)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase is not None:
        return _child(args.phase, args.one)
    return run(args.clv_customers, args.out)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The clv suite's own options (also offered by ``python -m bench.run``)."""
    from bench.er import int_list

    parser.add_argument(
        "--clv-customers",
        type=lambda text: int_list(text, "clv-customers", minimum=1000),
        default=DEFAULT_SIZES,
        help="clv suite: simulated customers per size, comma-separated",
    )


def work_dir(customers: int) -> Path:
    return WORK_DIR / f"clv-{customers}"


def run(sizes: tuple[int, ...], out: Path) -> int:
    from bench.run import git_state, machine_facts

    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    runs = []
    for customers in sizes:
        shutil.rmtree(work_dir(customers), ignore_errors=True)
        phases: dict[str, dict[str, Any]] = {}
        for phase in PHASES:
            print(f"clv {customers:,} customers: {phase} ...", flush=True)
            phases[phase] = _phase(phase, customers)
            r = phases[phase]
            shown = f"{r['seconds']:.1f} s, peak {r['peak_rss_mb']:,.0f} MiB" if r["status"] == "succeeded" else r
            print(f"  {shown}", flush=True)
            if r["status"] != "succeeded" and phase == "simulate":
                break
        runs.append({"customers": customers, "phases": phases, "summary": summary(phases)})
    doc = {
        "version": 1,
        "benchmark": "clv",
        "timestamp": timestamp,
        **git_state(),
        "machine": machine_facts(),
        "truth": {"bgnbd": TRUE_BGNBD, "gamma_gamma": TRUE_GG, "time_unit": "week", "seed": SEED},
        "runs": runs,
    }
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "clv.json", out / "clv.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(doc), encoding="utf-8")
    print()
    print(md_path.read_text(encoding="utf-8"))
    return 0 if all(p["status"] == "succeeded" for r in runs for p in r["phases"].values()) else 1


def _phase(phase: str, customers: int) -> dict[str, Any]:
    from bench.run import run_child

    return run_child([sys.executable, "-m", "bench.clv", "--phase", phase, "--one", str(customers)], phase)


def summary(phases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    c, lt = phases.get("custdim", {}), phases.get("lifetimes", {})
    out: dict[str, Any] = {}
    if c.get("status") == "succeeded" and lt.get("status") == "succeeded":
        out["speedup"] = round(lt["seconds"] / c["seconds"], 2)
        out["memory_ratio"] = round(lt["peak_rss_mb"] / c["peak_rss_mb"], 2)
        out["meets_speedup"] = out["speedup"] >= TARGET_SPEEDUP
        out["max_parameter_difference"] = max(
            abs(c["params"][k] / lt["params"][k] - 1) for k in c["params"] if k in lt["params"]
        )
    return out


def render_markdown(doc: dict[str, Any]) -> str:
    from bench.run import header_lines

    lines = [
        "# CLV fit: custdim vs lifetimes",
        "",
        *header_lines(doc, SEED),
        f"- truth (per week): BG/NBD {TRUE_BGNBD}, Gamma-Gamma {TRUE_GG}",
        "",
        "| customers | system | seconds | peak MiB | r | alpha | a | b | p | q | v | worst error vs truth |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    truth = {**TRUE_BGNBD, **TRUE_GG}
    for run in doc["runs"]:
        for system in ("custdim", "lifetimes"):
            r = run["phases"].get(system, {})
            if r.get("status") != "succeeded":
                lines.append(f"| {run['customers']:,} | {system} | failed: {r.get('error')} | | | | | | | | | |")
                continue
            p = r["params"]
            worst = max(abs(p[k] / truth[k] - 1) for k in truth)
            values = " | ".join(f"{p[k]:.4f}" for k in ("r", "alpha", "a", "b", "p", "q", "v"))
            lines.append(
                f"| {run['customers']:,} | {system} | {r['seconds']:.2f} | {r['peak_rss_mb']:,.0f} | {values} | "
                f"{worst:.2%} |"
            )
    lines.append("")
    for run in doc["runs"]:
        s = run["summary"]
        if "speedup" in s:
            lines.append(
                f"- {run['customers']:,} customers: custdim fits **{s['speedup']:.1f}x** faster than lifetimes "
                f"(target >= {TARGET_SPEEDUP:g}x at 10M) with {s['memory_ratio']:.1f}x less peak memory; the two "
                f"systems' parameters differ by at most {s['max_parameter_difference']:.2%}."
            )
    lines += [
        "",
        "*seconds*: the fitting process's wall time from reading the Parquet summaries to both models fitted (custdim:"
        " DuckDB groups equal summaries, scipy fits the distinct rows with their counts; lifetimes: pandas reads one "
        "row per customer, its fitters do the rest). *peak MiB*: that process's peak resident memory. Simulation "
        "time is not included.",
        "",
    ]
    return "\n".join(lines)


# --- children -------------------------------------------------------------------------------------------------------


def _child(phase: str, customers: int) -> int:
    from bench.run import report_child

    directory = work_dir(customers)

    def work() -> dict[str, Any]:
        if phase == "simulate":
            return simulate_phase(directory, customers)
        return fit_phase(directory, phase)

    return report_child(work)


def simulate_phase(directory: Path, customers: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from custdim.stages.predictions import btyd

    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    t_days = rng.integers(7, 1093, customers)
    x, t_x = btyd.simulate_bgnbd(TRUE_BGNBD, t_days / 7.0, rng)
    tx_days = np.minimum(np.round(t_x * 7.0), t_days - 1).astype(np.int64)  # whole days, as the stage counts them
    m = np.full(customers, np.nan)
    repeat = x > 0
    m[repeat] = btyd.simulate_gamma_gamma(TRUE_GG, x[repeat], rng)
    folder = directory / "summaries"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "x": x.astype(np.int64),
            "tx_days": tx_days,
            "T_days": t_days.astype(np.int64),
            "m": pa.array(m, pa.float64(), mask=~repeat),
        }
    )
    pq.write_table(table, folder / "part-0.parquet")
    return {
        "status": "succeeded",
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": _peak(),
        "repeaters": int(repeat.sum()),
        "distinct_rows": None,
    }


def fit_phase(directory: Path, system: str) -> dict[str, Any]:
    from bench.er_metrics import RssSampler

    with RssSampler() as rss, rss.phase(system):
        started = time.perf_counter()
        params, extra = (_fit_custdim if system == "custdim" else _fit_lifetimes)(directory)
        seconds = time.perf_counter() - started
    return {
        "status": "succeeded",
        "seconds": round(seconds, 3),
        "peak_rss_mb": rss.peak_mb(),
        "params": params,
        **extra,
    }


def _fit_custdim(directory: Path) -> tuple[dict[str, float], dict[str, Any]]:
    from custdim.engines import create_engine
    from custdim.lake import Lake
    from custdim.stages.predictions.clv import fit

    lake = Lake(str(directory))
    engine = create_engine("duckdb", lake, None)
    try:
        model = fit(engine, engine.read(lake.path("summaries")), 7.0)
    finally:
        engine.close()
    params = {**model.bgnbd.params, **model.gamma_gamma.params}
    return params, {"converged": model.bgnbd.converged and model.gamma_gamma.converged, "counts": model.counts}


def _fit_lifetimes(directory: Path) -> tuple[dict[str, float], dict[str, Any]]:
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    d = pd.read_parquet(directory / "summaries")
    bg = BetaGeoFitter()
    bg.fit(d["x"], d["tx_days"] / 7.0, d["T_days"] / 7.0)
    rep = d[(d["x"] > 0) & (d["m"] > 0)]
    gg = GammaGammaFitter()
    gg.fit(rep["x"], rep["m"])
    params = {k: float(v) for k, v in bg.params_.items()} | {k: float(v) for k, v in gg.params_.items()}
    return params, {"version": __import__("lifetimes").__version__}


def _peak() -> float:
    from custdim.report import peak_rss_mb

    return peak_rss_mb()


if __name__ == "__main__":
    sys.exit(main())
