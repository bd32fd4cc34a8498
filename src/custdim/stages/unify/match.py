"""Normalize + match across tables with Customer Insights semantics.

Tables are ranked by ``match.order``; a table matches only tables ranked above it; rules are tried in order and a
later rule only sees the records of that table that no earlier rule matched.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.unify.compare import candidate_pairs, compile_rule
from custdim.stages.unify.map import RECORDS
from custdim.stages.unify.normalize import normalize

NORMALIZED = ("unify", "normalized")
PAIRS = ("unify", "pairs")
PAIR_SCHEMA = pa.schema(
    [
        ("left_rid", pa.int64()),
        ("right_rid", pa.int64()),
        ("rule", pa.string()),
        ("rule_index", pa.int32()),
        ("score", pa.float64()),
        ("scores", pa.string()),
    ]
)


def build_normalized(ctx: RunContext, records: ir.Table) -> ir.Table:
    """_rid, _rank and one normalized column per distinct (field, normalizers) any rule compares."""
    columns: dict[str, ir.Value] = {}
    match = ctx.config.unify.match
    for rule in match.rules if match else []:
        for c in compile_rule(rule):
            columns.setdefault(c.column, normalize(records[c.condition.field], c.condition.normalize))
    return records.select("_rid", "_rank", **columns)


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake = ctx.engine, ctx.lake
    match = ctx.config.unify.match
    tables = [t.table for t in ctx.config.unify.ordered_tables()]
    pairs_path = lake.work_table(*PAIRS)
    if match is None or len(tables) < 2:
        engine.write(engine.from_arrow(PAIR_SCHEMA.empty_table()), pairs_path)
        report.rows_out["pairs"] = 0
        report.warn("no cross-table matching: every record becomes its own profile")
        return
    norm_path = lake.work_table(*NORMALIZED)
    engine.write(build_normalized(ctx, engine.read(lake.work_table(*RECORDS))), norm_path)
    norm = engine.read(norm_path)

    steps: list[str] = []
    rules_detail: dict[str, dict[str, int]] = {r.name: {"pairs": 0, "records": 0} for r in match.rules}
    table_detail: dict[str, int] = {}
    with ctx.steps("match", (len(tables) - 1) * len(match.rules)) as advance:
        for rank in range(1, len(tables)):
            matched_here: list[ir.Table] = []
            for index, rule in enumerate(match.rules):
                left = norm.filter(norm._rank == rank)
                if matched_here:
                    done = ibis.union(*matched_here).distinct() if len(matched_here) > 1 else matched_here[0]
                    left = left.anti_join(done, left._rid == done.left_rid)
                right = norm.filter(norm._rank < rank)
                step = lake.work_table("unify", "pair_steps", f"{rank:03d}_{index:03d}")
                n = engine.write(candidate_pairs(left, right, rule, index), step)
                steps.append(step)
                lefts = engine.read(step).select("left_rid").distinct()
                matched_here.append(lefts)
                records = engine.count(lefts)
                rules_detail[rule.name]["pairs"] += n
                rules_detail[rule.name]["records"] += records
                table_detail[f"{tables[rank]} -> {rule.name}"] = records
                advance()
    all_pairs = ibis.union(*[engine.read(s) for s in steps])
    report.rows_out["pairs"] = engine.write(all_pairs, pairs_path)
    lake.remove(lake.work_table("unify", "pair_steps"))
    report.details["rules"] = rules_detail
    report.details["matched_records_by_table_and_rule"] = table_detail


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.work_table(*PAIRS)]


STAGE = StageSpec("match", ("map",), run, outputs, "normalize and match records across tables")
