"""Merge: one Customer row per profile, plus AlternateKey, MatchPairs, CustomerProvenance and IdChangeLog.

Field policies (per field, or per group of fields kept together from one record):
- importance: first non-null value in importance order (table rank in match order, dedupe winners first, key);
- most_recent / least_recent: by a recency column (`by:`), ties broken by importance; records without it last;
- most_filled: from the record with the most mapped fields filled, ties by importance;
- collect: every distinct non-null value, sorted, as a list (e.g. all emails).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from custdim.config.unify import Unify
from custdim.contracts import (
    ALTERNATE_KEY,
    CLUSTERS,
    CUSTOMER,
    CUSTOMER_PROVENANCE,
    ID_CHANGE_LOG,
    ID_HISTORY_ENTITIES,
    IDS,
    MATCH_PAIRS,
    MEMBERS,
    MERGED,
    PAIRS,
    RECORDS,
    UNIFY_ENTITIES,
)
from custdim.engines.base import Engine
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.publish.snapshots import published
from custdim.stages.unify.ids import assign_ids, record_identity
from custdim.stages.unify.map import recency_column


@dataclass(frozen=True)
class Choice:
    """How one output field is chosen: the ordering it follows and, for groups, the group it belongs to."""

    output: str
    source_field: str
    policy: str
    by: str | None
    group: str | None = None

    @property
    def order_key(self) -> str:
        return f"_ord__{self.policy}__{self.by or ''}"


def choices(unify: Unify) -> list[Choice]:
    """Output fields in order, each with its policy (collect fields last)."""
    merge = unify.merge
    grouped = {f: g for g in merge.groups for f in g.fields}
    out: list[Choice] = []
    for f in unify.fields():
        if f in merge.exclude:
            continue
        name = merge.rename.get(f, f)
        if f in grouped:
            g = grouped[f]
            out.append(Choice(name, f, g.policy, g.by, g.name))
        elif f in merge.fields and merge.fields[f].policy != "collect":
            p = merge.fields[f]
            out.append(Choice(name, f, p.policy, p.by))
        else:
            out.append(Choice(name, f, merge.default, merge.by))
    for name, p in merge.fields.items():
        if p.policy == "collect" and name not in merge.exclude:
            out.append(Choice(merge.rename.get(name, name), p.from_field or name, "collect", None))
    return out


def order_columns(members: ir.Table, picks: list[Choice]) -> dict[str, ir.Value]:
    """One rank column per distinct ordering: 0 is the record a policy prefers within its profile."""
    cols: dict[str, ir.Value] = {}
    for c in picks:
        if c.policy == "collect" or c.order_key in cols:
            continue
        if c.policy == "importance":
            order = [members._priority]
        elif c.policy == "most_filled":
            order = [members._filled.desc(), members._priority]
        else:
            col = members[recency_column(c.by or "")]
            first = col.desc(nulls_first=False) if c.policy == "most_recent" else col.asc(nulls_first=False)
            order = [first, members._priority]
        cols[c.order_key] = ibis.row_number().over(group_by=members._cluster, order_by=order)
    return cols


def group_flags(members: ir.Table, unify: Unify, picks: list[Choice]) -> dict[str, ir.Value]:
    """Per group: true on the one record the group's fields are taken from (its best record with any of them)."""
    flags: dict[str, ir.Value] = {}
    for g in unify.merge.groups:
        key = next(c.order_key for c in picks if c.group == g.name)
        has_any = ibis.or_(*[members[f].notnull() for f in g.fields])
        rank = ibis.ifelse(has_any, members[key], ibis.null("int64"))
        flags[f"_grp__{g.name}"] = rank == rank.min().over(group_by=members._cluster)
    return flags


def merged_profiles(members: ir.Table, unify: Unify) -> tuple[ir.Table, list[Choice]]:
    """_cluster, each output field, its chosen record (__src__<field>) and SourceRecordCount."""
    picks = choices(unify)
    ranked = members.mutate(**order_columns(members, picks))
    ranked = ranked.mutate(**group_flags(ranked, unify, picks))
    aggs: dict[str, ir.Value] = {}
    for c in picks:
        v = ranked[c.source_field]
        if c.policy == "collect":
            aggs[c.output] = v.collect(where=v.notnull(), distinct=True).sort()
            continue
        where = v.notnull() if c.group is None else ranked[f"_grp__{c.group}"].fill_null(False)
        aggs[c.output] = v.argmin(ranked[c.order_key], where=where)
        aggs[f"__src__{c.output}"] = ranked._rid.argmin(ranked[c.order_key], where=where & v.notnull())
    merged = ranked.group_by("_cluster").agg(SourceRecordCount=ranked.count().cast("int32"), **aggs)
    # An empty collection is missing, as on every engine (DuckDB gives NULL, Spark an empty array).
    lists = [c.output for c in picks if c.policy == "collect"]
    merged = merged.mutate(
        **{name: ibis.ifelse(merged[name].length() > 0, merged[name], ibis.null(merged[name].type())) for name in lists}
    )
    return merged, picks


def previous_state(ctx: RunContext) -> tuple[ir.Table | None, ir.Table | None]:
    """AlternateKey and IdChangeLog of the last published export (None on a first run)."""
    found = published(ctx.lake, ctx.engine, ID_HISTORY_ENTITIES)
    return found.get(ALTERNATE_KEY), found.get(ID_CHANGE_LOG)


def build_match_pairs(pairs: ir.Table, records: ir.Table, owner: ir.Table) -> ir.Table:
    left = records.select(
        l_rid=records._rid, LeftSourceName=records._source, LeftTableName=records._table, LeftSourceKey=records._key
    )
    right = records.select(
        r_rid=records._rid, RightSourceName=records._source, RightTableName=records._table, RightSourceKey=records._key
    )
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
        BlockingKey=j.block,
        Stage=j.stage,
    )


def build_provenance(merged: ir.Table, ids: ir.Table, records: ir.Table, picks: list[Choice]) -> ir.Table:
    parts = []
    for c in picks:
        if c.policy == "collect":
            continue
        m = merged.select("_cluster", src=merged[f"__src__{c.output}"])
        m = m.filter(m.src.notnull()).join(ids, "_cluster").join(records, m.src == records._rid)
        parts.append(
            m.select(
                "CustomerId",
                Field=ibis.literal(c.output),
                SourceName=m._source,
                TableName=m._table,
                SourceKey=m._key,
                Policy=ibis.literal(c.policy if not c.by else f"{c.policy}({c.by})"),
            )
        )
    return ibis.union(*parts)


QUALITY_FIELDS = ("FirstName", "LastName", "Email", "BirthDate")
MANY_VALUES = 3


def many_values(engine: Engine, members: ir.Table, unify: Unify) -> dict[str, int]:
    """Profiles holding more than MANY_VALUES distinct values of a field that should have one: a smell of
    over-merging that needs no ground truth."""
    fields = [f for f in QUALITY_FIELDS if f in unify.fields()]
    if not fields:
        return {}
    per = members.group_by("_cluster").agg(**{f: members[f].cast("string").strip().lower().nunique() for f in fields})
    counts = engine.to_arrow(per.aggregate(**{f: (per[f] > MANY_VALUES).sum() for f in fields}))
    return {f: int(counts[f][0].as_py() or 0) for f in fields}


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake, unify = ctx.engine, ctx.lake, ctx.config.unify
    records = engine.read(lake.work_table(*RECORDS))
    clusters = engine.read(lake.work_table(*CLUSTERS))
    pairs = engine.read(lake.work_table(*PAIRS))
    # Materialized once: every output below reads it, and a fresh table keeps Ibis join chains apart.
    members_path = lake.work_table(*MEMBERS)
    engine.write(records.join(clusters, "_rid"), members_path)
    members = engine.read(members_path)
    previous, log = previous_state(ctx)
    prev = None
    if previous is not None:
        prev = previous.select(
            identity=record_identity(previous.SourceName, previous.TableName, previous.SourceKey),
            prev_id=previous.CustomerId,
        )
    namespace = f"custdim:{unify.id_namespace or ctx.config.name}:customer"
    keyed = members.select(
        "_cluster", "_priority", identity=record_identity(members._source, members._table, members._key)
    )
    ids_expr, events = assign_ids(namespace, keyed, prev, ctx.run_id)
    ids_path = lake.work_table(*IDS)
    engine.write(ids_expr, ids_path)
    ids = engine.read(ids_path)
    merged, picks = merged_profiles(members, unify)
    merged_path = lake.work_table(*MERGED)
    engine.write(merged, merged_path)
    merged = engine.read(merged_path)
    j = merged.join(ids, "_cluster")
    customer = j.select("CustomerId", *[c.output for c in picks], "PreviousCustomerId", "SourceRecordCount")
    alternate = members.join(ids, "_cluster").select(
        "CustomerId",
        SourceName=members._source,
        TableName=members._table,
        SourceKey=members._key,
        IsDedupeWinner=members._winner,
    )
    owner = members.join(ids, "_cluster").select(o_rid=members._rid, CustomerId=ids.CustomerId)
    change_log = events if log is None else ibis.union(log.select(*events.columns), events)
    outputs = {
        CUSTOMER: customer,
        ALTERNATE_KEY: alternate,
        MATCH_PAIRS: build_match_pairs(pairs, records, owner),
        CUSTOMER_PROVENANCE: build_provenance(merged, ids, records, picks),
        ID_CHANGE_LOG: change_log,
    }
    with ctx.steps("merge", len(outputs)) as advance:
        for name, expr in outputs.items():
            report.rows_out[name] = engine.write(expr, lake.entity(name))
            advance()
    report.rows_in["records"] = engine.row_count(lake.work_table(*RECORDS))
    report.details["profiles_with_many_values"] = many_values(engine, members, unify)
    log_now = engine.read(lake.entity(ID_CHANGE_LOG))
    log_now = log_now.filter(log_now.RunId == ctx.run_id)
    counts = engine.to_arrow(log_now.group_by("Event").agg(n=log_now.count()))
    report.details["id_events"] = {r["Event"]: r["n"] for r in counts.to_pylist()}
    report.details["first_run"] = previous is None


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.entity(n) for n in UNIFY_ENTITIES]


STAGE = StageSpec("merge", ("cluster",), run, outputs, "merge profiles and assign stable CustomerIds")
