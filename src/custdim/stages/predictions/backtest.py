"""``custdim models backtest``: every switched-on model re-run with ``as_of`` moved back by its horizon (CLV: the
horizon; churn: one churn window; recommendations: the holdout window) and scored against what happened next, on
the activities of the last run. The results go to each model card (``backtest``) and to a run report.
"""

from __future__ import annotations

from typing import Any

from custdim.config.predictions import TIME_UNIT_DAYS
from custdim.contracts import UNIFIED_ACTIVITY
from custdim.errors import StageError
from custdim.report import StageReport, now_iso
from custdim.stages.context import RunContext
from custdim.stages.insights.asof import resolve_as_of
from custdim.stages.predictions import churn, clv, recommendations
from custdim.stages.predictions.stage import CARDS


def backtest(ctx: RunContext, report: StageReport) -> dict[str, dict[str, Any]]:
    """Backtest every model ``predictions:`` switches on; returns the results by model name."""
    engine, lake, settings = ctx.engine, ctx.lake, ctx.config.predictions
    entity = lake.entity(UNIFIED_ACTIVITY)
    if not lake.has_table(entity):
        raise StageError("no unified activities yet: run `custdim run` first, then backtest the models")
    activity = engine.read(entity)
    as_of = resolve_as_of(ctx.config.as_of, activity, engine.to_arrow)
    results: dict[str, dict[str, Any]] = {}
    if settings.clv is not None:
        unit = TIME_UNIT_DAYS[settings.clv.time_unit]
        results["clv"] = clv.validate(engine, activity, settings.clv, as_of, unit)
    if settings.churn is not None:
        results["churn"] = churn.validate(engine, activity, settings.churn, as_of)
    if settings.recommendations is not None:
        results["recommendations"] = recommendations.validate(engine, activity, settings.recommendations, as_of)
    if not results:
        raise StageError("no model to backtest: switch one on under predictions: (clv, churn or recommendations)")
    at = now_iso()
    for name, result in results.items():
        result = {"run_at": at, "as_of": as_of.date.isoformat(), **result}
        results[name] = result
        path = lake.path(*CARDS[name])
        card = lake.read_json(path) if lake.exists(path) else {"status": "not fitted yet"}
        lake.write_json(path, {**card, "backtest": result})
        if result["status"] != "succeeded":
            report.warn(f"{name} backtest skipped: {result.get('reason')}")
    report.details = dict(results)
    return results
