"""Stable CustomerIds: deterministic GUIDs, carried over from the last published run by maximum overlap.

A GUID is the MD5 of "<namespace>|<name>" laid out as a version-3 UUID string (version nibble 3, RFC 4122 variant),
so that identical input always yields identical ids on every engine. ``guid_of`` is the Python reference.

Carry-over (previous = the AlternateKey of the last published export):
- each previous id goes to the new profile holding most of its records (ties: the profile whose first record's
  identity sorts first); a profile offered several previous ids keeps the one it shares most records with (ties:
  the smallest id) and lists the others in PreviousCustomerId (a merge);
- a profile that inherits nothing gets the GUID of its first record's identity (a new profile, or the smaller part
  of a split; should that GUID already have been used, the GUID of 'split|<identity>' instead);
- IdChangeLog records created / merged / split / records_moved / retired events for the run.
"""

from __future__ import annotations

import hashlib

import ibis
import ibis.expr.types as ir

_HEX = "0123456789abcdef"
_VARIANT = "89ab" * 4  # RFC 4122 variant: the top two bits of that nibble are 10


def guid_from_hex(h: ir.StringValue) -> ir.StringValue:
    """Lay out a 32-digit MD5 hex string as a version-3 UUID."""
    variant = ibis.literal(_VARIANT).substr(ibis.literal(_HEX).find(h.substr(16, 1)), 1)
    return (
        h.substr(0, 8)
        + "-"
        + h.substr(8, 4)
        + "-3"
        + h.substr(13, 3)
        + "-"
        + variant
        + h.substr(17, 3)
        + "-"
        + h.substr(20, 12)
    )


def with_guid(t: ir.Table, column: str, namespace: str, name: ir.StringValue) -> ir.Table:
    """``t`` plus ``column`` = the GUID of ``name``; the MD5 is computed once per row, not once per use."""
    hashed = t.mutate(__md5=(ibis.literal(namespace + "|") + name).hexdigest("md5"))
    return hashed.mutate(**{column: guid_from_hex(hashed.__md5)}).drop("__md5")


def guid_of(namespace: str, name: str) -> str:
    """The same GUID computed in Python."""
    h = hashlib.md5(f"{namespace}|{name}".encode()).hexdigest()  # noqa: S324 - an id, not a secret
    variant = _VARIANT[_HEX.index(h[16])]
    return f"{h[:8]}-{h[8:12]}-3{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def record_identity(source: ir.StringValue, table: ir.StringValue, key: ir.StringValue) -> ir.StringValue:
    """The stable identity of a source record: 'source|table|key'."""
    return source + "|" + table + "|" + key


def assign_ids(namespace: str, members: ir.Table, previous: ir.Table | None, run_id: str) -> tuple[ir.Table, ir.Table]:
    """(ids, events) for profiles.

    ``members``: _cluster, _priority, identity (one row per record). ``previous``: identity, prev_id.
    ids: _cluster, CustomerId, PreviousCustomerId (';'-joined merged ids or null).
    events: RunId, CustomerId, Event, RelatedCustomerIds, RecordCount.
    """
    ranked = members.mutate(
        _pos=ibis.row_number().over(group_by=members._cluster, order_by=members._priority),
        size=members.count().over(group_by=members._cluster),
    )
    # (Not "head": that name is a Table method in Ibis.)
    heads = ranked.filter(ranked._pos == 0).select("_cluster", "size", first=ranked.identity)
    fresh = with_guid(heads, "fresh_id", namespace, heads.first)
    if previous is None:
        ids = fresh.select("_cluster", CustomerId=fresh.fresh_id, PreviousCustomerId=ibis.null("string"))
        events = fresh.select(
            RunId=ibis.literal(run_id),
            CustomerId=fresh.fresh_id,
            Event=ibis.literal("created"),
            RelatedCustomerIds=ibis.null("string"),
            RecordCount=fresh.size.cast("int64"),
        )
        return ids, events

    ov = members.join(previous, "identity").group_by(["_cluster", "prev_id"]).agg(n=ibis._.count())
    ov = ov.join(heads, "_cluster")
    best_cluster = ibis.row_number().over(group_by=ov.prev_id, order_by=[ov.n.desc(), ov.first])
    offered = ov.filter(best_cluster == 0)
    best_id = ibis.row_number().over(group_by=offered._cluster, order_by=[offered.n.desc(), offered.prev_id])
    ranked = offered.mutate(pick=best_id)
    inherit = ranked.filter(ranked.pick == 0).select("_cluster", inherited=ranked.prev_id, kept=ranked.n)
    absorbed = ranked.filter(ranked.pick > 0)
    merged = absorbed.group_by("_cluster").agg(
        merged_ids=absorbed.prev_id.collect().sort().join(";"), n_merged=absorbed.count()
    )
    # Every id ever handed out is taken: a new profile never reuses one.
    taken = previous.select(tid=previous.prev_id).distinct()
    j = fresh.left_join(inherit, "_cluster").left_join(merged, "_cluster").left_join(taken, fresh.fresh_id == taken.tid)
    j = with_guid(j, "alt_id", namespace, ibis.literal("split|") + j.first)
    new_id = ibis.ifelse(j.tid.notnull(), j.alt_id, j.fresh_id)
    resolved = j.select(
        "_cluster",
        "size",
        "kept",
        "n_merged",
        "merged_ids",
        "inherited",
        CustomerId=j.inherited.fill_null(new_id),
    )
    ids = resolved.select("_cluster", "CustomerId", PreviousCustomerId=resolved.merged_ids)

    prev_sizes = previous.group_by("prev_id").agg(prev_size=previous.count())
    touched = ov.select("_cluster", "prev_id").distinct()
    origin = touched.join(resolved.select("_cluster", "inherited"), "_cluster")
    # A profile that holds records of a previous id it did not inherit or absorb was split off from it.
    split_from = origin.filter(origin.inherited.isnull() | (origin.inherited != origin.prev_id)).anti_join(
        absorbed, ["_cluster", "prev_id"]
    )
    split_from = split_from.group_by("_cluster").agg(split_ids=split_from.prev_id.collect().sort().join(";"))
    ev = resolved.left_join(split_from, "_cluster").left_join(prev_sizes, resolved.inherited == prev_sizes.prev_id)
    event = ibis.cases(
        (ev.n_merged.notnull(), "merged"),
        (ev.split_ids.notnull() & ev.inherited.isnull(), "split"),
        (ev.inherited.isnull(), "created"),
        ((ev.kept != ev.size) | (ev.kept != ev.prev_size), "records_moved"),
        else_=ibis.null("string"),
    )
    related = ibis.cases(
        (ev.n_merged.notnull(), ev.merged_ids),
        (ev.split_ids.notnull() & ev.inherited.isnull(), ev.split_ids),
        else_=ibis.null("string"),
    )
    changes = ev.select(
        RunId=ibis.literal(run_id),
        CustomerId=ev.CustomerId,
        Event=event,
        RelatedCustomerIds=related,
        RecordCount=ev.size.cast("int64"),
    )
    changes = changes.filter(changes.Event.notnull())
    gone = prev_sizes.anti_join(offered, "prev_id")
    retired = gone.select(
        RunId=ibis.literal(run_id),
        CustomerId=gone.prev_id,
        Event=ibis.literal("retired"),
        RelatedCustomerIds=ibis.null("string"),
        RecordCount=ibis.literal(0, "int64"),
    )
    return ids, ibis.union(changes, retired)
