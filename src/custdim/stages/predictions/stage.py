"""The predictions stage: the models ``predictions:`` switches on, each with its model card under ``lake/models/``.

A model the project does not switch on still gets its (empty) tables, so the export and the views keep one shape,
and its stale model card is removed. A model with too little data is skipped with a warning; the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from custdim.contracts import (
    BRAND_AFFINITY,
    CHURN_PREDICTION,
    CLV_PREDICTION,
    INTEREST_AFFINITY,
    PREDICTION_ENTITIES,
    PRODUCT_RECOMMENDATION,
)
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.predictions import affinity, churn, clv, recommendations

CARDS = {"clv": clv.MODEL_CARD, "churn": churn.MODEL_CARD, "recommendations": recommendations.MODEL_CARD}
"""Where each model writes its card (affinity is a transparent formula, documented in its module: no card)."""
SUMMARY_KEYS = (
    "status",
    "reason",
    "as_of",
    "time_unit",
    "horizon",
    "bgnbd",
    "gamma_gamma",
    "customers",
    "definition_days",
    "customers_recommended",
    "validation",
)


def run(ctx: RunContext, report: StageReport) -> None:
    settings = ctx.config.predictions
    lake = ctx.lake
    models: list[tuple[str, Any, Callable[..., dict[str, Any]]]] = [
        ("clv", settings.clv, clv.run),
        ("churn", settings.churn, churn.run),
        ("affinity", settings.affinity, affinity.run),
        ("recommendations", settings.recommendations, recommendations.run),
    ]
    with ctx.steps("predictions", len(models)) as advance:
        for name, model_settings, fit in models:
            card_path = lake.path(*CARDS[name]) if name in CARDS else None
            if model_settings is None:
                _write_empty(ctx, report, name)
                if card_path is not None and lake.exists(card_path):
                    lake.remove(card_path)
            else:
                card = fit(ctx, report, model_settings)
                if card_path is not None:
                    lake.write_json(card_path, card)
                report.details[name] = {k: card[k] for k in SUMMARY_KEYS if k in card} if card_path else card
            advance()


def _write_empty(ctx: RunContext, report: StageReport, name: str) -> None:
    """The empty tables of a model the project does not switch on."""
    if name == "clv":
        report.rows_out[CLV_PREDICTION] = clv.write_empty(ctx)
    elif name == "churn":
        report.rows_out[CHURN_PREDICTION] = churn.write_empty(ctx)
    elif name == "affinity":
        for entity in (BRAND_AFFINITY, INTEREST_AFFINITY):
            report.rows_out[entity] = affinity.write_empty(ctx, entity)
    else:
        report.rows_out[PRODUCT_RECOMMENDATION] = recommendations.write_empty(ctx)


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.entity(n) for n in PREDICTION_ENTITIES]


STAGE = StageSpec(
    "predictions",
    ("activities",),
    run,
    outputs,
    "fit and score predictions (ClvPrediction, ChurnPrediction, affinities, ProductRecommendation)",
)
