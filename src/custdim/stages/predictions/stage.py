"""The predictions stage: the models ``predictions:`` switches on, each with its model card under ``lake/models/``.

A model the project does not switch on still gets its (empty) table, so the export and the views keep one shape, and
its stale model card is removed. A model with too little data is skipped with a warning; the run goes on.
"""

from __future__ import annotations

from custdim.contracts import CLV_PREDICTION, PREDICTION_ENTITIES
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.predictions import clv


def run(ctx: RunContext, report: StageReport) -> None:
    lake = ctx.lake
    card_path = lake.path(*clv.MODEL_CARD)
    settings = ctx.config.predictions.clv
    with ctx.steps("predictions", 1) as advance:
        if settings is None:
            report.rows_out[CLV_PREDICTION] = clv.write_empty(ctx)
            if lake.exists(card_path):
                lake.remove(card_path)
        else:
            card = clv.run(ctx, report, settings)
            lake.write_json(card_path, card)
            report.details["clv"] = _summary(card)
        advance()


def _summary(card: dict[str, object]) -> dict[str, object]:
    """What the run report keeps of the model card: status, parameters, validation headline."""
    keys = ("status", "reason", "as_of", "time_unit", "horizon", "bgnbd", "gamma_gamma", "customers", "validation")
    return {k: card[k] for k in keys if k in card}


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.entity(n) for n in PREDICTION_ENTITIES]


STAGE = StageSpec("predictions", ("activities",), run, outputs, "fit and score predictions (ClvPrediction)")
