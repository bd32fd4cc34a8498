"""Normalize, deduplicate within tables and match across tables, with Customer Insights semantics.

- Dedupe: every rule of a table's dedupe section runs on every row of that table.
- Match: tables are ranked by ``match.order``; a table matches only tables ranked above it; rules are tried in
  order and a later rule only sees the records of that table that no earlier rule matched. A rule naming
  ``tables: [a, b]`` only runs for that pair.
- always_match pairs are added as the strongest links; never_match pairs are enforced by the cluster stage.
"""

from __future__ import annotations

import csv
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.config.unify import Rule
from custdim.engines.base import Engine
from custdim.errors import ConfigError, StageError
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.unify.conditions import normalized_table
from custdim.stages.unify.map import RECORDS
from custdim.stages.unify.model import load as load_model
from custdim.stages.unify.model import model_columns
from custdim.stages.unify.pairs import ALWAYS_STRENGTH, PAIR_SCHEMA, RuleRunner, RuleStats, Side

PAIRS = ("unify", "pairs")
NEAR_MISSES = ("unify", "near_misses")
LIST_COLUMNS = ("Table1", "Table1Key", "Table2", "Table2Key")


def read_pair_list(ctx: RunContext, key: str, spec: str | None) -> list[tuple[str, str, str, str]]:
    """always_match / never_match CSV: Table1,Table1Key,Table2,Table2Key (tables as '<source>.<table>')."""
    if spec is None:
        return []
    path = Path(ctx.config.resolve(spec))
    if not path.exists():
        raise ConfigError(ctx.config.file, f"unify.match.{key}", f"file not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or [c.strip() for c in reader.fieldnames][:4] != list(LIST_COLUMNS):
            raise ConfigError(
                ctx.config.file, f"unify.match.{key}", f"{path} must start with the header {','.join(LIST_COLUMNS)}"
            )
        rows = [tuple((r.get(c) or "").strip() for c in LIST_COLUMNS) for r in reader]
    tables = [t.table for t in ctx.config.unify.tables]
    for i, row in enumerate(rows, start=2):
        for t in (row[0], row[2]):
            if t not in tables:
                raise ConfigError(
                    ctx.config.file,
                    f"unify.match.{key}",
                    f"{path} line {i}: unknown table {t!r}; valid values: {', '.join(tables)}",
                )
    return rows  # type: ignore[return-value]


def pair_list_rids(ctx: RunContext, rows: list[tuple[str, str, str, str]], records: ir.Table) -> ir.Table:
    """(a, b) record ids of listed pairs that exist; unknown keys are dropped by the join (and counted)."""
    listed = ctx.engine.from_arrow(
        pa.table(
            {
                "t1": [r[0] for r in rows],
                "k1": [r[1] for r in rows],
                "t2": [r[2] for r in rows],
                "k2": [r[3] for r in rows],
            },
            schema=pa.schema([(c, pa.string()) for c in ("t1", "k1", "t2", "k2")]),
        )
    )
    ids = records.select(t=records._source + "." + records._table, k=records._key, rid=records._rid)
    a = ids.rename(t1="t", k1="k", a="rid")
    b = ids.rename(t2="t", k2="k", b="rid")
    j = listed.join(a, ["t1", "k1"]).join(b, ["t2", "k2"])
    return j.select("a", "b")


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake, unify = ctx.engine, ctx.lake, ctx.config.unify
    tables = [t.table for t in unify.ordered_tables()]
    rank_of = {t: i for i, t in enumerate(tables)}
    records = engine.read(lake.work_table(*RECORDS))
    base = str(ctx.config.root)
    norm_expr = normalized_table(unify.all_rules(), records, base, unify.default_country)
    model = None
    if any(r.min_match_weight is not None for r in unify.all_rules()):
        model = load_model(lake)
        if model is None:
            raise StageError("a rule sets min_match_weight but no model is trained: run `custdim unify train`")
        norm_expr = norm_expr.join(model_columns(records, list(model.fields)), "_rid")
    norm = engine.materialize("match/normalized", norm_expr)
    steps: list[tuple[ir.Table, ir.Table]] = []
    details: dict[str, dict[str, object]] = {}
    matched_by_table: dict[str, int] = {}
    match = unify.match
    n_steps = sum(len(d.rules) for d in unify.dedupe) + (len(tables) - 1) * len(match.rules if match else [])
    country, max_block = unify.default_country, unify.max_block_size

    def record(kind: str, name: str, stats: RuleStats, records_matched: int) -> None:
        d = details.setdefault(
            f"{kind}:{name}",
            {
                "stage": kind,
                "rule": name,
                "candidates": 0,
                "pairs": 0,
                "records": 0,
                "near_misses": 0,
                "skipped_blocks": [],
            },
        )
        for k in ("candidates", "pairs", "near_misses"):
            d[k] = int(d[k]) + getattr(stats, k)  # type: ignore[call-overload]
        d["records"] = int(d["records"]) + records_matched  # type: ignore[call-overload]
        d["skipped_blocks"] = [*d["skipped_blocks"], *stats.skipped_blocks][:10]  # type: ignore[misc]

    def run_rule(
        rule: Rule, index: int, stage: str, left: ir.Table, right: ir.Table, tag: str
    ) -> tuple[RuleStats, ir.Table]:
        runner = RuleRunner(
            engine,
            lake,
            rule,
            index,
            stage,
            same_side=stage == "dedupe",
            country=country,
            max_block_size=max_block,
            model=model,
        )
        stats, pairs, near = runner.run(Side(left, True), Side(right, False), norm, f"match/{tag}")
        steps.append((pairs, near))
        return stats, pairs

    with ctx.steps("match", max(n_steps, 1)) as advance:
        for d_index, dedupe in enumerate(unify.dedupe):
            side = norm.filter(norm._rank == rank_of[dedupe.table])
            for i, rule in enumerate(dedupe.rules):
                stats, found = run_rule(rule, i, "dedupe", side, side, f"d{d_index:03d}_{i:03d}")
                record("dedupe", f"{dedupe.table}/{rule.name}", stats, _distinct_records(engine, found))
                advance()
        for rank in range(1, len(tables)) if match else []:
            assert match is not None
            done: list[ir.Table] = []
            for i, rule in enumerate(match.rules):
                if rule.tables and tables[rank] not in rule.tables:
                    advance()
                    continue
                left = norm.filter(norm._rank == rank)
                if done:
                    seen = ibis.union(*done, distinct=True) if len(done) > 1 else done[0]
                    left = left.anti_join(seen, left._rid == seen.left_rid)
                right = norm.filter(norm._rank < rank)
                if rule.tables:
                    other = next(t for t in rule.tables if t != tables[rank])
                    right = norm.filter(norm._rank == rank_of[other]) if rank_of[other] < rank else right.limit(0)
                stats, found = run_rule(rule, i, "match", left, right, f"m{rank:03d}_{i:03d}")
                done.append(found.select("left_rid").distinct())
                n = engine.count(done[-1])
                matched_by_table[f"{tables[rank]} <- {rule.name}"] = n
                record("match", rule.name, stats, n)
                advance()
    parts = [p for p, _ in steps]
    always = read_pair_list(ctx, "always_match", match.always_match if match else None)
    if always:
        found = pair_list_rids(ctx, always, records)
        parts.append(
            found.select(
                left_rid=ibis.greatest(found.a, found.b),
                right_rid=ibis.least(found.a, found.b),
                rule=ibis.literal("always_match"),
                rule_index=ibis.literal(-1, "int32"),
                stage=ibis.literal("always"),
                score=ibis.literal(100.0),
                scores=ibis.literal("{}"),
                block=ibis.literal("always_match"),
                strength=ibis.literal(ALWAYS_STRENGTH),
            )
        )
    pairs_path = lake.work_table(*PAIRS)
    if parts:
        report.rows_out["pairs"] = engine.write(ibis.union(*parts) if len(parts) > 1 else parts[0], pairs_path)
        nears = [n for _, n in steps]
        report.details["near_misses"] = engine.write(
            ibis.union(*nears) if len(nears) > 1 else nears[0], lake.work_table(*NEAR_MISSES)
        )
    else:
        report.rows_out["pairs"] = engine.write(engine.from_arrow(PAIR_SCHEMA.empty_table()), pairs_path)
        report.warn("no dedupe or match rules: every record becomes its own profile")
    if always:
        n_always = engine.count(engine.read(pairs_path).filter(lambda t: t.stage == "always"))
        report.details["always_match"] = {"listed": len(always), "applied": n_always}
        if n_always < len(always):
            report.warn(f"always_match: {len(always) - n_always} listed pairs name records that do not exist")
    report.details["rules"] = details
    report.details["matched_records_by_table_and_rule"] = matched_by_table
    for d in details.values():
        for skipped in d["skipped_blocks"]:  # type: ignore[attr-defined]
            report.warn(
                f"rule {d['rule']}: skipped block {skipped['key']} of {skipped['records']} records "
                f"({skipped['pass']}; raise unify.max_block_size to compare it)"
            )


def _distinct_records(engine: Engine, t: ir.Table) -> int:
    return engine.count(ibis.union(t.select(r=t.left_rid), t.select(r=t.right_rid), distinct=True))


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.work_table(*PAIRS)]


STAGE = StageSpec("match", ("map",), run, outputs, "normalize, deduplicate and match records")
