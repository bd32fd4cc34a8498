"""Cluster: dedupe groups and winners, then profiles as connected components, repaired where they break a rule.

1. Dedupe groups: components over dedupe pairs only; each group's winner by the table's preference
   (most_filled, most_recent, least_recent; ties go to the largest key).
2. Profiles: components over all pairs. In-process engines (and distributed ones below ``LOCAL_EDGES`` edges) pull
   the edges as Arrow and run scipy's connected_components; distributed engines run the large-star / small-star
   algorithm (Kiveris et al., 2014) as joins, converging in O(log n) rounds.
3. Repair: a profile holding a never_match pair, records that contradict each other without a direct link by a rule
   that compared the contradicting fields (``unify.conflicts``; default: first name and birth date both differ),
   or more than ``max_cluster_size`` records, is rebuilt from its strongest links only (a maximum spanning forest
   that refuses any link joining a never_match or contradicting pair or growing a part beyond the limit), so it is
   split at its weakest links.
   Only those profiles' edges leave the engine.

Output ``work/unify/clusters``: _rid, _cluster (smallest _rid of the profile), _dgroup, _winner, _priority (the
importance order: table rank, dedupe winners first, then key).
"""

from __future__ import annotations

from collections import defaultdict

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from custdim.contracts import CLUSTERS, COMPONENT_ROUNDS, COMPONENTS, DEDUPE_GROUPS, NEVER_PAIRS, PAIRS, RECORDS
from custdim.engines.base import Engine
from custdim.errors import StageError
from custdim.lake import Lake
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.unify.conflicts import contradicting_pairs
from custdim.stages.unify.map import recency_column
from custdim.stages.unify.match import pair_list_rids, read_pair_list

MAX_ROUNDS = 64
# A distributed engine still labels components on the driver below this many edges (16 bytes each): every
# large-star/small-star round costs a few Spark jobs, which on a small project outweigh moving the edges.
LOCAL_EDGES = 2_000_000


def components_local(n_nodes: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label (= smallest node id in the component) for nodes 0..n_nodes-1."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n_nodes, n_nodes))
    _, labels = connected_components(graph, directed=False)
    smallest = np.full(labels.max() + 1 if n_nodes else 0, n_nodes, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n_nodes, dtype=np.int64))
    out: np.ndarray = smallest[labels]
    return out


def large_star(edges: ir.Table) -> ir.Table:
    """Connect every larger neighbour of a node to the smallest node of its neighbourhood."""
    sym = ibis.union(edges.select(u=edges.a, v=edges.b), edges.select(u=edges.b, v=edges.a)).distinct()
    mins = sym.group_by("u").agg(m=sym.v.min())
    mins = mins.mutate(m=ibis.least(mins.m, mins.u))
    j = sym.filter(sym.v > sym.u).join(mins, "u")
    return j.select(a=j.v, b=j.m).filter(lambda t: t.a != t.b).distinct()


def small_star(edges: ir.Table) -> ir.Table:
    """Connect every node and its smaller neighbours to the smallest of them."""
    sym = ibis.union(edges.select(u=edges.a, v=edges.b), edges.select(u=edges.b, v=edges.a)).distinct()
    smaller = sym.filter(sym.v < sym.u)
    mins = smaller.group_by("u").agg(m=smaller.v.min())
    j = smaller.join(mins, "u")
    linked = ibis.union(j.select(a=j.v, b=j.m), mins.select(a=mins.u, b=mins.m))
    return linked.filter(linked.a != linked.b).distinct()


def components_distributed(engine: Engine, lake: Lake, pairs: ir.Table) -> ir.Table:
    """(_rid, _cluster) for every node that has an edge, computed with joins only (each round materialized)."""
    edges = pairs.select(a=pairs.left_rid, b=pairs.right_rid).filter(lambda t: t.a != t.b).distinct()
    current = lake.work_table(*COMPONENT_ROUNDS, "round_0")
    engine.write(edges, current)
    for round_no in range(1, MAX_ROUNDS + 1):
        nxt = lake.work_table(*COMPONENT_ROUNDS, f"round_{round_no}")
        before = engine.read(current)
        engine.write(small_star(large_star(before)), nxt)
        after = engine.read(nxt)
        changed = engine.count(ibis.union(before.anti_join(after, ["a", "b"]), after.anti_join(before, ["a", "b"])))
        current = nxt
        if changed == 0:
            break
    else:
        raise StageError(f"connected components did not converge in {MAX_ROUNDS} rounds")
    final = engine.read(current)
    # At convergence every non-root node has exactly one edge: to its component's smallest node.
    return final.group_by(_rid=final.a).agg(_cluster=final.b.min())


def components(engine: Engine, lake: Lake, nodes: ir.Table, pairs: ir.Table, name: tuple[str, ...]) -> ir.Table:
    """(_rid, _cluster) for every node of ``nodes`` (0..n-1), materialized as the work table ``name``."""
    path = lake.work_table(*name)
    if engine.capabilities.local_graph or engine.count(pairs) <= LOCAL_EDGES:
        n_nodes = engine.count(nodes)
        edges = engine.to_arrow(pairs.select("left_rid", "right_rid"))
        labels = components_local(n_nodes, edges["left_rid"].to_numpy(), edges["right_rid"].to_numpy())
        table = pa.table({"_rid": pa.array(np.arange(n_nodes, dtype=np.int64)), "_cluster": pa.array(labels)})
        engine.write(engine.from_arrow(table), path)
    else:
        linked = components_distributed(engine, lake, pairs)
        j = nodes.left_join(linked, "_rid")
        engine.write(j.select(_rid=j._rid, _cluster=j._cluster.fill_null(j._rid)), path)
        lake.remove(lake.work_table(*COMPONENT_ROUNDS))
    return engine.read(path)


def split_constrained(
    members: list[int], edges: list[tuple[int, int, float]], never: set[tuple[int, int]], max_size: int
) -> dict[int, int]:
    """Rebuild one profile from its strongest links: node -> new label (smallest node of its part).

    Kruskal on descending strength (ties by node ids, so the result does not depend on row order) that refuses a
    link when it would put a never_match pair together or grow a part beyond ``max_size``.
    """
    parent = {m: m for m in members}
    part: dict[int, set[int]] = {m: {m} for m in members}
    enemies: dict[int, set[int]] = defaultdict(set)
    for a, b in never:
        enemies[a].add(b)
        enemies[b].add(a)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, _ in sorted(edges, key=lambda e: (-e[2], min(e[0], e[1]), max(e[0], e[1]))):
        ra, rb = find(a), find(b)
        if ra == rb or len(part[ra]) + len(part[rb]) > max_size:
            continue
        if any(enemies[x] & part[rb] for x in part[ra]):
            continue
        small, big = (ra, rb) if len(part[ra]) < len(part[rb]) else (rb, ra)
        parent[small] = big
        part[big] |= part.pop(small)
    return {m: min(part[find(m)]) for m in members}


def repair(
    ctx: RunContext,
    clusters: ir.Table,
    pairs: ir.Table,
    records: ir.Table,
    never: ir.Table | None,
    report: StageReport,
) -> ir.Table | None:
    """Relabel profiles that exceed the size limit, hold a never_match pair or hold records that contradict each
    other (see :mod:`conflicts`); None when no profile needs it. Each guard's count goes to the run report."""
    engine, unify = ctx.engine, ctx.config.unify
    max_size = unify.max_cluster_size
    sizes = clusters.group_by("_cluster").agg(n=clusters.count())
    oversize = engine.to_arrow(sizes.filter(sizes.n > max_size).order_by(ibis.desc("n")))
    constraints: list[tuple[int, int, int]] = []
    if never is not None:
        ca = clusters.rename(a="_rid", ca="_cluster")
        cb = clusters.rename(b="_rid", cb="_cluster")
        j = never.join(ca, "a").join(cb, "b")
        constraints += _rows(engine.to_arrow(j.filter(j.ca == j.cb).select("a", "b", c="ca")))
    n_never = len(constraints)
    conflicts = unify.conflict_rules()
    if conflicts:
        base, country = str(ctx.config.root), unify.default_country
        found = contradicting_pairs(conflicts, records, clusters, pairs, unify.all_rules(), base, country)
        constraints += _rows(engine.to_arrow(found.select("a", "b", c="_cluster")))
    bad = set(oversize["_cluster"].to_pylist()) | {c for _, _, c in constraints}
    guards = {
        "oversize": oversize.num_rows,
        "never_match": len({c for _, _, c in constraints[:n_never]}),
        "conflicts": len({c for _, _, c in constraints[n_never:]}),
    }
    report.details["guards"] = guards
    report.details["oversize_profiles"] = oversize.num_rows
    report.details["never_match_conflicts"] = n_never
    report.details["contradicting_pairs"] = len(constraints) - n_never
    if oversize.num_rows:
        report.warn(
            f"{oversize.num_rows} profiles had more than {max_size} records (largest "
            f"{oversize['n'][0].as_py()}); split at their weakest links"
        )
    if guards["conflicts"]:
        report.warn(
            f"{guards['conflicts']} profiles joined records that contradict each other "
            f"({len(constraints) - n_never} pairs, e.g. different first names and birth dates) that no rule "
            "comparing those fields links directly; rebuilt from their strongest links"
        )
    if not bad:
        return None
    fixed = _split(engine, clusters, pairs, sorted(bad), constraints, max_size)
    report.details["profiles_split"] = len(bad)
    return fixed


def _rows(table: pa.Table) -> list[tuple[int, int, int]]:
    return list(zip(table["a"].to_pylist(), table["b"].to_pylist(), table["c"].to_pylist(), strict=True))


def _split(
    engine: Engine,
    clusters: ir.Table,
    pairs: ir.Table,
    bad: list[int],
    constraints: list[tuple[int, int, int]],
    max_size: int,
) -> ir.Table:
    """(_rid, _fixed) new labels for the records of the ``bad`` profiles; only their edges leave the engine."""
    chosen = engine.from_arrow(pa.table({"_cluster": pa.array(bad, pa.int64())}))
    members = engine.to_arrow(clusters.semi_join(chosen, "_cluster").select("_rid", "_cluster"))
    in_bad = clusters.semi_join(chosen, "_cluster").select("_rid")
    lefts, rights = in_bad.select(lr=in_bad._rid), in_bad.select(rr=in_bad._rid)
    e = pairs.semi_join(lefts, pairs.left_rid == lefts.lr)
    e = e.semi_join(rights, e.right_rid == rights.rr)
    edges = engine.to_arrow(e.select("left_rid", "right_rid", "strength"))
    by_cluster: dict[int, list[int]] = defaultdict(list)
    cluster_of: dict[int, int] = {}
    for rid, c in zip(members["_rid"].to_pylist(), members["_cluster"].to_pylist(), strict=True):
        by_cluster[c].append(rid)
        cluster_of[rid] = c
    edges_of: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    for a, b, s in zip(
        edges["left_rid"].to_pylist(), edges["right_rid"].to_pylist(), edges["strength"].to_pylist(), strict=True
    ):
        edges_of[cluster_of[a]].append((a, b, s))
    apart: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for a, b, c in constraints:
        apart[c].add((a, b))
    rids, labels = [], []
    for c, nodes in by_cluster.items():
        for rid, label in split_constrained(nodes, edges_of[c], apart[c], max_size).items():
            rids.append(rid)
            labels.append(label)
    return engine.from_arrow(pa.table({"_rid": pa.array(rids, pa.int64()), "_fixed": pa.array(labels, pa.int64())}))


def winners(ctx: RunContext, records: ir.Table, dgroups: ir.Table) -> ir.Table:
    """(_rid, _dgroup, _winner) with each dedupe group's winner by its table's preference."""
    unify = ctx.config.unify
    rank_of = {t.table: i for i, t in enumerate(unify.ordered_tables())}
    base = records.join(dgroups.rename(_dgroup="_cluster"), "_rid")
    parts = []
    for d in unify.dedupe:
        t = base.filter(base._rank == rank_of[d.table])
        if d.preference == "most_filled":
            order = [t._filled.desc()]
        else:
            col = t[recency_column(d.by or "")]
            order = [col.desc(nulls_first=False) if d.preference == "most_recent" else col.asc(nulls_first=False)]
        w = ibis.row_number().over(group_by=t._dgroup, order_by=[*order, t._key.desc()])
        parts.append(t.select("_rid", "_dgroup", _winner=w == 0))
    deduped = [rank_of[d.table] for d in unify.dedupe]
    rest = base.filter(~base._rank.isin(deduped)) if deduped else base
    parts.append(rest.select("_rid", "_dgroup", _winner=ibis.literal(True)))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake = ctx.engine, ctx.lake
    records = engine.read(lake.work_table(*RECORDS))
    pairs = engine.read(lake.work_table(*PAIRS))
    nodes = records.select("_rid")
    never_list = read_pair_list(
        ctx, "never_match", ctx.config.unify.match.never_match if ctx.config.unify.match else None
    )
    never = None
    if never_list:
        found = pair_list_rids(ctx, never_list, records)
        never_path = lake.work_table(*NEVER_PAIRS)
        n_never = engine.write(found, never_path)
        never = engine.read(never_path)
        # A direct link between a never_match pair is dropped before anything is joined through it.
        pairs = pairs.anti_join(
            never,
            ((pairs.left_rid == never.a) & (pairs.right_rid == never.b))
            | ((pairs.left_rid == never.b) & (pairs.right_rid == never.a)),
        )
        report.details["never_match"] = {"listed": len(never_list), "applied": n_never}
    dgroups = components(engine, lake, nodes, pairs.filter(pairs.stage == "dedupe"), DEDUPE_GROUPS)
    base = components(engine, lake, nodes, pairs, COMPONENTS)
    fixed = repair(ctx, base, pairs, records, never, report)
    if fixed is not None:
        j = base.left_join(fixed, "_rid")
        base = j.select(_rid=j._rid, _cluster=j._fixed.fill_null(j._cluster))
    won = winners(ctx, records, dgroups)
    j = records.select("_rid", "_rank", "_key").join(won, "_rid").join(base, "_rid")
    priority = ibis.row_number().over(order_by=[j._rank, j._winner.desc(), j._key]).cast("int64")
    out = lake.work_table(*CLUSTERS)
    engine.write(j.select("_rid", "_cluster", "_dgroup", "_winner", _priority=priority), out)
    for name in (DEDUPE_GROUPS, COMPONENTS):
        lake.remove(lake.work_table(*name))
    sizes = engine.to_arrow(_size_histogram(engine.read(out)))
    report.rows_in["records"] = engine.count(nodes)
    report.rows_out["profiles"] = int(sum(sizes["profiles"].to_pylist()))
    report.details["cluster_sizes"] = {
        str(s): int(c) for s, c in zip(sizes["size"].to_pylist(), sizes["profiles"].to_pylist(), strict=True)
    }


def _size_histogram(clusters: ir.Table) -> ir.Table:
    sizes = clusters.group_by("_cluster").agg(size=clusters.count())
    return sizes.group_by("size").agg(profiles=sizes.count()).order_by("size")


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.work_table(*CLUSTERS)]


STAGE = StageSpec("cluster", ("match",), run, outputs, "cluster matched records into profiles")
