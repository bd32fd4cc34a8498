"""Explain a published profile: its records, the pairs that joined them, where each field's value came from.

Reads only the published snapshot, through :class:`custdim.ldw.published.PublishedViews` (the checked,
locked-down reader of ``custdim sql``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custdim.contracts import ALTERNATE_KEY, CUSTOMER, CUSTOMER_PROVENANCE, EXPLAIN_ENTITIES, MATCH_PAIRS
from custdim.errors import CustdimError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custdim.lake import Lake


@dataclass(frozen=True)
class Explanation:
    """One profile (a Customer row), its source records, the pairs that joined them and each field's provenance."""

    customer: dict[str, Any]
    records: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    provenance: list[dict[str, Any]]


def explain_queries(tables: Mapping[str, ir.Table], customer_id: str) -> dict[str, ir.Table]:
    """The four lookups of :func:`explain` over ``tables`` (named like the published entities), in output order."""
    customer = tables[CUSTOMER]
    keys = tables[ALTERNATE_KEY]
    pairs = tables[MATCH_PAIRS]
    prov = tables[CUSTOMER_PROVENANCE]
    return {
        "customer": customer.filter(customer.CustomerId == customer_id),
        "records": keys.filter(keys.CustomerId == customer_id)
        .select("SourceName", "TableName", "SourceKey", "IsDedupeWinner")
        .order_by(["SourceName", "TableName", "SourceKey"]),
        "pairs": pairs.filter(pairs.CustomerId == customer_id)
        .select(
            "Stage",
            "RuleName",
            "Score",
            "ConditionScores",
            "BlockingKey",
            "LeftTableName",
            "LeftSourceKey",
            "RightTableName",
            "RightSourceKey",
        )
        .order_by(["Stage", "RuleName", "LeftSourceKey", "RightSourceKey"]),
        "provenance": prov.filter(prov.CustomerId == customer_id)
        .select("Field", "SourceName", "TableName", "SourceKey", "Policy")
        .order_by("Field"),
    }


def explain(lake: Lake, customer_id: str) -> Explanation:
    """Why these records became one profile, from the snapshot the lake's export manifest publishes."""
    from custdim.ldw.published import PublishedViews

    published = PublishedViews(lake)
    tables = published.tables(EXPLAIN_ENTITIES, needed_by="explain")
    rows = {key: published.run(expr).to_pylist() for key, expr in explain_queries(tables, customer_id).items()}
    if not rows["customer"]:
        raise CustdimError(f"no profile with CustomerId {customer_id!r} in the published export")
    return Explanation(rows["customer"][0], rows["records"], rows["pairs"], rows["provenance"])
