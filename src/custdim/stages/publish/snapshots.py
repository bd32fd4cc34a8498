"""Export snapshots: written whole, marked complete, and only then published, kept or pruned.

A snapshot folder ``export/snapshots/<run_id>/`` counts only once its ``_complete.json`` marker exists; the marker
is written after every entity was copied and verified, and removed first when a snapshot is pruned, so a crash
at any instant leaves either a complete snapshot or an incomplete one that the next run deletes.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from custdim import failpoints
from custdim.contracts import EXPORT_MANIFEST, MODEL_JSON
from custdim.errors import StageError
from custdim.lake.cdm import manifest_from_json
from custdim.report import now_iso

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custdim.engines.base import Engine
    from custdim.lake import Lake

MARKER = "_complete.json"
STATE = "_state"


def marker(lake: Lake, run_id: str) -> str:
    return posixpath.join(lake.snapshot(run_id), MARKER)


def mark_complete(
    lake: Lake, run_id: str, rows: dict[str, int], manifest: dict[str, Any], legacy: dict[str, Any]
) -> None:
    """Declare a snapshot whole: every entity copied and verified (row counts as written). The marker also keeps
    the manifest and model.json documents that publish the snapshot, for a later rollback."""
    doc = {"run_id": run_id, "completed_at": now_iso(), "rows": rows, "manifest": manifest, "model_json": legacy}
    lake.write_json(marker(lake, run_id), doc)


def state_folder(lake: Lake, run_id: str, name: str) -> str:
    """Where a snapshot keeps an entity the next run reads back, when the export does not hold it as Parquet."""
    return posixpath.join(lake.snapshot(run_id), STATE, name)


def write_model_json(lake: Lake, legacy: dict[str, Any]) -> None:
    """Publish model.json (after the manifest: both name complete snapshots at every instant)."""
    lake.write_json(lake.path("export", MODEL_JSON), legacy)


def sync_model_json(lake: Lake, snapshot: str, legacy: dict[str, Any] | None) -> bool:
    """Make model.json name ``snapshot`` (the published one); without a kept document for it, remove model.json
    rather than leave one naming another snapshot. True when something changed."""
    if model_json_snapshot(lake) == snapshot:
        return False
    if legacy is not None:
        write_model_json(lake, legacy)
    elif lake.exists(lake.path("export", MODEL_JSON)):
        lake.remove(lake.path("export", MODEL_JSON))
    else:
        return False
    return True


def model_json_snapshot(lake: Lake) -> str | None:
    """The snapshot the published model.json names (None without one, or when it cannot be read)."""
    path = lake.path("export", MODEL_JSON)
    if not lake.exists(path):
        return None
    try:
        doc = lake.read_json(path)
        locations = [p["location"] for e in doc.get("entities", []) for p in e.get("partitions", [])]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        return None
    for loc in locations:
        parts = loc.split("/")  # .../export/snapshots/<run>/<Entity>/<file>
        if len(parts) >= 4 and parts[-4] == "snapshots":
            return str(parts[-3])
    return None


def legacy_document(lake: Lake, run_id: str) -> dict[str, Any] | None:
    """The model.json document a complete snapshot's marker keeps (None for snapshots from before model.json)."""
    if not is_complete(lake, run_id):
        return None
    doc: dict[str, Any] | None = lake.read_json(marker(lake, run_id)).get("model_json")
    return doc


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
        if name in names and locations and locations[0].endswith(".parquet"):
            folder = lake.path("export", posixpath.dirname(locations[0]))
            if lake.has_table(folder):
                found[name] = engine.read(folder)
    snapshot = manifest_snapshot(doc)
    for name in names:
        if name not in found and snapshot is not None:
            folder = state_folder(lake, snapshot, name)
            if lake.has_table(folder):
                found[name] = engine.read(folder)
    return found
