"""The logical data warehouse's derived views, as engine-neutral Ibis expressions over the exported entities."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.contracts import CUSTOMER, UNIFIED_ACTIVITY


def dim_customer(customer: ir.Table, activity: ir.Table) -> ir.Table:
    """The enhanced customer dimension: one row per CustomerId, profile fields plus activity facts."""
    facts = activity.group_by("CustomerId").agg(
        FirstActivityAt=activity.ActivityTimeStamp.min(),
        LastActivityAt=activity.ActivityTimeStamp.max(),
        ActivityCount=activity.count(),
        TotalAmount=activity.Amount.sum(),
    )
    j = customer.left_join(facts, customer.CustomerId == facts.CustomerId)
    return j.select(
        *[customer[c] for c in customer.columns],
        facts.FirstActivityAt,
        facts.LastActivityAt,
        ActivityCount=facts.ActivityCount.fill_null(0),
        TotalAmount=facts.TotalAmount.fill_null(0.0),
    )


def derived_views(schemas: dict[str, pa.Schema]) -> dict[str, ir.Table]:
    """Derived views over unbound tables named like the exported entities."""
    tables = {name: ibis.table(ibis.schema(schema), name=name) for name, schema in schemas.items()}
    return {"dim_customer": dim_customer(tables[CUSTOMER], tables[UNIFIED_ACTIVITY])}
