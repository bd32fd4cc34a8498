"""Export snapshots: written whole, marked complete, and only then published, kept or pruned.

A snapshot folder ``export/snapshots/<run_id>/`` counts only once its ``_complete.json`` marker exists; the marker
is written after every entity was copied and verified, and removed first when a snapshot is pruned, so a crash
at any instant leaves either a complete snapshot or an incomplete one that the next run deletes.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from custdim import failpoints
from custdim.contracts import EXPORT_MANIFEST
from custdim.errors import StageError
from custdim.lake.cdm import manifest_from_json
from custdim.report import now_iso

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custdim.engines.base import Engine
    from custdim.lake import Lake

MARKER = "_complete.json"


def marker(lake: Lake, run_id: str) -> str:
    return posixpath.join(lake.snapshot(run_id), MARKER)


def mark_complete(lake: Lake, run_id: str, rows: dict[str, int], manifest: dict[str, Any]) -> None:
    """Declare a snapshot whole: every entity copied and verified (row counts as written). The marker also keeps
    the manifest document that publishes the snapshot, for a later rollback."""
    doc = {"run_id": run_id, "completed_at": now_iso(), "rows": rows, "manifest": manifest}
    lake.write_json(marker(lake, run_id), doc)


def is_complete(lake: Lake, run_id: str) -> bool:
    return lake.exists(marker(lake, run_id))


def all_snapshots(lake: Lake) -> list[str]:
    """Run ids of every snapshot folder, complete or not, oldest first."""
    root = lake.snapshot()
    if not lake.exists(root):
        return []
    return sorted(posixpath.basename(p.rstrip("/")) for p in lake.fs.ls(root, detail=False) if lake.fs.isdir(p))


def read_manifest(lake: Lake) -> dict[str, Any] | None:
    """The published manifest document (None before the first publish); StageError if it is damaged."""
    path = lake.export_manifest()
    if not lake.exists(path):
        return None
    recover = (
        "it was changed outside custdim. The snapshots under "
        f"{lake.url('export', 'snapshots')} are intact: restore the manifest from a backup, or delete it to publish "
        "afresh (the CustomerId history then restarts: every id is new)"
    )
    try:
        data = lake.read_json(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StageError(
            f"the published manifest {lake.url('export', EXPORT_MANIFEST)} is not valid JSON ({exc}); {recover}"
        ) from None
    try:
        manifest_from_json(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise StageError(
            f"the published manifest {lake.url('export', EXPORT_MANIFEST)} is not a CDM manifest (missing or malformed "
            f"{exc}); {recover}"
        ) from None
    return dict(data)


def manifest_snapshot(doc: dict[str, Any]) -> str | None:
    """The run id of the snapshot a manifest publishes (its partitions all live in one snapshot folder)."""
    _, entities = manifest_from_json(doc)
    for _, _, locations in entities:
        for loc in locations:
            parts = loc.split("/")
            if len(parts) > 2 and parts[0] == "snapshots":
                return parts[1]
    return None


def prune(lake: Lake, keep: int, protected: set[str]) -> list[str]:
    """Delete all but the newest ``keep`` complete snapshots, and every incomplete one, never a protected one.

    Runs only under the lake's run lock, so an incomplete snapshot is always the leftover of a dead run.
    """
    snaps = all_snapshots(lake)
    complete = [s for s in snaps if is_complete(lake, s)]
    kept = set(complete[-keep:]) | protected
    removed = []
    for snap in snaps:
        if snap in kept:
            continue
        # The marker goes first: a crash mid-delete leaves an incomplete snapshot, never a damaged complete one.
        lake.remove(marker(lake, snap))
        lake.remove(lake.snapshot(snap))
        removed.append(snap)
        failpoints.reached("publish.pruned_one")
    return removed


def history(lake: Lake) -> list[dict[str, Any]]:
    """Every snapshot folder, newest first: run id, whether it is complete, published now, and can be rolled back
    to, when it was completed and its row counts."""
    doc = read_manifest(lake)
    current = manifest_snapshot(doc) if doc is not None else None
    out = []
    for snap in reversed(all_snapshots(lake)):
        info: dict[str, Any] = {}
        if is_complete(lake, snap):
            info = lake.read_json(marker(lake, snap))
        out.append(
            {
                "snapshot": snap,
                "complete": bool(info),
                "current": snap == current,
                "completed_at": info.get("completed_at"),
                "rows": info.get("rows", {}),
                "can_roll_back": "manifest" in info,
            }
        )
    return out


def rollback_manifest(lake: Lake, snapshot: str) -> dict[str, Any]:
    """The manifest document that re-publishes ``snapshot``; StageError naming the snapshots one can roll back to
    when it is unknown, incomplete, already published or older than the rollback feature."""
    snaps = history(lake)
    usable = [s["snapshot"] for s in snaps if s["can_roll_back"] and not s["current"]]
    valid = f"snapshots to roll back to: {', '.join(usable)}" if usable else "no other snapshot to roll back to"
    found = next((s for s in snaps if s["snapshot"] == snapshot), None)
    if found is None:
        raise StageError(f"no snapshot {snapshot!r} under {lake.url('export', 'snapshots')}; {valid}")
    if not found["complete"]:
        raise StageError(f"snapshot {snapshot} is incomplete (a run died while writing it); {valid}")
    if found["current"]:
        raise StageError(f"snapshot {snapshot} is already the published one; {valid}")
    if not found["can_roll_back"]:
        raise StageError(f"snapshot {snapshot} was written before custdim kept manifests for rollback; {valid}")
    manifest: dict[str, Any] = lake.read_json(marker(lake, snapshot))["manifest"]
    return manifest


def published(lake: Lake, engine: Engine, names: tuple[str, ...]) -> dict[str, ir.Table]:
    """The entities among ``names`` in the published export (none before the first publish, or when an older export
    lacks them)."""
    doc = read_manifest(lake)  # a damaged manifest is a clear error: history would silently restart otherwise
    if doc is None:
        return {}
    found: dict[str, ir.Table] = {}
    for name, _, locations in manifest_from_json(doc)[1]:
        if name in names and locations:
            folder = lake.path("export", posixpath.dirname(locations[0]))
            if lake.has_table(folder):
                found[name] = engine.read(folder)
    return found
