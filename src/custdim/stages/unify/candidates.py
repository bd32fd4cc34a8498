"""Candidate pairs of every rule of a step, found in one pass over the blocking keys.

Each rule's blocking plan (:mod:`custdim.stages.unify.blocking`) becomes a list of numbered passes. Every record
contributes one row per pass it has a complete key for — ``(rid, rank, pass, key, side)`` — so that the block sizes
of all rules are one aggregate, and the pairs of all rules one self-join on ``(pass, key)``, whatever the number of
rules. A block is sized over all records of the step (the table for a dedupe, every table for the match): a value
shared by thousands of records is junk whichever of them are still unmatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.config.unify import Rule
from custdim.stages.unify.blocking import REFINE_ABOVE, BlockKey, plan_rule

# Joins the parts of a composite key; a control character no normalized value holds.
SEP = "\x1f"
# A row's side: keys that differ by side (a day/month-swapped date meets the date as written) give two rows.
BOTH, LEFT, RIGHT = 0, 1, 2
StepKind = Literal["dedupe", "match"]


@dataclass(frozen=True)
class RuleUse:
    """One rule applied in one step: a dedupe rule on one table, or a match rule over the ranked tables."""

    id: int  # unique within the step
    rule: Rule
    index: int  # position in its rule list: earlier rules are stronger (and win in ordered match mode)
    stage: StepKind
    ranks: tuple[int, ...] | None  # only records of these table ranks take part (None: all)
    key: str  # the rule's entry in the run report

    @property
    def name(self) -> str:
        return self.rule.name


@dataclass(frozen=True)
class Pass:
    """One blocking pass of one rule use; refine passes split the oversize blocks of their parent pass."""

    id: int
    use: RuleUse
    keys: tuple[BlockKey, ...]
    label: str
    limit: int  # blocks of more records are not joined whole (refined when the rule can, else skipped)
    parent: Pass | None = None

    @property
    def base_keys(self) -> tuple[BlockKey, ...]:
        return self.parent.keys if self.parent is not None else self.keys

    @property
    def one_sided(self) -> bool:
        return any(k.kind == "swapped" for k in self.keys)


def plan_passes(uses: list[RuleUse], country: str, max_block_size: int) -> list[Pass]:
    """Every base and refine pass of every rule use, numbered."""
    out: list[Pass] = []
    for use in uses:
        plan = plan_rule(use.rule, country)
        # A rule with fuzzy conditions refines every block above REFINE_ABOVE records (each costs up to n²/2
        # comparisons); an exact-only rule joins blocks up to max_block_size and skips the rest.
        limit = min(REFINE_ABOVE, max_block_size) if plan.refine else max_block_size
        for bp in plan.base:
            base = Pass(len(out), use, bp.keys, bp.label, limit)
            out.append(base)
            for suffix in plan.refine:
                label = bp.label + " + " + " + ".join(k.label for k in suffix)
                out.append(Pass(len(out), use, bp.keys + suffix, label, max_block_size, base))
    return out


def _key(t: ir.Table, keys: tuple[BlockKey, ...], left: bool) -> tuple[ir.StringValue, ir.BooleanValue]:
    parts = [k.expr(t, left) for k in keys]
    present: ir.BooleanValue = ibis.literal(True)
    for p in parts:
        present = present & p.notnull()
    value: ir.StringValue = parts[0]
    for p in parts[1:]:
        value = value + SEP + p
    return value, present


def _pass_rows(norm: ir.Table, p: Pass, refine: bool) -> list[ir.Table]:
    t = norm if p.use.ranks is None else norm.filter(norm._rank.isin(list(p.use.ranks)))
    out = []
    for side, left in ((LEFT, True), (RIGHT, False)) if p.one_sided else ((BOTH, True),):
        key, present = _key(t, p.keys, left)
        cols: dict[str, ir.Value] = {
            "rid": t._rid,
            "rank": t._rank,
            "pass_": ibis.literal(p.id, "int32"),
            "key": key,
            "side": ibis.literal(side, "int8"),
        }
        if refine:
            assert p.parent is not None
            parent, _ = _key(t, p.parent.keys, left)
            cols |= {"parent_pass": ibis.literal(p.parent.id, "int32"), "parent": parent}
        out.append(t.filter(present).select(**cols))
    return out


def keyed_rows(norm: ir.Table, passes: list[Pass], refine: bool) -> ir.Table | None:
    """One row per record and base pass (or refine pass, with its parent block), where the key is complete."""
    parts = [r for p in passes if (p.parent is not None) == refine for r in _pass_rows(norm, p, refine)]
    if not parts:
        return None
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def block_sizes(rows: ir.Table) -> ir.Table:
    """Records per (pass, key), for blocks of two or more records (a block of one pairs nothing)."""
    sizes = rows.group_by(["pass_", "key"]).agg(n=rows.rid.nunique())
    return sizes.filter(sizes.n >= 2)


def limit_of(passes: list[Pass], pass_: ir.IntegerValue) -> ir.IntegerValue:
    """Each pass's block-size limit as an expression of the pass id."""
    limits: dict[int, list[int]] = {}
    for p in passes:
        limits.setdefault(p.limit, []).append(p.id)
    (*others, last) = sorted(limits)
    if not others:
        return ibis.literal(last)
    return ibis.cases(*[(pass_.isin(limits[v]), v) for v in others], else_=last)


def refinable(passes: list[Pass]) -> list[int]:
    """Ids of base passes whose oversize blocks are split by refine passes."""
    return sorted({p.parent.id for p in passes if p.parent is not None})


def oversize(sizes: ir.Table, passes: list[Pass], top: int = 5) -> ir.Table:
    """The largest ``top`` blocks of each pass above its limit: (pass_, key, n)."""
    big = sizes.filter(sizes.n > limit_of(passes, sizes.pass_))
    ranked = big.mutate(_pos=ibis.row_number().over(group_by=big.pass_, order_by=[ibis.desc(big.n), big.key]))
    return ranked.filter(ranked._pos < top).drop("_pos")


def pass_labels(passes: list[Pass]) -> pa.Table:
    """(pass_, use, label) for every pass: joined to the candidates once, at the end."""
    return pa.table(
        {
            "pass_": pa.array([p.id for p in passes], pa.int32()),
            "use": pa.array([p.use.id for p in passes], pa.int32()),
            "label": pa.array([p.label for p in passes], pa.string()),
        }
    )


def candidate_pairs(
    rows: ir.Table, kind: StepKind, lefts: ir.Table | None = None, ends: ir.Table | None = None
) -> ir.Table:
    """(l_rid, r_rid, pass_) of records sharing a pass's key: dedupe pairs each unordered pair once (l > r); a
    match pairs a record with the records of tables ranked above its own (smaller rank).

    An incremental run compares only some records with all others: ``lefts`` (a ``rid`` table) keeps the pairs
    whose left record is one of them, ``ends`` the pairs with either record among them. Either way the join starts
    from those records' rows, so its cost follows the change, not the table.
    """
    lhs = rows.filter(rows.side != RIGHT).select(l_rid="rid", l_rank="rank", l_pid="pass_", l_key="key")
    rhs = rows.filter(rows.side != LEFT).select(r_rid="rid", r_rank="rank", r_pid="pass_", r_key="key")
    if lefts is None and ends is None:
        j = lhs.join(rhs, [lhs.l_pid == rhs.r_pid, lhs.l_key == rhs.r_key])
        cond = j.l_rid > j.r_rid if kind == "dedupe" else j.l_rank > j.r_rank
        return j.filter(cond).select(l_rid=j.l_rid, r_rid=j.r_rid, pass_=j.l_pid)
    if lefts is not None:
        assert kind == "match", "a dedupe pair has no left record: focus it with ends"
        mine = lhs.semi_join(lefts, lhs.l_rid == lefts.rid)
        j = mine.join(rhs, [mine.l_pid == rhs.r_pid, mine.l_key == rhs.r_key])
        return j.filter(j.l_rank > j.r_rank).select(l_rid=j.l_rid, r_rid=j.r_rid, pass_=j.l_pid)
    assert ends is not None
    # Either side may be the focused record: join the focused rows of each side to all rows of the other.
    mine_l = lhs.semi_join(ends, lhs.l_rid == ends.rid)
    mine_r = rhs.semi_join(ends, rhs.r_rid == ends.rid)
    a = mine_l.join(rhs, [mine_l.l_pid == rhs.r_pid, mine_l.l_key == rhs.r_key])
    b = lhs.join(mine_r, [lhs.l_pid == mine_r.r_pid, lhs.l_key == mine_r.r_key])
    cols = ("l_rid", "r_rid", "l_rank", "r_rank", "l_pid")
    # A pair of two focused records comes from both joins; by_use collapses it to one row.
    j = ibis.union(a.select(*cols), b.select(*cols))
    cond = j.l_rid > j.r_rid if kind == "dedupe" else j.l_rank > j.r_rank
    return j.filter(cond).select(l_rid=j.l_rid, r_rid=j.r_rid, pass_=j.l_pid)


def by_use(pairs: ir.Table, labels: ir.Table) -> ir.Table:
    """Distinct (l_rid, r_rid, use) with the first blocking pass (by label) that found the pair."""
    j = pairs.join(labels, "pass_")
    return j.group_by(["l_rid", "r_rid", "use"]).agg(block=j.label.min())


def split_key(key: str) -> list[str]:
    """A composite key's parts, for the run report."""
    return key.split(SEP)
