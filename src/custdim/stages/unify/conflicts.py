"""Contradictions inside a profile: records that no direct match joins and that disagree on every condition of a
conflict (by default: first name and birth date both differ).

Transitive closure chains strangers: a household's shared email joins one member, a shared phone the next. Each
link may be plausible on its own, yet the profile then holds records that contradict each other outright. Such
pairs become constraints for the cluster repair, which rebuilds the profile from its strongest links and never
joins two contradicting records unless a match links them directly.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from custdim.config.unify import Conflict, Rule
from custdim.stages.unify.conditions import compile_condition, normalized_table

# A profile of two records is one direct link: nothing to judge.
MIN_PROFILE = 3


def contradicting_pairs(
    conflicts: list[Conflict],
    records: ir.Table,
    clusters: ir.Table,
    pairs: ir.Table,
    base: str,
    country: str,
) -> ir.Table:
    """(a, b, _cluster) with a < b: records of one profile that contradict each other and share no direct link."""
    compiled = [[compile_condition(c, country) for c in conflict.conditions] for conflict in conflicts]
    flat = [c for conflict in conflicts for c in conflict.conditions]
    norm = normalized_table([Rule(name="conflicts", conditions=flat)], records, base, country)
    columns = sorted({c.column for group in compiled for c in group})

    sizes = clusters.group_by("_cluster").agg(_n=clusters.count())
    members = clusters.join(sizes.filter(sizes._n >= MIN_PROFILE), "_cluster").select("_rid", "_cluster")
    members = members.join(norm.select("_rid", *columns), "_rid")
    left = members.select(a=members._rid, ca=members._cluster, **{f"l_{c}": members[c] for c in columns})
    right = members.select(b=members._rid, cb=members._cluster, **{f"r_{c}": members[c] for c in columns})
    j = left.join(right, [left.ca == right.cb, left.a < right.b])

    contradicts: ir.BooleanValue = ibis.literal(False)
    for group in compiled:
        every: ir.BooleanValue = ibis.literal(True)
        for c in group:
            score = c.score(j[f"l_{c.column}"], j[f"r_{c.column}"])
            every = every & score.notnull() & (score < c.condition.threshold)
        contradicts = contradicts | every
    found = j.filter(contradicts).select("a", "b", _cluster=j.ca)

    direct = pairs.select(
        x=ibis.least(pairs.left_rid, pairs.right_rid), y=ibis.greatest(pairs.left_rid, pairs.right_rid)
    )
    return found.anti_join(direct, [found.a == direct.x, found.b == direct.y])
