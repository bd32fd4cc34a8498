"""The logical data warehouse's derived views, as engine-neutral Ibis expressions over the exported entities."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.contracts import CLV_PREDICTION, CUSTOMER, CUSTOMER_MEASURE, SEGMENT_MEMBERSHIP, UNIFIED_ACTIVITY


def dim_customer(
    customer: ir.Table,
    activity: ir.Table,
    measures: ir.Table | None = None,
    membership: ir.Table | None = None,
    clv: ir.Table | None = None,
) -> ir.Table:
    """The enhanced customer dimension: one row per CustomerId, profile fields plus activity facts, every customer
    measure, ``CLVScore`` and ``ValueBand`` (null without a CLV model), and ``Segments`` (the names of the customer's
    segments, sorted; null when none).

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
    if clv is not None:
        c = clv.select(_c_id=clv.CustomerId, CLVScore=clv.CLVScore, ValueBand=clv.ValueBand)
        out = out.left_join(c, out.CustomerId == c._c_id).drop("_c_id")
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
        tables.get(CLV_PREDICTION),
    )
    return {"dim_customer": view}
