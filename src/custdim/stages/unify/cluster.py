"""Cluster: connected components over matched pairs; every record gets the smallest _rid of its component.

Two strategies, chosen by the engine's capabilities: in-process engines pull the edges as Arrow and run
scipy's connected_components (a fraction of a second at 1M edges); distributed engines run the large-star /
small-star algorithm (Kiveris et al., 2014) as joins, which converges in O(log n) rounds.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from custdim.engines.base import Engine
from custdim.errors import StageError
from custdim.lake import Lake
from custdim.report import StageReport
from custdim.stages.context import RunContext, StageSpec
from custdim.stages.unify.map import RECORDS
from custdim.stages.unify.match import PAIRS

CLUSTERS = ("unify", "clusters")
MAX_ROUNDS = 64


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
    current = lake.work_table("unify", "cc_round_0")
    engine.write(edges, current)
    for round_no in range(1, MAX_ROUNDS + 1):
        nxt = lake.work_table("unify", f"cc_round_{round_no}")
        before = engine.read(current)
        engine.write(small_star(large_star(before)), nxt)
        after = engine.read(nxt)
        changed = engine.count(ibis.union(before.anti_join(after, ["a", "b"]), after.anti_join(before, ["a", "b"])))
        lake.remove(current)
        current = nxt
        if changed == 0:
            break
    else:
        raise StageError(f"connected components did not converge in {MAX_ROUNDS} rounds")
    final = engine.read(current)
    # At convergence every non-root node has exactly one edge: to its component's smallest node.
    return final.group_by(_rid=final.a).agg(_cluster=final.b.min())


def run(ctx: RunContext, report: StageReport) -> None:
    engine, lake = ctx.engine, ctx.lake
    records = engine.read(lake.work_table(*RECORDS)).select("_rid")
    pairs = engine.read(lake.work_table(*PAIRS))
    n_nodes = engine.count(records)
    out = lake.work_table(*CLUSTERS)
    if engine.capabilities.local_graph:
        edges = engine.to_arrow(pairs.select("left_rid", "right_rid"))
        labels = components_local(n_nodes, edges["left_rid"].to_numpy(), edges["right_rid"].to_numpy())
        table = pa.table({"_rid": pa.array(np.arange(n_nodes, dtype=np.int64)), "_cluster": pa.array(labels)})
        clusters = engine.from_arrow(table)
    else:
        linked = components_distributed(engine, lake, pairs)
        j = records.left_join(linked, "_rid")
        clusters = j.select(_rid=j._rid, _cluster=j._cluster.fill_null(j._rid))
    engine.write(clusters, out)
    for p in lake.fs.ls(lake.work_table("unify"), detail=False):
        if p.rsplit("/", 1)[-1].startswith("cc_round_"):
            lake.remove(p)
    sizes = engine.to_arrow(_size_histogram(engine.read(out)))
    report.rows_in["records"] = n_nodes
    report.rows_out["profiles"] = int(sum(sizes["profiles"].to_pylist()))
    report.details["cluster_sizes"] = {
        str(s): int(c) for s, c in zip(sizes["size"].to_pylist(), sizes["profiles"].to_pylist(), strict=True)
    }


def _size_histogram(clusters: ir.Table) -> ir.Table:
    sizes = clusters.group_by("_cluster").agg(size=clusters.count())
    return sizes.group_by("size").agg(profiles=sizes.count()).order_by("size")


def outputs(ctx: RunContext) -> list[str]:
    return [ctx.lake.work_table(*CLUSTERS)]


STAGE = StageSpec("cluster", ("match",), run, outputs, "cluster matched records (connected components)")
