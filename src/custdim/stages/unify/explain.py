"""Explain a published profile: its records, the pairs that joined them, where each field's value came from.

Reads only the published snapshot. The lookups are Ibis expressions over tables named like the published entities,
compiled to SQL and run through the same checked, locked-down reader as a user's ``custdim sql`` query, so they can
reach nothing but the export folder and no value is ever pasted into SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custdim.contracts import ALTERNATE_KEY, CUSTOMER, CUSTOMER_PROVENANCE, EXPLAIN_ENTITIES, MATCH_PAIRS
from custdim.errors import CustdimError, StageError

if TYPE_CHECKING:
    import ibis
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
    import ibis

    from custdim.ldw.query import run_query
    from custdim.stages.publish.catalog import ensure

    catalog = ensure(lake)  # first: it also refuses with a clear message when nothing is published yet
    tables = {name: ibis.table(schema, name=name) for name, schema in _published_schemas(lake).items()}
    rows = {
        key: run_query(catalog, lake.path("export"), ibis.to_sql(expr, dialect="duckdb")).to_pylist()
        for key, expr in explain_queries(tables, customer_id).items()
    }
    if not rows["customer"]:
        raise CustdimError(f"no profile with CustomerId {customer_id!r} in the published export")
    return Explanation(rows["customer"][0], rows["records"], rows["pairs"], rows["provenance"])


def _published_schemas(lake: Lake) -> dict[str, ibis.Schema]:
    """Schemas of the entities explain reads, from the first partition of each in the published manifest."""
    import ibis
    import pyarrow.parquet as pq

    from custdim.lake.cdm import manifest_from_json
    from custdim.stages.publish.snapshots import read_manifest

    doc = read_manifest(lake)
    if doc is None:
        raise StageError("nothing is published yet: run `custdim run` first")
    locations = {name: locs for name, _, locs in manifest_from_json(doc)[1]}
    schemas = {}
    for name in EXPLAIN_ENTITIES:
        if not locations.get(name):
            raise StageError(
                f"the published export has no {name} entity: run `custdim run` to publish one that explain can read"
            )
        with lake.fs.open(lake.path("export", locations[name][0]), "rb") as fh:
            schemas[name] = ibis.schema(pq.read_schema(fh))
    return schemas
