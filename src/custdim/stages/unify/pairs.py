"""Candidate pairs of one rule: blocking passes, scoring, exceptions and near misses.

Output columns (the ``pairs`` contract): left_rid, right_rid, rule, rule_index, stage ('dedupe' | 'match' |
'always'), score (the lowest condition score), scores (JSON of per-condition scores), block (the blocking pass
that found the pair) and strength (used to split clusters at their weakest links: earlier rules are stronger,
then higher scores).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from custdim.config.unify import Rule
from custdim.engines.base import Engine
from custdim.lake import Lake
from custdim.stages.exprs import concat
from custdim.stages.unify.blocking import REFINE_ABOVE, BlockingPass, BlockKey, plan_rule
from custdim.stages.unify.conditions import compile_exceptions, compile_rule
from custdim.stages.unify.model import MatchModel, model_column, weight_expr

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
NEAR_MISS_POINTS = 5


def strength(rule_index: int, score: ir.FloatingValue) -> ir.FloatingValue:
    """Earlier rules are stronger; within a rule, closer pairs are stronger."""
    return (1000 - rule_index) * 1000.0 + score


@dataclass
class RuleStats:
    """What one rule did in one step, for the run report."""

    candidates: int = 0
    pairs: int = 0
    near_misses: int = 0
    skipped_blocks: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class Side:
    """Records (rid + normalized columns) on one side of a comparison."""

    table: ir.Table
    is_left: bool


def _keys(pass_: BlockingPass | tuple[BlockKey, ...], side: Side) -> dict[str, ir.Value]:
    keys = pass_.keys if isinstance(pass_, BlockingPass) else pass_
    return {f"k{i}": k.expr(side.table, side.is_left) for i, k in enumerate(keys)}


def _keyed(side: Side, keys: dict[str, ir.Value]) -> ir.Table:
    t = side.table.select(rid=side.table._rid, **keys)
    for k in keys:
        t = t.filter(t[k].notnull())
    return t


class RuleRunner:
    """Runs one rule between two sides and materializes its pairs (and near misses)."""

    def __init__(
        self,
        engine: Engine,
        lake: Lake,
        rule: Rule,
        rule_index: int,
        stage: str,
        *,
        country: str,
        max_block_size: int,
        same_side: bool,
        model: MatchModel | None = None,
    ) -> None:
        self.engine, self.lake = engine, lake
        self.rule, self.rule_index, self.stage = rule, rule_index, stage
        self.plan = plan_rule(rule, country)
        self.conditions = compile_rule(rule, country)
        self.exceptions = compile_exceptions(rule, country)
        self.max_block_size = max_block_size
        self.same_side = same_side  # dedupe: both sides are one table; each unordered pair once
        self.model = model if rule.min_match_weight is not None else None

    def _block_sizes(
        self, left: Side, right: Side, keys_l: dict[str, ir.Value], keys_r: dict[str, ir.Value]
    ) -> ir.Table:
        both = ibis.union(_keyed(left, keys_l), _keyed(right, keys_r), distinct=True)
        return both.group_by(list(keys_l)).agg(n=both.count())

    def _join(self, left: ir.Table, right: ir.Table, names: list[str], label: str) -> ir.Table:
        lhs = left.rename({"l_rid": "rid"} | {f"l_{k}": k for k in names})
        rhs = right.rename({"r_rid": "rid"} | {f"r_{k}": k for k in names})
        j = lhs.join(rhs, [lhs[f"l_{k}"] == rhs[f"r_{k}"] for k in names])
        cond = j.l_rid > j.r_rid if self.same_side else j.l_rid != j.r_rid
        return j.filter(cond).select(l_rid=j.l_rid, r_rid=j.r_rid, block=ibis.literal(label))

    def _materialized(self, expr: ir.Table, name: str) -> ir.Table:
        # Block sizes feed several queries each; computing them once beats rescanning every record per use.
        return self.engine.materialize(name, expr)

    def candidates(self, left: Side, right: Side, stats: RuleStats, step: str) -> list[ir.Table]:
        """One candidate table per blocking pass; oversize blocks refined or skipped (and reported)."""
        out: list[ir.Table] = []
        for pi, p in enumerate(self.plan.base):
            keys_l, keys_r = _keys(p, left), _keys(p, right)
            names = list(keys_l)
            sizes = self._materialized(self._block_sizes(left, right, keys_l, keys_r), f"{step}/sizes_{pi}")
            # A rule with fuzzy conditions refines every block above REFINE_ABOVE records (each costs up to n²/2
            # comparisons); an exact-only rule joins blocks up to max_block_size and skips the rest.
            limit = min(REFINE_ABOVE, self.max_block_size) if self.plan.refine else self.max_block_size
            small = sizes.filter(sizes.n <= limit).select(*names)
            big = sizes.filter(sizes.n > limit)
            lk, rk = _keyed(left, keys_l), _keyed(right, keys_r)
            out.append(self._join(lk.semi_join(small, names), rk.semi_join(small, names), names, p.label))
            big_rows = self.engine.to_arrow(big.order_by(ibis.desc("n")).limit(5))
            n_big = self.engine.count(big)
            if not n_big:
                continue
            if not self.plan.refine:
                stats.skipped_blocks.extend(
                    {"pass": p.label, "key": [r[k] for k in names], "records": r["n"]} for r in big_rows.to_pylist()
                )
                continue
            for si, suffix in enumerate(self.plan.refine):
                extra_l, extra_r = _keys(suffix, left), _keys(suffix, right)
                fl = {**keys_l, **{f"x{i}": v for i, v in enumerate(extra_l.values())}}
                fr = {**keys_r, **{f"x{i}": v for i, v in enumerate(extra_r.values())}}
                label = p.label + " + " + " + ".join(k.label for k in suffix)
                lk2 = _keyed(left, fl).semi_join(big.select(*names), names)
                rk2 = _keyed(right, fr).semi_join(big.select(*names), names)
                both = ibis.union(lk2, rk2, distinct=True)
                sizes2 = self._materialized(both.group_by(list(fl)).agg(n=both.count()), f"{step}/sizes_{pi}_{si}")
                ok = sizes2.filter(sizes2.n <= self.max_block_size).select(*fl)
                out.append(self._join(lk2.semi_join(ok, list(fl)), rk2.semi_join(ok, list(fl)), list(fl), label))
                too_big = sizes2.filter(sizes2.n > self.max_block_size)
                for r in self.engine.to_arrow(too_big.order_by(ibis.desc("n")).limit(5)).to_pylist():
                    stats.skipped_blocks.append({"pass": label, "key": [r[k] for k in fl], "records": r["n"]})
        return out

    def score(self, candidates: ir.Table, norm: ir.Table) -> ir.Table:
        """Scored candidate pairs, flagged _accept (the rule holds) and _near (a near miss)."""
        cols = sorted(
            {c.column for c in self.conditions}
            | {c.column for ex in self.exceptions for c in ex}
            | {c.swapped for c in self.conditions if c.swapped}
        )
        if self.model is not None:
            cols = sorted(set(cols) | {model_column(f) for f in self.model.fields})
        lhs = norm.select(l_rid=norm._rid, **{f"l_{c}": norm[c] for c in cols})
        rhs = norm.select(r_rid=norm._rid, **{f"r_{c}": norm[c] for c in cols})
        j = candidates.join(lhs, "l_rid").join(rhs, "r_rid")
        scores = {}
        for i, c in enumerate(self.conditions):
            swapped = j[f"l_{c.swapped}"] if c.swapped else None
            scores[f"s{i}"] = c.score(j[f"l_{c.column}"], j[f"r_{c.column}"], swapped)
        j = j.mutate(**scores)
        accept = ibis.literal(True)
        near = ibis.literal(True)
        for i, c in enumerate(self.conditions):
            s = j[f"s{i}"]
            accept = accept & s.notnull() & (s >= c.condition.threshold)
            floor = c.condition.threshold if c.condition.is_exact else c.condition.threshold - NEAR_MISS_POINTS
            near = near & s.notnull() & (s >= floor)
        veto = ibis.literal(False)
        for ex in self.exceptions:
            holds = ibis.literal(True)
            for c in ex:
                holds = holds & c.holds(c.score(j[f"l_{c.column}"], j[f"r_{c.column}"]))
            veto = veto | holds
        labels = [c.label for c in self.conditions]
        if self.model is not None:
            j = j.mutate(_weight=weight_expr(self.model, j).round(2))
            accept = accept & (j._weight >= self.rule.min_match_weight)
            labels.append("match_weight")
            j = j.mutate(**{f"s{len(self.conditions)}": j._weight})
        j = j.mutate(_accept=accept & ~veto, _near=near & ~accept)
        score_json = concat(
            ["{"]
            + [
                p
                for i, label in enumerate(labels)
                for p in ([", "] if i else []) + [f'"{label}": ', j[f"s{i}"].round(1).cast("string")]
            ]
            + ["}"]
        )
        low = ibis.least(*[j[f"s{i}"] for i in range(len(self.conditions))]) if len(self.conditions) > 1 else j["s0"]
        return j.select(
            left_rid=j.l_rid,
            right_rid=j.r_rid,
            rule=ibis.literal(self.rule.name),
            rule_index=ibis.literal(self.rule_index, "int32"),
            stage=ibis.literal(self.stage),
            score=low.round(1),
            scores=score_json,
            block=j.block,
            strength=strength(self.rule_index, low.round(1)),
            _accept=j._accept,
            _near=j._near,
        )

    def run(self, left: Side, right: Side, norm: ir.Table, step: str) -> tuple[RuleStats, ir.Table, ir.Table]:
        """This rule's accepted pairs and near misses, materialized as engine steps named after ``step``."""
        stats = RuleStats()
        parts = self.candidates(left, right, stats, step)
        union = ibis.union(*parts) if len(parts) > 1 else parts[0]
        distinct = union.group_by(["l_rid", "r_rid"]).agg(block=union.block.min())
        candidates = self._materialized(distinct, f"{step}/candidates")
        stats.candidates = self.engine.count(candidates)
        scored = self._materialized(self.score(candidates, norm), f"{step}/scored")
        pairs = self._materialized(scored.filter(scored._accept).drop("_accept", "_near"), f"{step}/pairs")
        near = self._materialized(scored.filter(scored._near).drop("_accept", "_near"), f"{step}/near_misses")
        stats.pairs, stats.near_misses = self.engine.count(pairs), self.engine.count(near)
        return stats, pairs, near
