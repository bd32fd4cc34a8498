"""Product recommendations from item-to-item co-purchase similarity; writes ``ProductRecommendation`` and
``lake/models/recommendations.json``.

Purchases are the (customer, product) pairs of non-return rows of the recommendation activity with a Product,
before the end of ``as_of`` (and after the ``lookback`` start when set). Two products are similar when the same
customers buy both: similarity(i, j) = customers who bought both / sqrt(customers of i · customers of j) (cosine
over who bought what), keeping each product's ``NEIGHBOURS`` most similar products. A customer's Score for a
product is the sum of its similarities to the products they bought; products they bought are left out unless
``allow_repeat``. When fewer than ``items`` products score, the most popular remaining products fill the list with
Score 0. Every customer with a purchase gets a list; ``Rank`` 1 is the best.

Validation: the same recommender built on the purchases before the ``holdout`` window (default: the last month)
recommends ``items`` products; the hit rate@K is the share of customers who bought something in the window (with
``allow_repeat`` off: something new to them) for whom at least one recommended product was among those purchases —
against the same number for the ``items`` most popular products (the Customer Insights baseline).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.config.predictions import Recommendations
from custdim.contracts import PRODUCT_RECOMMENDATION, UNIFIED_ACTIVITY
from custdim.report import StageReport
from custdim.stages.context import RunContext
from custdim.stages.insights.asof import AsOf, resolve_as_of, window_start
from custdim.stages.predictions.clv import purchase_rows

MODEL_CARD = ("models", "recommendations.json")
NEIGHBOURS = 20
"""Most similar products kept per product."""
FILL = 20
"""Popular products considered beyond ``items`` for customers whose similarity list is short."""
MIN_CUSTOMERS = 50
MIN_PRODUCTS = 2
SCHEMA = pa.schema(
    [("CustomerId", pa.string()), ("ProductId", pa.string()), ("Rank", pa.int64()), ("Score", pa.float64())]
)


class Skipped(Exception):
    """Too little data for the recommender; the message says what is missing."""


def purchases(activity: ir.Table, kind: str, start: dt.datetime | None, end: dt.datetime) -> ir.Table:
    """Distinct (CustomerId, ProductId) bought in [start, end)."""
    a = purchase_rows(activity, kind, start, end)
    a = a.filter(a.Product.notnull())
    return a.select(CustomerId=a.CustomerId, ProductId=a.Product.cast("string")).distinct()


def popularity(bought: ir.Table) -> ir.Table:
    """ProductId, buyers, and PopRank (1 = bought by most customers, ties by ProductId): also the product's
    integer key inside the recommender."""
    p = bought.group_by("ProductId").agg(buyers=bought.count())
    w = ibis.window(order_by=[p.buyers.desc(), p.ProductId])
    return p.mutate(PopRank=(ibis.row_number().over(w) + 1).cast("int64"))


def similarity(pairs: ir.Table, pop: ir.Table) -> ir.Table:
    """(_i, _j, sim) over product keys: the ``NEIGHBOURS`` most similar products j of every product i."""
    a = pairs.select(_a=pairs._u, _i=pairs._p)
    b = pairs.select(_b=pairs._u, _j=pairs._p)
    co = a.join(b, (a._a == b._b) & (a._i != b._j))
    co = co.group_by("_i", "_j").agg(both=co.count())
    pi = pop.select(_pi=pop.PopRank, ni=pop.buyers)
    pj = pop.select(_pj=pop.PopRank, nj=pop.buyers)
    s = co.join(pi, co._i == pi._pi).join(pj, co._j == pj._pj)
    s = s.select("_i", "_j", sim=s.both.cast("float64") / (s.ni.cast("float64") * s.nj.cast("float64")).sqrt())
    w = ibis.window(group_by=s._i, order_by=[s.sim.desc(), s._j])
    s = s.mutate(_r=ibis.row_number().over(w))
    return s.filter(s._r < NEIGHBOURS).select("_i", "_j", "sim")


def recommend(
    engine: Any,
    bought: ir.Table,
    items: int,
    allow_repeat: bool,
    use_similarity: bool = True,
    targets: ir.Table | None = None,
) -> ir.Table:
    """SCHEMA rows: ``items`` products for every customer of ``bought`` (or of ``targets``, a table with a
    CustomerId column); the most popular products only when not ``use_similarity``.

    Customers and products get integer keys first: the candidate table (a customer's products times their
    neighbours) is the large one, and grouping and ranking it on integers takes a fraction of the memory."""
    pop = engine.materialize("recommendations/popularity", popularity(bought))
    ids = bought.select("CustomerId").distinct()
    if targets is not None:
        ids = ids.semi_join(targets, ids.CustomerId == targets.CustomerId)
    ids = engine.materialize("recommendations/customers", _keyed(ids))
    keys = pop.select(_pid=pop.ProductId, _p=pop.PopRank)
    everyone = bought.join(keys, bought.ProductId == keys._pid)
    own = everyone.join(ids, everyone.CustomerId == ids.CustomerId).select("_u", "_p")
    own = engine.materialize("recommendations/own", own)
    popular = pop.filter(pop.PopRank <= items + FILL).select(_j=pop.PopRank)
    candidates = ids.select("_u").cross_join(popular).mutate(Score=ibis.literal(0.0))
    if use_similarity:
        # Similarity comes from everyone's purchases, whoever the recommendations are for.
        pairs = own
        if targets is not None:
            every = _keyed(bought.select("CustomerId").distinct())
            j = everyone.join(every, everyone.CustomerId == every.CustomerId)
            pairs = j.select(_u=j._u, _p=j._p)
        sim = engine.materialize("recommendations/similarity", similarity(pairs, pop))
        scored = own.join(sim, own._p == sim._i)
        scored = scored.group_by("_u", "_j").agg(Score=scored.sim.sum())
        candidates = ibis.union(scored, candidates.select("_u", "_j", "Score"))
    c = candidates.group_by("_u", "_j").agg(Score=candidates.Score.max())
    if not allow_repeat:
        seen = own.select(_su=own._u, _sj=own._p)
        c = c.anti_join(seen, (c._u == seen._su) & (c._j == seen._sj))
    # The product key is the popularity rank: equal scores go to the more popular product.
    w = ibis.window(group_by=c._u, order_by=[c.Score.desc(), c._j])
    c = c.mutate(Rank=(ibis.row_number().over(w) + 1).cast("int64"))
    c = c.filter(c.Rank <= items)
    c = c.join(ids, c._u == ids._u).join(keys, c._j == keys._p)
    return c.select(CustomerId=c.CustomerId, ProductId=c._pid, Rank=c.Rank, Score=c.Score.round(6)).cast(
        ibis.schema(SCHEMA)
    )


def _keyed(ids: ir.Table) -> ir.Table:
    """``ids`` (a CustomerId column) with an integer key ``_u``."""
    return ids.mutate(_u=ibis.row_number().over(ibis.window(order_by=ids.CustomerId)))


def eligible(later: ir.Table, earlier: ir.Table, allow_repeat: bool) -> ir.Table:
    """The (CustomerId, ProductId) purchases of ``later`` a recommender built on ``earlier`` is judged on: by
    customers who bought in ``earlier``, and (unless ``allow_repeat``) of products new to them."""
    target = later
    if not allow_repeat:
        seen = earlier.select(_su=earlier.CustomerId, _sj=earlier.ProductId)
        target = later.anti_join(seen, (later.CustomerId == seen._su) & (later.ProductId == seen._sj))
    known = earlier.select(_ku=earlier.CustomerId).distinct()
    return target.join(known, target.CustomerId == known._ku).select("CustomerId", "ProductId")


def hit_rate(engine: Any, recs: ir.Table, judged: ir.Table) -> dict[str, Any]:
    """Share of the customers of ``judged`` (see :func:`eligible`) who bought one of their recommended products."""
    r = recs.select(_ru=recs.CustomerId, _rj=recs.ProductId)
    hits = judged.join(r, (judged.CustomerId == r._ru) & (judged.ProductId == r._rj))
    counts = engine.to_arrow(
        judged.aggregate(customers=judged.CustomerId.nunique()).cross_join(
            hits.aggregate(hit=hits.CustomerId.nunique())
        )
    ).to_pylist()[0]
    customers, hit = int(counts["customers"] or 0), int(counts["hit"] or 0)
    return {"customers": customers, "hits": hit, "hit_rate": round(hit / customers, 4) if customers else None}


def _start(anchor: AsOf, lookback: str | None) -> dt.datetime | None:
    return None if lookback is None else window_start(anchor, lookback)


def validate(engine: Any, activity: ir.Table, settings: Recommendations, as_of: AsOf) -> dict[str, Any]:
    """Recommend from the purchases before the holdout window; score both recommenders on the window."""
    cut = window_start(as_of, settings.holdout)
    anchor = AsOf(cut.date() - dt.timedelta(days=1), "holdout")
    earlier = purchases(activity, settings.activity, _start(anchor, settings.lookback), cut)
    later = purchases(activity, settings.activity, cut, as_of.end)
    k = settings.items
    judged = engine.materialize("recommendations/judged", eligible(later, earlier, settings.allow_repeat))
    # Only the judged customers need recommendations: a month's buyers, not the whole base.
    targets = judged.select("CustomerId").distinct()
    ours = hit_rate(engine, recommend(engine, earlier, k, settings.allow_repeat, targets=targets), judged)
    popular = recommend(engine, earlier, k, settings.allow_repeat, use_similarity=False, targets=targets)
    theirs = hit_rate(engine, popular, judged)
    lift = ours["hit_rate"] / theirs["hit_rate"] if ours["hit_rate"] and theirs["hit_rate"] else None
    return {
        "status": "succeeded" if ours["customers"] else "skipped",
        **({} if ours["customers"] else {"reason": "nobody with an earlier purchase bought in the holdout window"}),
        "trained_before": cut.date().isoformat(),
        "holdout": {"from": cut.date().isoformat(), "to": as_of.date.isoformat()},
        "k": k,
        "customers": ours["customers"],
        "hit_rate": ours["hit_rate"],
        "baseline_popularity_hit_rate": theirs["hit_rate"],
        "lift_over_popularity": round(lift, 4) if lift else None,
    }


def write_empty(ctx: RunContext) -> int:
    """An empty ProductRecommendation (no recommender, or too little data)."""
    return int(ctx.engine.write(ctx.engine.from_arrow(SCHEMA.empty_table()), ctx.lake.entity(PRODUCT_RECOMMENDATION)))


def run(ctx: RunContext, report: StageReport, settings: Recommendations) -> dict[str, Any]:
    """Recommend and validate; write ProductRecommendation. Returns the model card (also when skipped)."""
    engine, lake = ctx.engine, ctx.lake
    activity = engine.read(lake.entity(UNIFIED_ACTIVITY))
    as_of = resolve_as_of(ctx.config.as_of, activity, engine.to_arrow)
    card: dict[str, Any] = {
        "version": 1,
        "model": f"item-to-item co-purchase similarity (cosine over buyers, {NEIGHBOURS} neighbours per product)",
        "run_id": ctx.run_id,
        "activity": settings.activity,
        "as_of": as_of.date.isoformat(),
        "items": settings.items,
        "allow_repeat": settings.allow_repeat,
        "lookback": settings.lookback,
    }
    bought = purchases(activity, settings.activity, _start(as_of, settings.lookback), as_of.end)
    facts = engine.to_arrow(
        bought.aggregate(customers=bought.CustomerId.nunique(), products=bought.ProductId.nunique())
    ).to_pylist()[0]
    customers, products = int(facts["customers"] or 0), int(facts["products"] or 0)
    if customers < MIN_CUSTOMERS or products < MIN_PRODUCTS:
        why = (
            f"{customers} customers bought {products} products ({settings.activity} rows with a Product): "
            f"recommendations need {MIN_CUSTOMERS} customers and {MIN_PRODUCTS} products"
        )
        report.warn(f"Recommendations skipped: {why}")
        report.rows_out[PRODUCT_RECOMMENDATION] = write_empty(ctx)
        return {**card, "status": "skipped", "reason": why}
    recs = recommend(engine, bought, settings.items, settings.allow_repeat)
    report.rows_out[PRODUCT_RECOMMENDATION] = engine.write(recs, lake.entity(PRODUCT_RECOMMENDATION))
    written = engine.read(lake.entity(PRODUCT_RECOMMENDATION))
    spread = engine.to_arrow(
        written.aggregate(customers=written.CustomerId.nunique(), products=written.ProductId.nunique())
    ).to_pylist()[0]
    card.update(
        status="succeeded",
        customers_with_purchases=customers,
        products_bought=products,
        customers_recommended=int(spread["customers"] or 0),
        catalog_coverage=round(int(spread["products"] or 0) / products, 4),
        validation=validate(engine, activity, settings, as_of),
    )
    if card["validation"]["status"] == "skipped":
        report.warn(f"Recommendations validation skipped: {card['validation']['reason']}")
    return card
