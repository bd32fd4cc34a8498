"""The pairs of one step (all dedupe rules, or all match rules): blocking, scoring and rule order, fused.

A step runs a constant number of queries whatever its number of rules: block sizes, refined block sizes, the
candidate join, the scored verdicts and the pair rows (see :mod:`candidates` and :mod:`scoring`).

Output columns (the ``pairs`` contract): left_rid, right_rid, rule, rule_index, stage ('dedupe' | 'match' |
'always'), score (the lowest condition score), scores (JSON of per-condition scores), block (the blocking pass
that found the pair) and strength (used to split clusters at their weakest links: earlier rules are stronger,
then higher scores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.engines.base import Engine
from custdim.stages.unify import candidates as cand
from custdim.stages.unify.candidates import Pass, RuleUse, StepKind
from custdim.stages.unify.conditions import CompiledCondition, compile_all
from custdim.stages.unify.model import MatchModel
from custdim.stages.unify.scoring import SCORED_COLUMNS, StepScorer

PAIR_SCHEMA = pa.schema(
    [
        ("left_rid", pa.int64()),
        ("right_rid", pa.int64()),
        ("rule", pa.string()),
        ("rule_index", pa.int32()),
        ("stage", pa.string()),
        ("score", pa.float64()),
        ("scores", pa.string()),
        ("block", pa.string()),
        ("strength", pa.float64()),
    ]
)
ALWAYS_STRENGTH = 1e9


@dataclass
class RuleStats:
    """What one rule use did in a step, for the run report."""

    candidates: int = 0
    pairs: int = 0
    near_misses: int = 0
    records: int = 0
    skipped_blocks: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class Counted:
    """What a step counted over all records before forming any pair, for an incremental run to compare with the
    last run's counts: the block sizes (level 0 base / 1 refined, pass_, key, n), the rows (rid, pass_, key) of the
    base passes and of the refine passes inside oversize blocks, each pass's size limit, and per record and capped
    column whether its value is too common (rid, column, rank, value, common)."""

    sizes: ir.Table
    rows: ir.Table
    refine_rows: ir.Table | None
    limit: Callable[[ir.IntegerValue], ir.IntegerValue]
    flags: ir.Table | None


@dataclass(frozen=True)
class Focus:
    """An incremental step: compare only the ``changed`` records (a ``rid`` table: new or changed since the last
    run, or unchanged but in a block or holding a value that crossed its limit) with all records. ``stale_lefts``:
    records (match step) whose earlier pairs or near misses lost a partner that was deleted or changed; in ordered
    mode their pairs are all recomputed, as are those of every record a changed record is a candidate for, since a
    new or lost pair of an earlier rule changes what later rules see."""

    changed: ir.Table
    stale_lefts: ir.Table | None = None
    details: dict[str, int] = field(default_factory=dict)


@dataclass
class StepResult:
    """A step's accepted pairs and near misses (pairs contract) and per-use statistics.

    ``sizes``: the block sizes, (level 0 base / 1 refined, pass_, key, n) and ``frequent``: the values too common
    to be evidence, (column, rank, value) — what an incremental run compares with the last run's. ``recomputed``:
    under a focus, the records whose pairs this step computed afresh (a ``rid`` table), for a focused match step
    in ordered mode the changed records and every left record a change may reach; else the changed records."""

    pairs: ir.Table
    near_misses: ir.Table
    stats: dict[int, RuleStats]
    frequent_values: list[dict[str, object]] = field(default_factory=list)
    sizes: ir.Table | None = None
    frequent: ir.Table | None = None
    recomputed: ir.Table | None = None
    focus: Focus | None = None


def first_rule_only(scored: ir.Table) -> ir.Table:
    """Ordered rules: a record matched by a rule is not offered to later rules.

    Keeps, for each left record, the accepted pairs of the first rule that accepted any, and the near misses of
    the rules up to that one — exactly what running the rules one after another on the still-unmatched records
    returns.
    """
    accepted = scored.filter(scored._accept)
    first = accepted.group_by(_lrid=accepted.left_rid).agg(_first=accepted.rule_index.min())
    j = scored.left_join(first, scored.left_rid == first._lrid)
    keep = ibis.ifelse(j._accept, j.rule_index == j._first, j._first.isnull() | (j.rule_index <= j._first)).fill_null(
        False
    )
    return j.filter(keep).drop("_lrid", "_first")


def run_step(
    engine: Engine,
    norm: ir.Table,
    uses: list[RuleUse],
    kind: StepKind,
    *,
    name: str,
    country: str,
    max_block_size: int,
    model: MatchModel | None,
    ordered: bool,
    focus_of: Callable[[Counted], Focus] | None = None,
) -> StepResult:
    """Pairs of every rule use of one step, in a constant number of engine steps named ``name/...``.

    Block sizes and value frequencies are always counted over all records; ``focus_of`` (an incremental run) turns
    those counts into the focus: only the pairs of the focused records are then formed and scored."""
    stats = {u.id: RuleStats() for u in uses}
    capped = _capped_conditions(uses, country)
    frequent: list[dict[str, object]] = []
    flags = too_common = None
    if capped:
        norm = engine.materialize(f"{name}/frequencies", with_frequencies(norm, capped, kind))
        frequent = _report_frequent(engine, norm, capped)
        flags = _flags(norm, capped, kind)
        too_common = flags.filter(flags.common).select("column", "rank", "value").distinct()
    passes = cand.plan_passes(uses, country, max_block_size)
    by_id = {p.id: p for p in passes}
    rows = cand.keyed_rows(norm, passes, refine=False)
    assert rows is not None  # every rule has at least one condition, so at least one pass
    sizes = engine.materialize(f"{name}/block_sizes", cand.block_sizes(rows))
    limit = cand.limit_of(passes, sizes.pass_)
    _report_oversize(engine, sizes, passes, by_id, stats, refinable=cand.refinable(passes))
    blocked = rows.semi_join(sizes.filter(sizes.n <= limit), ["pass_", "key"])
    all_sizes = sizes.select(level=ibis.literal(0, "int8"), pass_=sizes.pass_, key=sizes.key, n=sizes.n)
    refine_rows = cand.keyed_rows(norm, passes, refine=True)
    inside = None
    if refine_rows is not None:
        big = sizes.filter((sizes.n > limit) & sizes.pass_.isin(cand.refinable(passes)))
        inside = refine_rows.semi_join(big, [refine_rows.parent_pass == big.pass_, refine_rows.parent == big.key]).drop(
            "parent_pass", "parent"
        )
        sizes2 = engine.materialize(f"{name}/refined_block_sizes", cand.block_sizes(inside))
        _report_oversize(engine, sizes2, passes, by_id, stats, refinable=[])
        ok2 = sizes2.filter(sizes2.n <= cand.limit_of(passes, sizes2.pass_))
        blocked = ibis.union(blocked, inside.semi_join(ok2, ["pass_", "key"]))
        refined = sizes2.select(level=ibis.literal(1, "int8"), pass_=sizes2.pass_, key=sizes2.key, n=sizes2.n)
        all_sizes = ibis.union(all_sizes, refined)
    labels = engine.from_arrow(cand.pass_labels(passes))
    recomputed = focus = None
    if focus_of is not None:
        counted_rows = rows.select("rid", "pass_", "key")
        counted_inside = inside.select("rid", "pass_", "key") if inside is not None else None
        focus = focus_of(Counted(all_sizes, counted_rows, counted_inside, lambda p: cand.limit_of(passes, p), flags))
    if focus is None:
        found = cand.candidate_pairs(blocked, kind)
    elif kind == "match" and ordered:
        blocked = engine.materialize(f"{name}/blocked", blocked)
        reached = cand.candidate_pairs(blocked, kind, ends=focus.changed).select(rid="l_rid")
        lefts = [focus.changed.select("rid"), reached]
        if focus.stale_lefts is not None:
            lefts.append(focus.stale_lefts.select("rid"))
        recomputed = engine.materialize(f"{name}/recomputed", ibis.union(*lefts, distinct=True))
        found = cand.candidate_pairs(blocked, kind, lefts=recomputed)
    else:
        recomputed = focus.changed.select("rid")
        found = cand.candidate_pairs(blocked, kind, ends=recomputed)
    candidates = engine.materialize(f"{name}/candidates", cand.by_use(found, labels))
    for r in engine.to_arrow(candidates.group_by("use").agg(n=candidates.count())).to_pylist():
        stats[r["use"]].candidates = r["n"]
    scorer = StepScorer(uses, country, model)
    scores = engine.materialize(f"{name}/scores", scorer.scores(candidates, norm))
    wide = engine.materialize(f"{name}/verdicts", scorer.verdicts(scores))
    scored = scorer.long(wide)
    if ordered and kind == "match":
        scored = first_rule_only(scored)
    scored = engine.materialize(f"{name}/scored", scored)
    _count(engine, scored, stats, kind)
    pairs = scored.filter(scored._accept).select(*SCORED_COLUMNS)
    near = scored.filter(scored._near).select(*SCORED_COLUMNS)
    return StepResult(pairs, near, stats, frequent, all_sizes, too_common, recomputed, focus)


def recount(
    engine: Engine, uses: list[RuleUse], kind: StepKind, pairs: ir.Table, near: ir.Table, ranks: ir.Table
) -> dict[int, tuple[int, int, int]]:
    """Per rule use: (pairs, near misses, records matched) of a step's final rows, e.g. after an incremental run
    joined kept rows to the new ones. ``ranks``: (_rid, _rank) of every record, to tell a dedupe's tables apart."""
    use_of = {(u.index, u.ranks[0] if kind == "dedupe" and u.ranks else -1): u.id for u in uses}
    r = ranks.rename(left_rid="_rid")
    out: dict[int, tuple[int, int, int]] = {u.id: (0, 0, 0) for u in uses}

    def keyed(t: ir.Table) -> ir.Table:
        j = t.join(r, "left_rid")
        return j.mutate(_r=j._rank if kind == "dedupe" else ibis.literal(-1, j._rank.type()))

    p, n = keyed(pairs), keyed(near)
    ends = p.select("rule_index", "_r", e=p.left_rid)
    if kind == "dedupe":
        ends = ibis.union(ends, p.select("rule_index", "_r", e=p.right_rid))
    counts: dict[tuple[int, int], list[int]] = {}
    for i, (t, agg) in enumerate(((p, {"n": p.count()}), (n, {"n": n.count()}), (ends, {"n": ends.e.nunique()}))):
        for row in engine.to_arrow(t.group_by(["rule_index", "_r"]).agg(**agg)).to_pylist():
            counts.setdefault((row["rule_index"], row["_r"]), [0, 0, 0])[i] = int(row["n"])
    for key, (a, b, c) in counts.items():
        if key in use_of:
            out[use_of[key]] = (a, b, c)
    return out


def _capped_conditions(uses: list[RuleUse], country: str) -> list[CompiledCondition]:
    """The distinct (column, cap) conditions with a ``max_frequency``, one per pair."""
    out: dict[tuple[str, int], CompiledCondition] = {}
    for u in uses:
        for c in compile_all(u.rule, country):
            if c.condition.max_frequency is not None:
                out.setdefault((c.column, c.condition.max_frequency), c)
    return list(out.values())


def with_frequencies(norm: ir.Table, capped: list[CompiledCondition], kind: StepKind) -> ir.Table:
    """``norm`` plus, per capped column, how many records of the step share each value (one window each).

    A dedupe counts within each table (its records only ever pair with their own table); the match across all.
    """
    out: dict[str, ir.Value] = {}
    for c in capped:
        if c.frequency in out:
            continue
        by = [norm._rank, norm[c.column]] if kind == "dedupe" else [norm[c.column]]
        n = norm._rid.count().over(ibis.window(group_by=by))
        out[c.frequency] = ibis.ifelse(norm[c.column].isnull(), ibis.null("int64"), n)
    return norm.mutate(**out)


def _flags(norm: ir.Table, capped: list[CompiledCondition], kind: StepKind) -> ir.Table:
    """(rid, column, rank, value, common) per record and capped column with a value: ``common`` when the value is
    set aside as too common (rank -1 in a match, where values are counted across tables)."""
    parts = []
    for c in capped:
        t = norm.filter(norm[c.column].notnull())
        parts.append(
            t.select(
                rid=t._rid,
                column=ibis.literal(f"{c.frequency}>{c.condition.max_frequency}"),
                rank=t._rank.cast("int32") if kind == "dedupe" else ibis.literal(-1, "int32"),
                value=t[c.column].cast("string"),
                common=c.too_common(t[c.frequency]),
            )
        )
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _report_frequent(engine: Engine, norm: ir.Table, capped: list[CompiledCondition]) -> list[dict[str, object]]:
    """Per capped field: how many values and records the frequency guard set aside, and the most common values."""
    out: list[dict[str, object]] = []
    for c in capped:
        over = norm.filter(c.too_common(norm[c.frequency]))
        top = over.group_by(value=over[c.column]).agg(n=over.count()).order_by([ibis.desc("n"), "value"]).limit(3)
        totals = engine.to_arrow(over.agg(values=over[c.column].nunique(), records=over.count())).to_pylist()[0]
        out.append(
            {
                "field": c.label,
                "max_frequency": c.condition.max_frequency,
                "values": int(totals["values"] or 0),
                "records": int(totals["records"] or 0),
                "most_common": [[r["value"], int(r["n"])] for r in engine.to_arrow(top).to_pylist()],
            }
        )
    return out


def _report_oversize(
    engine: Engine,
    sizes: ir.Table,
    passes: list[Pass],
    by_id: dict[int, Pass],
    stats: dict[int, RuleStats],
    refinable: list[int],
) -> None:
    """Oversize blocks that no refine pass splits are skipped: the five largest of each pass go in the report."""
    big = cand.oversize(sizes, passes)
    if refinable:
        big = big.filter(~big.pass_.isin(refinable))
    for r in engine.to_arrow(big.order_by([big.pass_, ibis.desc(big.n), big.key])).to_pylist():
        p = by_id[r["pass_"]]
        stats[p.use.id].skipped_blocks.append({"pass": p.label, "key": cand.split_key(r["key"]), "records": r["n"]})


def _count(engine: Engine, scored: ir.Table, stats: dict[int, RuleStats], kind: StepKind) -> None:
    totals = scored.group_by("_use").agg(
        pairs=scored._accept.cast("int64").sum(), near=scored._near.cast("int64").sum()
    )
    for r in engine.to_arrow(totals).to_pylist():
        stats[r["_use"]].pairs, stats[r["_use"]].near_misses = int(r["pairs"] or 0), int(r["near"] or 0)
    accepted = scored.filter(scored._accept)
    # A dedupe rule matched both records of a pair; a match rule matched its left record (to earlier tables).
    ends = accepted.select("_use", r=accepted.left_rid)
    if kind == "dedupe":
        ends = ibis.union(ends, accepted.select("_use", r=accepted.right_rid))
    records = ends.group_by("_use").agg(n=ends.r.nunique())
    for r in engine.to_arrow(records).to_pylist():
        stats[r["_use"]].records = int(r["n"])
