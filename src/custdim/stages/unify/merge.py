"""Merge: one Customer row per cluster, plus AlternateKey and MatchPairs.

Policy ``importance``: each field takes the first non-null value in match order (table rank, then key), which is
exactly ascending _rid. The CustomerId is the GUID of the cluster's first record's identity in that order.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.unify.cluster import CLUSTERS
from custdim.stages.unify.ids import guid, record_identity
from custdim.stages.unify.map import RECORDS
from custdim.stages.unify.match import PAIRS

ENTITIES = ("Customer", "AlternateKey", "MatchPairs")


def customer_ids(ctx: RunContext, records: ir.Table, clusters: ir.Table) -> ir.Table:
    """(_cluster, CustomerId) for every cluster."""
    heads = (
        records.join(clusters, records._rid == clusters._cluster)
        .select(clusters._cluster, records._source, records._table, records._key)
        .distinct()
    )
    namespace = f"custdim:{ctx.config.name}:customer"
    return heads.select(
        "_cluster", CustomerId=guid(namespace, record_identity(heads._source, heads._table, heads._key))
    )


def build_customer(fields: list[str], members: ir.Table, ids: ir.Table) -> ir.Table:
    """One row per cluster with each field's first non-null value in importance order."""
    aggs = {f: members[f].argmin(members._rid, where=members[f].notnull()) for f in fields}
    merged = members.group_by("_cluster").agg(SourceRecordCount=members.count().cast("int32"), **aggs)
    j = merged.join(ids, "_cluster")
    return j.select("CustomerId", *fields, "SourceRecordCount")


def build_alternate_keys(members: ir.Table, ids: ir.Table) -> ir.Table:
    j = members.join(ids, "_cluster")
    return j.select("CustomerId", SourceName=j._source, TableName=j._table, SourceKey=j._key)


def build_match_pairs(pairs: ir.Table, records: ir.Table, members: ir.Table, ids: ir.Table) -> ir.Table:
    left = records.select(
        l_rid=records._rid, LeftSourceName=records._source, LeftTableName=records._table, LeftSourceKey=records._key
    )
    right = records.select(
        r_rid=records._rid, RightSourceName=records._source, RightTableName=records._table, RightSourceKey=records._key
    )
    owner = members.join(ids, "_cluster").select(o_rid=members._rid, CustomerId=ids.CustomerId)
    j = pairs.join(left, pairs.left_rid == left.l_rid).join(right, pairs.right_rid == right.r_rid)
    j = j.join(owner, j.left_rid == owner.o_rid)
    return j.select(
        "CustomerId",
        "LeftSourceName",
        "LeftTableName",
        "LeftSourceKey",
        "RightSourceName",
        "RightTableName",
        "RightSourceKey",
        RuleName=j.rule,
        Score=j.score,
        ConditionScores=j.scores,
        Stage=ibis.literal("match"),
    )


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake = ctx.engine, ctx.lake
    records = engine.read(lake.work_table(*RECORDS))
    clusters = engine.read(lake.work_table(*CLUSTERS))
    pairs = engine.read(lake.work_table(*PAIRS))
    ids_path = lake.work_table("unify", "ids")
    engine.write(customer_ids(ctx, records, clusters), ids_path)
    ids = engine.read(ids_path)
    members = records.join(clusters, "_rid")
    fields = ctx.config.unify.fields()
    outputs = {
        "Customer": build_customer(fields, members, ids),
        "AlternateKey": build_alternate_keys(members, ids),
        "MatchPairs": build_match_pairs(pairs, records, members, ids),
    }
    with ctx.steps("merge", len(outputs)) as advance:
        for name, expr in outputs.items():
            report.rows_out[name] = engine.write(expr, lake.entity(name))
            advance()
    report.rows_in["records"] = engine.row_count(lake.work_table(*RECORDS))


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.entity(n) for n in ENTITIES]


STAGE = StageSpec("merge", ("cluster",), run, outputs, "merge clusters into Customer profiles")
