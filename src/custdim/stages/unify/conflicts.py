"""Contradictions inside a profile: records that disagree on every condition of a conflict (by default: first name
and birth date both differ) and that no match which weighed that evidence links directly.

Transitive closure chains strangers: a household's shared email joins one member, a shared phone the next. Each
link may be plausible on its own, yet the profile then holds records that contradict each other outright. Such
pairs become constraints for the cluster repair, which rebuilds the profile from its strongest links and never
joins two contradicting records unless a rule that compares one of the conflict's fields (or always_match) links
them directly. A rule that never looked at first names or birth dates (email and last name: a household's shared
address) cannot overrule a contradiction it did not see.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from custdim.config.unify import Conflict, Rule
from custdim.stages.unify.conditions import CompiledCondition, compile_condition, normalized_table


def informed_rules(conflict: Conflict, rules: list[Rule]) -> list[str]:
    """Names of the rules that compare a field of ``conflict``: their direct links may join contradicting records.

    Dedupe sections may reuse a rule name with other conditions; a name counts only if every rule of that name
    compares such a field.
    """
    fields = {c.field for c in conflict.conditions}
    by_name: dict[str, bool] = {}
    for r in rules:
        compares = any(c.field in fields for c in r.conditions)
        by_name[r.name] = by_name.get(r.name, True) and compares
    return sorted(name for name, ok in by_name.items() if ok)


def contradicting_pairs(
    conflicts: list[Conflict],
    records: ir.Table,
    clusters: ir.Table,
    pairs: ir.Table,
    rules: list[Rule],
    base: str,
    country: str,
) -> ir.Table:
    """(a, b, _cluster) with a < b: records of one profile that contradict each other and share no direct link by
    a rule that weighed the contradicting fields."""
    compiled = [[compile_condition(c, country) for c in conflict.conditions] for conflict in conflicts]
    flat = [c for conflict in conflicts for c in conflict.conditions]
    norm = normalized_table([Rule(name="conflicts", conditions=flat)], records, base, country)
    columns = sorted(
        {c.column for group in compiled for c in group} | {c.swapped for g in compiled for c in g if c.swapped}
    )

    sizes = clusters.group_by("_cluster").agg(_n=clusters.count())
    members = clusters.join(sizes.filter(sizes._n >= 2), "_cluster").select("_rid", "_cluster")
    members = members.join(norm.select("_rid", *columns), "_rid")
    left = members.select(a=members._rid, ca=members._cluster, **{f"l_{c}": members[c] for c in columns})
    right = members.select(b=members._rid, cb=members._cluster, **{f"r_{c}": members[c] for c in columns})
    j = left.join(right, [left.ca == right.cb, left.a < right.b])

    flags: dict[str, ir.BooleanValue] = {}
    for k, group in enumerate(compiled):
        every: ir.BooleanValue = ibis.literal(True)
        for c in group:
            swapped = j[f"l_{c.swapped}"] if c.swapped else None
            every = every & _differ(c, j[f"l_{c.column}"], j[f"r_{c.column}"], swapped)
        flags[f"_c{k}"] = every
    found = j.select("a", "b", _cluster=j.ca, **flags)
    any_flag: ir.BooleanValue = ibis.literal(False)
    for name in flags:
        any_flag = any_flag | found[name]
    found = found.filter(any_flag)

    # Per conflict: is the pair linked directly by a rule that compared one of its fields?
    seen = {
        f"_k{k}": (pairs.stage == "always") | pairs.rule.isin(informed_rules(conflict, rules) or [""])
        for k, conflict in enumerate(conflicts)
    }
    direct = pairs.select(
        x=ibis.least(pairs.left_rid, pairs.right_rid), y=ibis.greatest(pairs.left_rid, pairs.right_rid), **seen
    )
    direct = direct.group_by(["x", "y"]).agg(**{k: direct[k].any() for k in seen})
    m = found.left_join(direct, [found.a == direct.x, found.b == direct.y])
    keep: ir.BooleanValue = ibis.literal(False)
    for k in range(len(compiled)):
        keep = keep | (m[f"_c{k}"] & ~m[f"_k{k}"].fill_null(False))
    return m.filter(keep).select("a", "b", "_cluster")


def _differ(
    c: CompiledCondition, left: ir.Value, right: ir.Value, left_swapped: ir.Value | None = None
) -> ir.BooleanValue:
    """Both values exist and are not alike enough for ``c`` (a date that is the other with day and month swapped is
    alike when ``c`` swaps); a text value that begins the other ('J', 'Pat' and 'Patrick', a ZIP and its ZIP+4)
    abbreviates it and contradicts nothing."""
    score = c.score(left, right, left_swapped)
    differ: ir.BooleanValue = score.notnull() & (score < c.condition.threshold)
    if isinstance(left, ir.StringValue) and isinstance(right, ir.StringValue):
        differ = differ & ~(left.startswith(right) | right.startswith(left))
    return differ
