"""The logical data warehouse's derived views, as engine-neutral Ibis expressions over the exported entities."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.contracts import (
    BRAND_AFFINITY,
    CHURN_PREDICTION,
    CLV_PREDICTION,
    CUSTOMER,
    CUSTOMER_MEASURE,
    INTEREST_AFFINITY,
    SEGMENT_MEMBERSHIP,
    UNIFIED_ACTIVITY,
)

PREDICTED_COLUMNS = {CLV_PREDICTION: ("CLVScore", "ValueBand"), CHURN_PREDICTION: ("ChurnScore", "RiskBand")}
"""The per-customer prediction columns dim_customer carries, by entity."""
TOP_AFFINITIES = {BRAND_AFFINITY: "TopBrands", INTEREST_AFFINITY: "TopInterests"}
"""The affinity entities whose top names dim_customer lists, and the list column's name."""
TOP = 3


def dim_customer(
    customer: ir.Table,
    activity: ir.Table,
    measures: ir.Table | None = None,
    membership: ir.Table | None = None,
    predictions: dict[str, ir.Table] | None = None,
) -> ir.Table:
    """The enhanced customer dimension: one row per CustomerId, profile fields plus activity facts, every customer
    measure, ``CLVScore``/``ValueBand`` and ``ChurnScore``/``RiskBand`` (null without the model or a purchase),
    ``TopBrands``/``TopInterests`` (up to three names, highest affinity first) and ``Segments`` (the names of the
    customer's segments, sorted; null when none).

    An export from before measures, segments or predictions existed lacks their tables: the view then lacks their
    columns.
    """
    facts = activity.group_by("CustomerId").agg(
        FirstActivityAt=activity.ActivityTimeStamp.min(),
        LastActivityAt=activity.ActivityTimeStamp.max(),
        ActivityCount=activity.count(),
        TotalAmount=activity.Amount.sum(),
    )
    j = customer.left_join(facts, customer.CustomerId == facts.CustomerId)
    out = j.select(
        *[customer[c] for c in customer.columns],
        facts.FirstActivityAt,
        facts.LastActivityAt,
        ActivityCount=facts.ActivityCount.fill_null(0),
        TotalAmount=facts.TotalAmount.fill_null(0.0),
    )
    if measures is not None:
        columns = [c for c in measures.columns if c != "CustomerId" and c not in out.columns]
        m = measures.select(_m_id=measures.CustomerId, **{c: measures[c] for c in columns})
        out = out.left_join(m, out.CustomerId == m._m_id).drop("_m_id")
    for name, table in (predictions or {}).items():
        if name in PREDICTED_COLUMNS:
            p = table.select(_p_id=table.CustomerId, **{c: table[c] for c in PREDICTED_COLUMNS[name]})
        elif name in TOP_AFFINITIES:
            top = table.filter(table.Rank <= TOP)
            p = top.group_by(_p_id=top.CustomerId).agg(**{TOP_AFFINITIES[name]: top.Name.collect(order_by=top.Rank)})
        else:
            continue
        out = out.left_join(p, out.CustomerId == p._p_id).drop("_p_id")
    if membership is not None:
        lists = membership.group_by(_s_id=membership.CustomerId).agg(
            Segments=membership.SegmentName.collect(order_by=membership.SegmentName)
        )
        out = out.left_join(lists, out.CustomerId == lists._s_id).drop("_s_id")
    return out


def derived_views(schemas: dict[str, pa.Schema]) -> dict[str, ir.Table]:
    """Derived views over unbound tables named like the exported entities."""
    tables = {name: ibis.table(ibis.schema(schema), name=name) for name, schema in schemas.items()}
    view = dim_customer(
        tables[CUSTOMER],
        tables[UNIFIED_ACTIVITY],
        tables.get(CUSTOMER_MEASURE),
        tables.get(SEGMENT_MEMBERSHIP),
        {n: tables[n] for n in (*PREDICTED_COLUMNS, *TOP_AFFINITIES) if n in tables},
    )
    return {"dim_customer": view}
