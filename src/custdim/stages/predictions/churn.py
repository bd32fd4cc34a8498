"""Transactional churn: features from each customer's purchase history at a cut-off, a gradient-boosted classifier
trained on earlier cut-offs, validated on the latest cut-off whose outcome is known; writes ``ChurnPrediction`` and
``lake/models/churn.json``.

A customer *has churned* at cut-off c when they bought before c and not in the ``definition_days`` from c. The
cut-offs are c_k = end of ``as_of`` − k·definition_days for k = 1 … cutoffs: each has its whole outcome window
before the end of ``as_of``, and its features use only activities before c_k (no leakage). The validation model is
trained on c_2 … c_cutoffs and scored on c_1; the model that scores today is trained on c_1 … c_cutoffs and
applied at the end of ``as_of``.

Features (days are whole days, purchases are days with a non-return purchase, as for CLV): ``recency_days``,
``frequency``, ``tenure_days``, ``mean_interpurchase_days`` and ``recency_vs_interpurchase`` (missing with one
purchase), ``purchases_last_window`` / ``purchases_previous_window`` / ``trend`` (the last two churn windows),
``total_spend``, ``average_value``, ``return_rate`` (returns among purchases and returns of the activity type),
``category_breadth`` (distinct categories over every activity) and ``expected_purchases`` (BG/NBD fitted at the
cut-off, over one churn window).

Per-customer ``TopFactors``: for each feature, the score drop when that feature alone is set to the population's
median (occlusion); the three largest drops, most first. Baseline: the rule "no purchase in the last N days" with
N = definition_days / 2^j (j = 0 … 3) best on the training cut-offs; grade A when the model's validation accuracy
beats the rule's by at least 10 %, B when it beats it, C otherwise (the Customer Insights grading).
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custdim.config.predictions import Churn
from custdim.contracts import CHURN_PREDICTION, CUSTOMER, UNIFIED_ACTIVITY
from custdim.report import StageReport
from custdim.stages.context import RunContext
from custdim.stages.insights.asof import AsOf, resolve_as_of
from custdim.stages.predictions import btyd
from custdim.stages.predictions.clv import purchase_days

MODEL_CARD = ("models", "churn.json")
MIN_CUSTOMERS = 500
"""Customers with a purchase before the validation cut-off (Customer Insights asks for 500 profiles)."""
MIN_CLASS = 25
"""Churned and retained customers each, in training and in validation."""
FEATURES = (
    "recency_days",
    "frequency",
    "tenure_days",
    "mean_interpurchase_days",
    "recency_vs_interpurchase",
    "purchases_last_window",
    "purchases_previous_window",
    "trend",
    "total_spend",
    "average_value",
    "return_rate",
    "category_breadth",
    "expected_purchases",
)
SCHEMA = pa.schema(
    [
        ("CustomerId", pa.string()),
        ("ChurnScore", pa.float64()),
        ("IsChurn", pa.bool_()),
        ("RiskBand", pa.string()),
        ("TopFactors", pa.list_(pa.string())),
    ]
)
BANDS = ((0.66, "High"), (0.33, "Medium"))
BTYD_UNIT_DAYS = 7.0
"""BG/NBD is fitted in weeks: the parameters stay in a well-conditioned range."""


class Skipped(Exception):
    """Too little data for the model; the message says what is missing."""


def features(engine: Any, activity: ir.Table, kind: str, cut: dt.datetime, window_days: int) -> pa.Table:
    """CustomerId and FEATURES for every customer with a purchase before ``cut``, sorted by CustomerId."""
    d = purchase_days(activity, kind, None, cut)
    day = ibis.literal(cut.date(), "date")
    last_from = ibis.literal((cut - dt.timedelta(days=window_days)).date(), "date")
    prev_from = ibis.literal((cut - dt.timedelta(days=2 * window_days)).date(), "date")
    s = d.group_by(_cid=d.CustomerId).agg(
        first=d.Day.min(),
        last=d.Day.max(),
        n=d.count(),
        total=d.Value.sum().cast("float64"),
        recent=(d.Day >= last_from).sum(),
        previous=((d.Day >= prev_from) & (d.Day < last_from)).sum(),
    )
    a = activity.filter(activity.ActivityTimeStamp < ibis.literal(cut, "timestamp"))
    of_kind = a.filter(a.ActivityType == kind)
    returns = of_kind.group_by(_rid=of_kind.CustomerId).agg(
        returns=of_kind.IsReturn.fill_null(False).cast("int64").sum()
    )
    # A project without a Category mapping still gets the column (null): breadth is then 0 for everyone.
    categorized = a.filter(a.Category.notnull())
    breadth = categorized.group_by(_bid=categorized.CustomerId).agg(breadth=categorized.Category.nunique())
    j = s.left_join(returns, s._cid == returns._rid).left_join(breadth, s._cid == breadth._bid)
    recency = day.delta(j.last, unit="day").cast("float64")
    span = j.last.delta(j.first, unit="day").cast("float64")
    ipt = ibis.ifelse(j.n > 1, span / (j.n - 1).cast("float64"), ibis.null("float64"))
    n_returns = j.returns.fill_null(0).cast("float64")
    table = j.select(
        CustomerId=j._cid,
        recency_days=recency,
        frequency=j.n.cast("float64"),
        tenure_days=day.delta(j.first, unit="day").cast("float64"),
        mean_interpurchase_days=ipt,
        recency_vs_interpurchase=ibis.ifelse(ipt > 0, recency / ipt, ibis.null("float64")),
        purchases_last_window=j.recent.cast("float64"),
        purchases_previous_window=j.previous.cast("float64"),
        trend=(j.recent - j.previous).cast("float64"),
        total_spend=j.total,
        average_value=j.total / j.n.cast("float64"),
        return_rate=n_returns / (n_returns + j.n.cast("float64")),
        category_breadth=j.breadth.fill_null(0).cast("float64"),
        x=(j.n - 1).cast("float64"),
        tx=span,
        T=day.delta(j.first, unit="day").cast("float64") + 1,
    ).order_by("CustomerId")
    out = engine.to_arrow(table)
    return _with_expected(out, window_days)


def _with_expected(t: pa.Table, window_days: int) -> pa.Table:
    """Replace the BTYD summaries (x, tx, T in days) by BG/NBD's expected purchases over one churn window."""
    x = np.asarray(t["x"], dtype=float)
    tx = np.asarray(t["tx"], dtype=float) / BTYD_UNIT_DAYS
    T = np.asarray(t["T"], dtype=float) / BTYD_UNIT_DAYS
    expected = np.full(len(x), np.nan)
    if len(x) and (x > 0).sum() >= 20:
        key = np.stack([x, tx, T])
        uniq, counts = np.unique(key, axis=1, return_counts=True)
        params = btyd.fit_bgnbd(uniq[0], uniq[1], uniq[2], counts.astype(float)).params
        expected = btyd.expected_purchases(params, window_days / BTYD_UNIT_DAYS, x, tx, T)
    t = t.drop_columns(["x", "tx", "T"])
    return t.append_column("expected_purchases", pa.array(expected, pa.float64()))


def labels(
    engine: Any, activity: ir.Table, kind: str, cut: dt.datetime, window_days: int, ids: pa.ChunkedArray
) -> np.ndarray:
    """1 for each customer of ``ids`` with no purchase in [cut, cut + window), else 0."""
    d = purchase_days(activity, kind, cut, cut + dt.timedelta(days=window_days))
    bought = engine.to_arrow(d.select(d.CustomerId).distinct())["CustomerId"]
    retained = pc.is_in(ids, value_set=bought.combine_chunks().cast(ids.type))
    return (~np.asarray(retained.to_numpy(zero_copy_only=False), dtype=bool)).astype(np.int64)


def matrix(t: pa.Table) -> np.ndarray:
    """The FEATURES columns of ``t`` as a float matrix (missing as NaN, which the classifier handles).

    Rounded to 6 decimals: engines add money in parallel, in no fixed order, and the last bits of a sum would
    otherwise move the trees' bin edges, so the same data would not give the same model twice."""
    columns = [np.asarray(t[f].to_numpy(zero_copy_only=False), dtype=float) for f in FEATURES]
    return np.round(np.column_stack(columns), 6)


def classifier() -> Any:
    """The gradient-boosted trees, fixed seed: the same data gives the same model on every run."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.08, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
        early_stopping=False, random_state=0,
    )  # fmt: skip


def top_factors(model: Any, X: np.ndarray, reference: np.ndarray, score: np.ndarray) -> list[list[str]]:
    """Per row, the three features whose replacement by ``reference`` lowers the score most (occlusion), most
    first; features that do not raise the score are left out."""
    drops = np.empty_like(X)
    for i in range(X.shape[1]):
        moved = X.copy()
        moved[:, i] = reference[i]
        drops[:, i] = score - model.predict_proba(moved)[:, 1]
    order = np.argsort(-drops, axis=1, kind="stable")[:, :3]
    names = np.asarray(FEATURES, dtype=object)
    return [[names[j] for j in row if drops[r, j] > 1e-9] for r, row in enumerate(order)]


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(set(y.tolist())) < 2:
        return None
    return round(float(roc_auc_score(y, score)), 4)


def _binary(y: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    tp = int(((predicted == 1) & (y == 1)).sum())
    fp = int(((predicted == 1) & (y == 0)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    r = lambda v: None if v is None else round(v, 4)  # noqa: E731
    return {
        "accuracy": r(float((predicted == y).mean())) if len(y) else None,
        "precision": r(precision),
        "recall": r(recall),
        "f1": r(f1),
    }


def _top_decile_lift(y: np.ndarray, score: np.ndarray) -> float | None:
    if not len(y) or y.mean() == 0:
        return None
    top = np.argsort(-score, kind="stable")[: max(1, len(y) // 10)]
    return round(float(y[top].mean() / y.mean()), 4)


def _grade(model_accuracy: float | None, rule_accuracy: float | None) -> str | None:
    if model_accuracy is None or not rule_accuracy:
        return None
    gain = model_accuracy / rule_accuracy - 1
    return "A" if gain >= 0.10 else "B" if gain > 0 else "C"


class Dataset:
    """Feature rows and labels of several cut-offs stacked."""

    def __init__(self, parts: list[tuple[pa.Table, np.ndarray]]) -> None:
        self.X = np.concatenate([matrix(t) for t, _ in parts]) if parts else np.zeros((0, len(FEATURES)))
        self.y = np.concatenate([y for _, y in parts]) if parts else np.zeros(0, dtype=np.int64)
        self.recency = self.X[:, FEATURES.index("recency_days")]

    def check(self, what: str) -> None:
        churned = int(self.y.sum())
        if min(churned, len(self.y) - churned) < MIN_CLASS:
            raise Skipped(
                f"{what}: {churned} churned and {len(self.y) - churned} retained customers; each needs {MIN_CLASS}"
            )


def best_rule(data: Dataset, window_days: int) -> int:
    """N of the best "no purchase in the last N days" rule on ``data`` (by accuracy, the larger N on ties)."""
    candidates: list[int] = sorted({max(1, window_days // 2**j) for j in range(4)}, reverse=True)
    accuracy = [float(((data.recency >= n).astype(int) == data.y).mean()) for n in candidates]
    return candidates[int(np.argmax(accuracy))]


def run(ctx: RunContext, report: StageReport, churn: Churn) -> dict[str, Any]:
    """Train, validate, score; write ChurnPrediction. Returns the model card (also when skipped)."""
    engine, lake = ctx.engine, ctx.lake
    activity = engine.read(lake.entity(UNIFIED_ACTIVITY))
    as_of = resolve_as_of(ctx.config.as_of, activity, engine.to_arrow)
    d = churn.definition_days
    card: dict[str, Any] = {
        "version": 1,
        "model": "gradient-boosted trees (scikit-learn HistGradientBoostingClassifier) on purchase-history features",
        "run_id": ctx.run_id,
        "activity": churn.activity,
        "as_of": as_of.date.isoformat(),
        "definition_days": d,
        "definition": f"churned = bought before the cut-off and not in the {d} days from it",
        "features": list(FEATURES),
    }
    cuts = cutoffs(as_of, churn)
    try:
        result = _train(datasets(engine, activity, churn, cuts), cuts, card, d)
    except Skipped as why:
        report.warn(f"Churn skipped: {why}")
        report.rows_out[CHURN_PREDICTION] = write_empty(ctx)
        return {**card, "status": "skipped", "reason": str(why)}
    model, reference = result
    now = features(engine, activity, churn.activity, as_of.end, d)
    X = matrix(now)
    score = model.predict_proba(X)[:, 1] if len(X) else np.zeros(0)
    factors = top_factors(model, X, reference, score) if len(X) else []
    band = np.where(score >= BANDS[0][0], BANDS[0][1], np.where(score >= BANDS[1][0], BANDS[1][1], "Low"))
    scored = pa.table(
        {
            "_id": now["CustomerId"],
            "ChurnScore": pa.array(np.round(score, 6), pa.float64()),
            "IsChurn": pa.array(score >= 0.5, pa.bool_()),
            "RiskBand": pa.array(band.tolist(), pa.string()),
            "TopFactors": pa.array(factors, pa.list_(pa.string())),
        }
    )
    customers = engine.read(lake.entity(CUSTOMER))
    s = engine.from_arrow(scored)
    out = customers.select(_cid=customers.CustomerId).left_join(s, customers.CustomerId == s._id)
    table = out.select(CustomerId=out._cid, **{n: out[n] for n in SCHEMA.names if n != "CustomerId"})
    report.rows_out[CHURN_PREDICTION] = engine.write(table.cast(ibis.schema(SCHEMA)), lake.entity(CHURN_PREDICTION))
    card.update(
        status="succeeded",
        scored_customers=len(X),
        not_scored_no_purchase=report.rows_out[CHURN_PREDICTION] - len(X),
        predicted_churn_share=round(float((score >= 0.5).mean()), 4) if len(X) else None,
        risk_bands={name: int((band == name).sum()) for name in ("High", "Medium", "Low")},
    )
    return card


def _validate(
    parts: list[tuple[pa.Table, np.ndarray]], cuts: list[dt.datetime], window_days: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """Train on the older cut-offs, test on the latest: (validation results, global importance)."""
    validation, older = Dataset(parts[:1]), Dataset(parts[1:])
    if len(validation.y) < MIN_CUSTOMERS:
        raise Skipped(
            f"{len(validation.y)} customers with a purchase before the latest cut-off; churn needs {MIN_CUSTOMERS}"
        )
    older.check("training cut-offs")
    validation.check("validation cut-off")
    model = classifier().fit(older.X, older.y)
    score = model.predict_proba(validation.X)[:, 1]
    n = best_rule(older, window_days)
    rule = (validation.recency >= n).astype(int)
    ours, theirs = _binary(validation.y, (score >= 0.5).astype(int)), _binary(validation.y, rule)
    result = {
        "status": "succeeded",
        "holdout": {
            "from": cuts[0].date().isoformat(),
            "to": (cuts[0] + dt.timedelta(days=window_days - 1)).date().isoformat(),
        },
        "trained_on_cutoffs": [c.date().isoformat() for c in cuts[1:]],
        "validation_customers": len(validation.y),
        "churn_rate": round(float(validation.y.mean()), 4),
        "auc": _auc(validation.y, score),
        **ours,
        "top_decile_lift": _top_decile_lift(validation.y, score),
        "baseline": {
            "rule": f"no purchase in the last {n} days",
            "days": n,
            "auc_recency": _auc(validation.y, validation.recency),
            **theirs,
            "top_decile_lift": _top_decile_lift(validation.y, validation.recency),
        },
        "accuracy_lift": round(ours["accuracy"] / theirs["accuracy"], 4)
        if ours["accuracy"] and theirs["accuracy"]
        else None,
        "grade": _grade(ours["accuracy"], theirs["accuracy"]),
    }
    return result, _importance(model, validation)


def _train(
    parts: list[tuple[pa.Table, np.ndarray]], cuts: list[dt.datetime], card: dict[str, Any], window_days: int
) -> tuple[Any, np.ndarray]:
    """Validate, then fit on every cut-off; fills the card. Returns the model and the features' medians."""
    card["validation"], card["importance"] = _validate(parts, cuts, window_days)
    everything = Dataset(parts)
    final = classifier().fit(everything.X, everything.y)
    with warnings.catch_warnings():
        # A feature missing for everyone (nobody bought twice) has no median; NaN is "missing" to the trees too.
        warnings.simplefilter("ignore", RuntimeWarning)
        reference = np.nanmedian(everything.X, axis=0)
    card["training_rows"] = len(everything.y)
    card["cutoffs"] = [
        {"cutoff": c.date().isoformat(), "customers": t.num_rows, "churned": int(y.sum())}
        for c, (t, y) in zip(cuts, parts, strict=True)
    ]
    return final, reference


def cutoffs(as_of: AsOf, churn: Churn) -> list[dt.datetime]:
    """The training cut-offs, latest first: the end of as_of minus 1, 2 ... cutoffs churn windows."""
    return [as_of.end - dt.timedelta(days=k * churn.definition_days) for k in range(1, churn.cutoffs + 1)]


def datasets(
    engine: Any, activity: ir.Table, churn: Churn, cuts: list[dt.datetime]
) -> list[tuple[pa.Table, np.ndarray]]:
    """Features and labels at every cut-off."""
    parts = []
    for cut in cuts:
        f = features(engine, activity, churn.activity, cut, churn.definition_days)
        parts.append((f, labels(engine, activity, churn.activity, cut, churn.definition_days, f["CustomerId"])))
    return parts


def validate(engine: Any, activity: ir.Table, churn: Churn, as_of: AsOf) -> dict[str, Any]:
    """The held-out validation alone (what ``custdim models backtest`` reruns)."""
    cuts = cutoffs(as_of, churn)
    try:
        result, _ = _validate(datasets(engine, activity, churn, cuts), cuts, churn.definition_days)
    except Skipped as why:
        return {"status": "skipped", "reason": str(why)}
    return result


def _importance(model: Any, data: Dataset) -> dict[str, float]:
    """Permutation importance on the validation cut-off (drop in AUC when a feature is shuffled), largest first."""
    from sklearn.inspection import permutation_importance

    rows = np.random.default_rng(0).permutation(len(data.y))[:20_000]
    result = permutation_importance(model, data.X[rows], data.y[rows], scoring="roc_auc", n_repeats=3, random_state=0)
    pairs = sorted(zip(FEATURES, result.importances_mean, strict=True), key=lambda p: -p[1])
    return {name: round(float(v), 5) for name, v in pairs}


def write_empty(ctx: RunContext) -> int:
    """An empty ChurnPrediction (no model, or too little data)."""
    return int(ctx.engine.write(ctx.engine.from_arrow(SCHEMA.empty_table()), ctx.lake.entity(CHURN_PREDICTION)))
