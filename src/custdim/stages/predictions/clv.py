"""Customer lifetime value: per-customer BTYD summaries in the engine, BG/NBD + Gamma-Gamma fitted in scipy, scores
joined back in the engine, and a held-out-time validation; writes ``ClvPrediction`` and ``lake/models/clv.json``.

Summaries (in ``time_unit``): a purchase is a day with at least one non-return activity of the CLV activity type
before the end of the ``as_of`` day; its value is that day's total amount. ``Frequency`` (x) is the number of purchase
days after the first, ``Recency`` (t_x) the time from the first to the last purchase day, ``Age`` (T) the time from
the first purchase day to the end of the ``as_of`` day (so a first purchase on ``as_of`` gives T = 1 day), and the
Gamma-Gamma mean value the mean of the repeat purchase days' values (the first purchase is left out). Returns are
left out of purchases and values; a customer whose repeat purchases average 0 or less is left out of the
Gamma-Gamma fit and gets the population's mean value.

Validation: the same model is fitted on the activities before ``as_of`` minus one horizon and predicts the horizon
that followed; the card reports predicted against actual purchases and the share of the horizon's revenue that the
top decile by predicted value captured, against the top decile by past spend.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from custdim.config.predictions import TIME_UNIT_DAYS, Clv
from custdim.contracts import CLV_PREDICTION, CUSTOMER, UNIFIED_ACTIVITY
from custdim.report import StageReport
from custdim.stages.context import RunContext
from custdim.stages.insights.asof import AsOf, resolve_as_of, window_start
from custdim.stages.predictions import btyd

MIN_BUYERS = 50
MIN_REPEATERS = 20
MODEL_CARD = ("models", "clv.json")
SCHEMA = pa.schema(
    [
        ("CustomerId", pa.string()),
        ("Frequency", pa.int64()),
        ("Recency", pa.float64()),
        ("Age", pa.float64()),
        ("ExpectedPurchases", pa.float64()),
        ("ProbabilityAlive", pa.float64()),
        ("ExpectedAverageValue", pa.float64()),
        ("CLVScore", pa.float64()),
        ("ValueBand", pa.string()),
    ]
)
CONVENTIONS = {
    "purchase": "a day with at least one non-return activity of the CLV activity type; its value is the day's total",
    "frequency": "x: number of purchase days after the first",
    "recency": "t_x: time from the first to the last purchase day",
    "age": "T: time from the first purchase day to the end of the as_of day",
    "monetary_value": "mean value of the repeat purchase days (the first purchase left out); Gamma-Gamma is fitted "
    "on customers with x > 0 and a positive mean",
    "clv": "CLVScore = ExpectedPurchases over the horizon x ExpectedAverageValue, undiscounted",
}


class Skipped(Exception):
    """Too little data for the model; the message says what is missing."""


def purchase_rows(activity: ir.Table, kind: str, start: dt.datetime | None, end: dt.datetime) -> ir.Table:
    """The rows every model counts as purchases: activities of type ``kind`` in [start, end) that are no return."""
    a = activity
    test = (a.ActivityType == kind) & (a.ActivityTimeStamp < ibis.literal(end, "timestamp"))
    test = test & ~a.IsReturn.fill_null(False)
    if start is not None:
        test = test & (a.ActivityTimeStamp >= ibis.literal(start, "timestamp"))
    return a.filter(test)


def purchase_days(activity: ir.Table, kind: str, start: dt.datetime | None, end: dt.datetime) -> ir.Table:
    """CustomerId, Day, Value: one row per customer and day with a purchase in [start, end)."""
    a = purchase_rows(activity, kind, start, end)
    return a.group_by(CustomerId=a.CustomerId, Day=a.ActivityTimeStamp.date()).agg(Value=a.Amount.fill_null(0).sum())


def summaries(activity: ir.Table, kind: str, end: dt.datetime) -> ir.Table:
    """Per customer with a purchase before ``end``: x, t_x and T in whole days, the repeat mean value ``m`` (null
    without repeats) and the total value."""
    d = purchase_days(activity, kind, None, end)
    s = d.group_by("CustomerId").agg(
        first=d.Day.min(), last=d.Day.max(), n=d.count(), total=d.Value.sum(), first_value=d.Value.argmin(d.Day)
    )
    end_day = ibis.literal(end.date(), "date")
    return s.select(
        "CustomerId",
        x=(s.n - 1).cast("int64"),
        tx_days=s.last.delta(s.first, unit="day").cast("int64"),
        T_days=end_day.delta(s.first, unit="day").cast("int64"),
        m=ibis.ifelse(s.n > 1, (s.total - s.first_value) / (s.n - 1).cast("float64"), ibis.null("float64")),
        total=s.total.cast("float64"),
        first=s.first,
    )


class Model:
    """A fitted BG/NBD + Gamma-Gamma pair and how it was fitted."""

    def __init__(self, bgnbd: btyd.Fit, gamma_gamma: btyd.Fit, counts: dict[str, int], unit_days: float) -> None:
        self.bgnbd, self.gamma_gamma, self.counts, self.unit_days = bgnbd, gamma_gamma, counts, unit_days

    @property
    def mean_value(self) -> float | None:
        """The population's expected purchase value (None when q <= 1, where it is not defined)."""
        g = self.gamma_gamma.params
        return btyd.population_average_value(g) if g["q"] > 1 else None


def fit(engine: Any, s: ir.Table, unit_days: float) -> Model:
    """Fit both models on the summaries ``s`` (grouped to distinct rows in the engine); Skipped on too little data."""
    # Sorted: the fit then sees the same rows in the same order on every engine and every run.
    grouped = engine.to_arrow(
        s.group_by("x", "tx_days", "T_days").agg(n=s.count()).order_by(["x", "tx_days", "T_days"])
    )
    weights = np.asarray(grouped["n"], dtype=float)
    buyers = int(weights.sum())
    x = np.asarray(grouped["x"], dtype=float)
    repeaters = int(weights[x > 0].sum())
    if buyers < MIN_BUYERS or repeaters < MIN_REPEATERS:
        raise Skipped(
            f"{buyers} customers with a purchase, {repeaters} with a repeat purchase: CLV needs at least {MIN_BUYERS} "
            f"and {MIN_REPEATERS}"
        )
    t_x = np.asarray(grouped["tx_days"], dtype=float) / unit_days
    T = np.asarray(grouped["T_days"], dtype=float) / unit_days
    bgnbd = btyd.fit_bgnbd(x, t_x, T, weights)

    positive = s.filter((s.x > 0) & (s.m > 0))
    gg = engine.to_arrow(positive.group_by("x", "m").agg(n=positive.count()).order_by(["x", "m"]))
    gg_weights = np.asarray(gg["n"], dtype=float)
    fitted = int(gg_weights.sum())
    if fitted < MIN_REPEATERS:
        raise Skipped(f"{fitted} customers with repeat purchases of positive value: Gamma-Gamma needs {MIN_REPEATERS}")
    gamma_gamma = btyd.fit_gamma_gamma(np.asarray(gg["x"], dtype=float), np.asarray(gg["m"], dtype=float), gg_weights)
    counts = {
        "customers_with_purchases": buyers,
        "customers_with_repeat_purchases": repeaters,
        "gamma_gamma_fitted": fitted,
        "gamma_gamma_left_out_nonpositive": repeaters - fitted,
    }
    return Model(bgnbd, gamma_gamma, counts, unit_days)


def scores(engine: Any, s: ir.Table, model: Model, horizon: float) -> ir.Table:
    """Per customer in ``s``: the summaries in time units, expected purchases over ``horizon`` units, probability
    alive, expected average value and CLV. The BG/NBD part is computed once per distinct (x, t_x, T) in numpy and
    joined back; the Gamma-Gamma part is arithmetic, done in the engine."""
    grouped = engine.to_arrow(s.select("x", "tx_days", "T_days").distinct())
    x = np.asarray(grouped["x"], dtype=float)
    t_x = np.asarray(grouped["tx_days"], dtype=float) / model.unit_days
    T = np.asarray(grouped["T_days"], dtype=float) / model.unit_days
    p = model.bgnbd.params
    lookup = engine.from_arrow(
        pa.table(
            {
                "_x": grouped["x"],
                "_tx": grouped["tx_days"],
                "_T": grouped["T_days"],
                "ExpectedPurchases": btyd.expected_purchases(p, horizon, x, t_x, T),
                "ProbabilityAlive": btyd.probability_alive(p, x, t_x, T),
            }
        )
    )
    j = s.join(lookup, [s.x == lookup._x, s.tx_days == lookup._tx, s.T_days == lookup._T])
    g = model.gamma_gamma.params
    own = (s.x > 0) & (s.m > 0)
    mean = model.mean_value
    if mean is None:
        # q <= 1: the population mean is not defined; each customer's own mean, else the observed mean, stands in.
        observed = engine.to_arrow(s.aggregate(v=(s.total / (s.x + 1)).mean()))["v"][0].as_py()
        value = ibis.ifelse(own, j.m, ibis.literal(float(observed)))
    else:
        shrunk = (g["p"] * (g["v"] + j.x.cast("float64") * j.m)) / (g["p"] * j.x.cast("float64") + g["q"] - 1)
        value = ibis.ifelse(own, shrunk, ibis.literal(mean))
    return j.select(
        "CustomerId",
        Frequency=j.x,
        Recency=j.tx_days.cast("float64") / model.unit_days,
        Age=j.T_days.cast("float64") / model.unit_days,
        ExpectedPurchases=j.ExpectedPurchases,
        ProbabilityAlive=j.ProbabilityAlive,
        ExpectedAverageValue=value,
        CLVScore=j.ExpectedPurchases * value,
    )


def value_bands(engine: Any, scored: ir.Table, clv: Clv) -> tuple[ir.Table, dict[str, float | None]]:
    """``scored`` with ValueBand: High (the high_value rule), Medium (down to the median CLVScore), Low (below)."""
    c = scored.CLVScore
    median = engine.to_arrow(scored.aggregate(v=c.quantile(0.5)))["v"][0].as_py()
    rule = clv.high_value
    if rule.top_percent is not None:
        high = engine.to_arrow(scored.aggregate(v=c.quantile(1 - rule.top_percent / 100)))["v"][0].as_py()
    else:
        assert rule.revenue_share is not None
        w = ibis.window(order_by=[c.desc(), scored.CustomerId], preceding=None, following=0)
        cum = scored.select(v=c, before=c.sum().over(w) - c, total=c.sum().over())
        held = cum.filter(cum.before < cum.total * (rule.revenue_share / 100))
        high = engine.to_arrow(held.aggregate(v=held.v.min()))["v"][0].as_py()
    if high is None or median is None:
        return scored.mutate(ValueBand=ibis.null("string")), {"high": high, "median": median}
    band = ibis.cases((c >= high, "High"), (c >= median, "Medium"), else_="Low")
    return scored.mutate(ValueBand=band), {"high": float(high), "median": float(median)}


def horizon_window(clv: Clv, as_of: AsOf, unit_days: float) -> tuple[dt.datetime, float]:
    """The first instant of the last horizon before the end of ``as_of``, and the horizon's length in time units."""
    cut = window_start(as_of, clv.horizon)
    return cut, (as_of.end - cut).total_seconds() / 86400 / unit_days


def write_empty(ctx: RunContext) -> int:
    """An empty ClvPrediction (no model, or too little data): the export and the views keep their shape."""
    return int(ctx.engine.write(ctx.engine.from_arrow(SCHEMA.empty_table()), ctx.lake.entity(CLV_PREDICTION)))


def validate(engine: Any, activity: ir.Table, clv: Clv, as_of: AsOf, unit_days: float) -> dict[str, Any]:
    """Fit on the activities before as_of minus one horizon and score the prediction of that horizon."""
    cut, horizon = horizon_window(clv, as_of, unit_days)
    calibration = summaries(activity, clv.activity, cut)
    try:
        model = fit(engine, calibration, unit_days)
    except Skipped as why:
        return {"status": "skipped", "reason": f"calibration period before {cut.date()}: {why}"}
    hold = purchase_days(activity, clv.activity, cut, as_of.end)
    actual = hold.group_by(_id=hold.CustomerId).agg(purchases=hold.count(), revenue=hold.Value.sum())
    predicted = scores(engine, calibration, model, horizon)
    # view(): the past spend comes from the same summaries the prediction was built on.
    cal = calibration.view()
    past = cal.select(_pid=cal.CustomerId, past=cal.total)
    j = predicted.left_join(actual, predicted.CustomerId == actual._id)
    j = j.join(past, j.CustomerId == past._pid)
    rows = engine.to_arrow(
        j.select(
            "ExpectedPurchases",
            "CLVScore",
            "past",
            actual=j.purchases.fill_null(0).cast("float64"),
            revenue=j.revenue.fill_null(0.0).cast("float64"),
        )
    )
    exp = np.asarray(rows["ExpectedPurchases"], dtype=float)
    act = np.asarray(rows["actual"], dtype=float)
    revenue = np.asarray(rows["revenue"], dtype=float)
    predicted_total, actual_total = float(exp.sum()), float(act.sum())
    return {
        "status": "succeeded",
        "calibration_end": cut.date().isoformat(),
        "holdout": {"from": cut.date().isoformat(), "to": as_of.date.isoformat()},
        "customers": len(exp),
        "bgnbd": {k: round(v, 6) for k, v in model.bgnbd.params.items()},
        "predicted_purchases": round(predicted_total, 1),
        "actual_purchases": int(actual_total),
        "purchases_error": round((predicted_total - actual_total) / actual_total, 4) if actual_total else None,
        "mean_absolute_error": round(float(np.abs(exp - act).mean()), 4),
        "correlation": _correlation(exp, act),
        "top_decile_revenue_capture": _capture(np.asarray(rows["CLVScore"], dtype=float), revenue),
        "baseline_top_decile_by_past_spend": _capture(np.asarray(rows["past"], dtype=float), revenue),
        "holdout_revenue": round(float(revenue.sum()), 2),
    }


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return None
    return round(float(np.corrcoef(a, b)[0, 1]), 4)


def _capture(score: np.ndarray, revenue: np.ndarray) -> float | None:
    """Share of the revenue that the top 10 % of customers by ``score`` brought (ties broken by position)."""
    total = revenue.sum()
    if total <= 0 or len(score) == 0:
        return None
    top = np.argsort(-score, kind="stable")[: max(1, len(score) // 10)]
    return round(float(revenue[top].sum() / total), 4)


def run(ctx: RunContext, report: StageReport, clv: Clv) -> dict[str, Any]:
    """Fit, score, band and validate; write ClvPrediction. Returns the model card (also when skipped)."""
    engine, lake = ctx.engine, ctx.lake
    activity = engine.read(lake.entity(UNIFIED_ACTIVITY))
    customers = engine.read(lake.entity(CUSTOMER))
    as_of = resolve_as_of(ctx.config.as_of, activity, engine.to_arrow)
    unit_days = TIME_UNIT_DAYS[clv.time_unit]
    _, horizon = horizon_window(clv, as_of, unit_days)
    card: dict[str, Any] = {
        "version": 1,
        "model": "BG/NBD (purchase frequency and dropout) + Gamma-Gamma (spend)",
        "run_id": ctx.run_id,
        "activity": clv.activity,
        "as_of": as_of.date.isoformat(),
        "time_unit": clv.time_unit,
        "time_unit_days": unit_days,
        "horizon": clv.horizon,
        "horizon_units": round(horizon, 4),
        "conventions": CONVENTIONS,
    }
    s = summaries(activity, clv.activity, as_of.end)
    try:
        model = fit(engine, s, unit_days)
    except Skipped as why:
        report.warn(f"CLV skipped: {why}")
        report.rows_out[CLV_PREDICTION] = write_empty(ctx)
        return {**card, "status": "skipped", "reason": str(why)}
    first = engine.to_arrow(s.aggregate(v=s.first.min()))
    scored, thresholds = value_bands(engine, scores(engine, s, model, horizon), clv)
    out = customers.select(_cid=customers.CustomerId).left_join(scored, customers.CustomerId == scored.CustomerId)
    table = out.select(CustomerId=out._cid, **{n: out[n] for n in SCHEMA.names if n != "CustomerId"})
    report.rows_out[CLV_PREDICTION] = engine.write(table.cast(ibis.schema(SCHEMA)), lake.entity(CLV_PREDICTION))
    for name, f in (("BG/NBD", model.bgnbd), ("Gamma-Gamma", model.gamma_gamma)):
        if not f.converged:
            report.warn(f"CLV: the {name} fit did not converge ({f.message}); its parameters are the best found")
    if model.mean_value is None:
        report.warn(
            "CLV: Gamma-Gamma q <= 1, the population mean value is undefined; customers without repeat "
            "purchases get the observed mean purchase value"
        )
    card.update(
        status="succeeded",
        data_window={"from": str(first["v"][0].as_py()), "to": as_of.date.isoformat()},
        customers=model.counts,
        not_scored_no_purchase=report.rows_out[CLV_PREDICTION] - model.counts["customers_with_purchases"],
        bgnbd={**{k: round(v, 6) for k, v in model.bgnbd.params.items()}, **_fit_facts(model.bgnbd)},
        gamma_gamma={**{k: round(v, 6) for k, v in model.gamma_gamma.params.items()}, **_fit_facts(model.gamma_gamma)},
        population_mean_value=model.mean_value,
        value_bands={"rule": clv.high_value.model_dump(exclude_none=True), "thresholds": thresholds},
    )
    if clv.holdout:
        card["validation"] = validate(engine, activity, clv, as_of, unit_days)
        if card["validation"]["status"] == "skipped":
            report.warn(f"CLV validation skipped: {card['validation']['reason']}")
    return card


def _fit_facts(f: btyd.Fit) -> dict[str, Any]:
    return {"log_likelihood": round(f.log_likelihood, 4), "converged": f.converged, "iterations": f.iterations}
