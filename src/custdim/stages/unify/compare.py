"""Compare: turn a rule's conditions into join keys (exact conditions) and score filters (fuzzy ones)."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from custdim.config.unify import Condition, Rule
from custdim.stages.exprs import concat
from custdim.stages.unify.normalize import column_name


@dataclass(frozen=True)
class CompiledCondition:
    condition: Condition
    column: str  # normalized comparison column

    @property
    def label(self) -> str:
        return self.condition.field


def compile_rule(rule: Rule) -> list[CompiledCondition]:
    return [CompiledCondition(c, column_name(c.field, c.normalize)) for c in rule.conditions]


def similarity(left: ir.StringValue, right: ir.StringValue) -> ir.FloatingValue:
    """Percent similarity = (1 - levenshtein / length of the LONGER string) * 100; symmetric in its arguments."""
    longest = ibis.greatest(left.length(), right.length())
    return (1 - left.levenshtein(right).cast("float64") / longest.cast("float64")) * 100


def candidate_pairs(left: ir.Table, right: ir.Table, rule: Rule, rule_index: int) -> ir.Table:
    """Pairs (left_rid, right_rid) that satisfy every condition of the rule, with scores.

    ``left`` and ``right`` hold _rid plus the normalized comparison columns. Exact conditions are equi-join
    keys (so they are the rule's blocking keys); fuzzy conditions filter the joined candidates.
    """
    conditions = compile_rule(rule)
    exact = [c for c in conditions if c.condition.is_exact]
    lhs = left.select(l_rid=left._rid, **{f"l{i}": left[c.column] for i, c in enumerate(conditions)})
    rhs = right.select(r_rid=right._rid, **{f"r{i}": right[c.column] for i, c in enumerate(conditions)})
    for i, c in enumerate(conditions):
        if c in exact:
            lhs = lhs.filter(lhs[f"l{i}"].notnull())
            rhs = rhs.filter(rhs[f"r{i}"].notnull())
    keys = [lhs[f"l{i}"] == rhs[f"r{i}"] for i, c in enumerate(conditions) if c in exact]
    joined = lhs.join(rhs, keys)
    scores: list[ir.FloatingValue] = []
    for i, c in enumerate(conditions):
        if c in exact:
            scores.append(ibis.literal(100.0))
            continue
        score = similarity(joined[f"l{i}"], joined[f"r{i}"])
        joined = joined.mutate(**{f"s{i}": score})
        joined = joined.filter(joined[f"s{i}"].notnull() & (joined[f"s{i}"] >= c.condition.threshold))
        scores.append(joined[f"s{i}"])
    score_json = concat(
        ["{"]
        + [
            p
            for i, c in enumerate(conditions)
            for p in ([", "] if i else []) + [f'"{c.label}": ', scores[i].round(1).cast("string")]
        ]
        + ["}"]
    )
    return joined.select(
        left_rid=joined.l_rid,
        right_rid=joined.r_rid,
        rule=ibis.literal(rule.name),
        rule_index=ibis.literal(rule_index, "int32"),
        score=(ibis.least(*scores) if len(scores) > 1 else scores[0]).round(1),
        scores=score_json,
    )
