"""Change folders (Customer Insights' incremental folder contract) and what a run must read of them.

A change folder holds ``FullData/`` and ``IncrementalData/yyyy/mm/dd/hh/{Upserts,Deletes}/``. After a run has
landed a folder, a record in the lake (``work/_state/changes/<source>.<table>.json``) lists the full data and every
hour it applied, each with a fingerprint of its files (names, sizes, modification times). The next run reads only
the hours it has not applied, on top of the landed table, as long as nothing it applied has changed since; any
change to the full data or to an applied hour (a re-delivered export, a deleted folder) makes it read the whole
folder again, so the result is always the one a full read would give.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fsspec

from custdim.errors import SourceError

if TYPE_CHECKING:
    from custdim.lake import Lake

CHANGE = "_change"  # full | upsert | delete
BATCH = "_batch"  # yyyy/mm/dd/hh of an incremental folder; '' for FullData
STATE_VERSION = 1
_HOUR = re.compile(r"^IncrementalData/(\d{4})/(\d{2})/(\d{2})/(\d{2})/(Upserts|Deletes)/")


@dataclass(frozen=True)
class Group:
    """Files that apply together: the full data, or one hour's upserts, or one hour's deletes."""

    change: str  # full | upsert | delete
    batch: str  # '' for the full data
    files: tuple[str, ...]
    fingerprint: str

    @property
    def name(self) -> str:
        return "FullData" if self.change == "full" else f"{self.batch}/{self.change}"


def change_groups(url: str) -> tuple[fsspec.AbstractFileSystem, list[Group]]:
    """The groups of a change folder in the order they apply: FullData, then each hour's upserts, then its
    deletes (a delete modified at the same time as an upsert wins the tie), oldest hour first."""
    src, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    if not src.isdir(f"{root}/FullData"):
        raise SourceError(
            f"{url}: no FullData/ folder (an incremental table's folder holds FullData/ and IncrementalData/)"
        )
    groups = [_group(src, "full", "", _data_files(src, f"{root}/FullData"))]
    hours: dict[tuple[str, str], list[str]] = {}
    if src.isdir(f"{root}/IncrementalData"):
        for f in _data_files(src, f"{root}/IncrementalData"):
            relative = f[len(root) + 1 :]
            m = _HOUR.match(relative)
            if m is None:
                raise SourceError(f"{url}: {relative} is not in IncrementalData/yyyy/mm/dd/hh/Upserts/ or .../Deletes/")
            batch = "/".join(m.group(1, 2, 3, 4))
            hours.setdefault((batch, "upsert" if m.group(5) == "Upserts" else "delete"), []).append(f)
    for (batch, change), files in sorted(hours.items(), key=lambda item: (item[0][0], item[0][1] == "delete")):
        groups.append(_group(src, change, batch, sorted(files)))
    return src, groups


def _data_files(src: fsspec.AbstractFileSystem, folder: str) -> list[str]:
    # Hidden and underscore files (_SUCCESS, .crc) are markers of the writing tool, not data.
    return sorted(
        f for f in src.find(folder) if not any(part.startswith((".", "_")) for part in f[len(folder) :].split("/"))
    )


def _group(src: fsspec.AbstractFileSystem, change: str, batch: str, files: list[str]) -> Group:
    facts = []
    for f in files:
        info = src.info(f)
        facts.append([f, info.get("size"), str(info.get("mtime") or info.get("LastModified") or info.get("etag"))])
    digest = hashlib.sha256(json.dumps(facts, default=str).encode("utf-8")).hexdigest()
    return Group(change, batch, tuple(files), digest)


def state_path(lake: Lake, source: str, table: str) -> str:
    """Where the record of what a run applied of a change folder is kept."""
    return lake.path("work", "_state", "changes", f"{source}.{table}.json")


@dataclass(frozen=True)
class Plan:
    """What this run reads of a change folder."""

    groups: list[Group]  # the groups to read
    incremental: bool  # True: on top of the landed table; False: the whole folder
    reason: str  # why, for the run report
    all_groups: list[Group]  # every group of the folder: applied once this run has landed the table


def plan(lake: Lake, source: str, table: str, groups: list[Group], landed: bool, settings: str) -> Plan:
    """Read only the groups no earlier run applied, when every group it applied is unchanged, the table's settings
    in the project file (``settings``, a digest) are the same and the landed table is there; otherwise the whole
    folder."""
    path = state_path(lake, source, table)
    record: dict[str, Any] | None = None
    if lake.exists(path):
        try:
            record = lake.read_json(path)
        except ValueError:
            record = None
    if record is None or record.get("version") != STATE_VERSION or not landed:
        why = "first run on this folder" if record is None else "no usable record of the last run"
        return Plan(groups, False, why, groups)
    if record.get("settings") != settings:
        return Plan(groups, False, "the table's settings in the project file changed", groups)
    applied: dict[str, str] = record.get("applied", {})
    current = {g.name: g.fingerprint for g in groups}
    changed = sorted(name for name, fp in applied.items() if current.get(name) != fp)
    if changed:
        return Plan(groups, False, f"already applied data changed or disappeared: {', '.join(changed[:5])}", groups)
    new = [g for g in groups if g.name not in applied]
    # An hour older than one already applied is fine: latest modification wins whatever the order of arrival.
    return Plan(new, True, f"{len(new)} new group(s) on top of {len(applied)} applied", groups)


def record(lake: Lake, source: str, table: str, groups: list[Group], run_id: str, settings: str) -> None:
    """Remember every group of the folder as applied by ``run_id`` (after its table has been landed)."""
    applied = {g.name: g.fingerprint for g in groups}
    doc = {"version": STATE_VERSION, "run_id": run_id, "settings": settings, "applied": applied}
    lake.write_json(state_path(lake, source, table), doc)


def settings_digest(spec: object) -> str:
    """A digest of a table's settings: declared types, key or format that differ make earlier work unusable."""
    dump = spec.model_dump(mode="json") if hasattr(spec, "model_dump") else spec
    return hashlib.sha256(json.dumps(dump, sort_keys=True).encode("utf-8")).hexdigest()


def cursor_plan(lake: Lake, source: str, table: str, landed: bool, settings: str) -> Plan:
    """A database table with a cursor: only changed rows when an earlier run landed it with these settings."""
    path = state_path(lake, source, table)
    try:
        record = lake.read_json(path) if lake.exists(path) else None
    except ValueError:
        record = None
    if record is None or not landed:
        return Plan([], False, "first run on this table", [])
    if record.get("version") != STATE_VERSION or record.get("settings") != settings:
        return Plan([], False, "the table's settings in the project file changed", [])
    return Plan([], True, "rows changed since the last run", [])
