"""Normalize, deduplicate within tables and match across tables, with Customer Insights semantics.

- Dedupe: every rule of a table's dedupe section runs on every row of that table.
- Match: tables are ranked by ``match.order``; a table matches only tables ranked above it; rules are tried in
  order and a later rule only sees the records of that table that no earlier rule matched (``mode: ordered``,
  the default; ``mode: all_rules`` keeps every rule's pairs). A rule naming ``tables: [a, b]`` only runs for that
  pair.
- Each of the two steps (all dedupe rules of all tables, all match rules) runs as one fused step: a constant
  number of queries whatever the number of rules (:mod:`custdim.stages.unify.pairs`).
- always_match pairs are added as the strongest links; never_match pairs are enforced by the cluster stage.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.contracts import NEAR_MISSES, NORMALIZED, PAIRS, RECORDS
from custdim.engines.base import Engine
from custdim.errors import ConfigError, StageError
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.unify import incremental
from custdim.stages.unify.candidates import RuleUse
from custdim.stages.unify.conditions import normalized_table
from custdim.stages.unify.model import load as load_model
from custdim.stages.unify.model import model_columns
from custdim.stages.unify.pairs import ALWAYS_STRENGTH, PAIR_SCHEMA, StepResult, recount, run_step

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


def rule_uses(ctx: RunContext) -> tuple[list[RuleUse], list[RuleUse]]:
    """The dedupe rule uses (every table's rules on that table) and the match rule uses (over ranked tables)."""
    unify = ctx.config.unify
    tables = [t.table for t in unify.ordered_tables()]
    rank_of = {t: i for i, t in enumerate(tables)}
    dedupe = [
        RuleUse(0, unify.with_frequency_caps(rule), i, "dedupe", (rank_of[d.table],), f"dedupe:{d.table}/{rule.name}")
        for d in unify.dedupe
        for i, rule in enumerate(d.rules)
    ]
    match: list[RuleUse] = []
    for i, rule in enumerate(unify.match.rules if unify.match and len(tables) > 1 else []):
        ranks = tuple(sorted(rank_of[t] for t in rule.tables)) if rule.tables else None
        match.append(RuleUse(0, unify.with_frequency_caps(rule), i, "match", ranks, f"match:{rule.name}"))
    number = lambda uses: [replace(u, id=k) for k, u in enumerate(uses)]  # noqa: E731
    return number(dedupe), number(match)


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake, unify = ctx.engine, ctx.lake, ctx.config.unify
    tables = [t.table for t in unify.ordered_tables()]
    records = engine.read(lake.work_table(*RECORDS))
    norm_expr = normalized_table(unify.all_rules(), records, str(ctx.config.root), unify.default_country)
    stored_path = lake.work_table(*NORMALIZED)
    # Bypass and alias files may have been edited since the map stage wrote the columns (their names only say which
    # file): rules that read such files always normalize afresh.
    files = any(c.aliases or isinstance(c.bypass, str) for r in unify.all_rules() for c in r.all_conditions())
    if lake.has_table(stored_path) and not files:
        stored = engine.read(stored_path)
        if set(norm_expr.columns) <= set(stored.columns):
            norm_expr = stored.select(*norm_expr.columns)
    model = None
    if any(r.min_match_weight is not None for r in unify.all_rules()):
        model = load_model(lake)
        if model is None:
            raise StageError("a rule sets min_match_weight but no model is trained: run `custdim unify train`")
        norm_expr = norm_expr.join(model_columns(records, list(model.fields)), "_rid")
    dedupe_uses, match_uses = rule_uses(ctx)
    match = unify.match
    ordered = match is None or match.mode == "ordered"
    steps = [(k, u) for k, u in (("dedupe", dedupe_uses), ("match", match_uses)) if u]
    results: list[tuple[list[RuleUse], StepResult]] = []
    with ctx.steps("match", len(steps) + 2) as advance:
        norm = engine.materialize("match/normalized", norm_expr)
        advance()
        delta, why = incremental.load(ctx, norm, records)
        advance()
        inc: dict[str, object] = {"mode": "incremental" if delta else "full", "why": why}
        if delta is not None:
            inc["records"] = delta.counts
        for kind, uses in steps:
            focus_of = delta.focus_of(engine, kind, ordered) if delta is not None else None
            result = run_step(
                engine,
                norm,
                uses,
                kind,  # type: ignore[arg-type]
                name=f"match/{kind}",
                country=unify.default_country,
                max_block_size=unify.max_block_size,
                model=model,
                ordered=ordered,
                focus_of=focus_of,
            )
            if delta is not None:
                result = _with_kept(engine, kind, uses, result, delta, records, inc)
            results.append((uses, result))
            advance()
    report.details["incremental"] = inc
    parts = [r.pairs for _, r in results]
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
    else:
        report.rows_out["pairs"] = engine.write(engine.from_arrow(PAIR_SCHEMA.empty_table()), pairs_path)
        report.warn("no dedupe or match rules: every record becomes its own profile")
    nears = [r.near_misses for _, r in results] or [engine.from_arrow(PAIR_SCHEMA.empty_table())]
    report.details["near_misses"] = engine.write(
        ibis.union(*nears) if len(nears) > 1 else nears[0], lake.work_table(*NEAR_MISSES)
    )
    written = engine.read(pairs_path)
    found = written.filter(written.stage != "always").mutate(_kind=ibis.literal("pair"))
    near_written = engine.read(lake.work_table(*NEAR_MISSES))
    rows = ibis.union(found, near_written.mutate(_kind=ibis.literal("near")))
    incremental.save(ctx, norm, records, rows, {uses[0].stage: r for uses, r in results})
    if always:
        n_always = engine.count(engine.read(pairs_path).filter(lambda t: t.stage == "always"))
        report.details["always_match"] = {"listed": len(always), "applied": n_always}
        if n_always < len(always):
            report.warn(f"always_match: {len(always) - n_always} listed pairs name records that do not exist")
    details: dict[str, dict[str, object]] = {}
    for uses, result in results:
        for u in uses:
            s = result.stats[u.id]
            details[u.key] = {
                "stage": u.stage,
                "rule": u.key.split(":", 1)[1],
                "candidates": s.candidates,
                "pairs": s.pairs,
                "records": s.records,
                "near_misses": s.near_misses,
                "skipped_blocks": s.skipped_blocks[:10],
            }
    report.details["rules"] = details
    report.details["frequent_values"] = {uses[0].stage: r.frequent_values for uses, r in results if r.frequent_values}
    for uses, r in results:
        for f in r.frequent_values:
            if f["records"]:
                report.warn(
                    f"{uses[0].stage}: {f['values']} {f['field']} values shared by more than {f['max_frequency']} "
                    f"records ({f['records']} records) are no evidence and no blocking key (unify.max_frequency)"
                )
    report.details["step_seconds"] = dict(engine.step_seconds)
    report.details["match_mode"] = match.mode if match else "ordered"
    match_result = next((r for uses, r in results if uses[0].stage == "match"), None)
    report.details["matched_records_by_table_and_rule"] = _matched_by_table(
        ctx, tables, match_uses, match_result, records
    )
    for d in details.values():
        for skipped in d["skipped_blocks"]:  # type: ignore[attr-defined]
            report.warn(
                f"rule {d['rule']}: skipped block {skipped['key']} of {skipped['records']} records "
                f"({skipped['pass']}; raise unify.max_block_size to compare it)"
            )


def _with_kept(
    engine: Engine,
    kind: str,
    uses: list[RuleUse],
    result: StepResult,
    delta: incremental.Delta,
    records: ir.Table,
    inc: dict[str, object],
) -> StepResult:
    """A focused step's new rows plus the last run's rows it did not recompute; its counts are the whole step's."""
    assert result.recomputed is not None and result.focus is not None
    kept = engine.materialize(f"match/{kind}/kept", delta.kept(kind, result))
    kept_pairs = kept.filter(kept._kind == "pair").drop("_kind")
    kept_near = kept.filter(kept._kind == "near").drop("_kind")
    inc[kind] = {
        **result.focus.details,
        "recomputed_records": engine.count(result.recomputed),
        "new_pairs": engine.count(result.pairs),
        "kept_pairs": engine.count(kept_pairs),
    }
    pairs = engine.materialize(f"match/{kind}/pairs", ibis.union(result.pairs, kept_pairs))
    near = engine.materialize(f"match/{kind}/near", ibis.union(result.near_misses, kept_near))
    for use_id, (n_pairs, n_near, n_records) in recount(
        engine,
        uses,
        kind,  # type: ignore[arg-type]
        pairs,
        near,
        records.select("_rid", "_rank"),
    ).items():
        stats = result.stats[use_id]
        stats.pairs, stats.near_misses, stats.records = n_pairs, n_near, n_records
    return replace(result, pairs=pairs, near_misses=near)


def _matched_by_table(
    ctx: RunContext, tables: list[str], uses: list[RuleUse], result: StepResult | None, records: ir.Table
) -> dict[str, int]:
    """Records of each table (after the first) matched to earlier tables, per match rule."""
    out: dict[str, int] = {}
    for rank in range(1, len(tables)):
        for u in uses:
            if u.ranks is None or (rank in u.ranks and min(u.ranks) < rank):
                out[f"{tables[rank]} <- {u.name}"] = 0
    if result is None:
        return out
    pairs = result.pairs
    ranks = records.select(_lrid=records._rid, _lrank=records._rank)
    j = pairs.join(ranks, pairs.left_rid == ranks._lrid)
    counts = j.group_by(["_lrank", "rule"]).agg(n=j.left_rid.nunique())
    for r in ctx.engine.to_arrow(counts).to_pylist():
        out[f"{tables[r['_lrank']]} <- {r['rule']}"] = int(r["n"])
    return out


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.work_table(*PAIRS)]


STAGE = StageSpec("match", ("map",), run, outputs, "normalize, deduplicate and match records")
