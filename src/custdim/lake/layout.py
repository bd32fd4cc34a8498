"""Lake zones and table paths, all through fsspec: ``az://``, ``abfs://`` and ``s3://`` lakes need no stage change.

Zones:
    raw/      landed source tables (one Parquet folder per table) + raw.manifest.cdm.json, and raw/_rejects/
    work/     intermediate tables of a run (internal; overwritten by the next run)
    export/   published CDM folder: snapshots/<run_id>/... plus export.manifest.cdm.json pointing at one of them
    _runs/    one JSON report per run
    _ldw/     the logical data warehouse catalog (views over export/)
"""

from __future__ import annotations

import json
import posixpath
import uuid
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from custdim.contracts import EXPORT_MANIFEST

ZONES = ("raw", "work", "export", "_runs", "_ldw")


@dataclass
class Lake:
    """A lake root (local folder or fsspec URL) and the one place that knows its layout."""

    root: str
    fs: fsspec.AbstractFileSystem = field(init=False)
    base: str = field(init=False)

    def __post_init__(self) -> None:
        self.fs, self.base = fsspec.core.url_to_fs(self.root)
        self.base = self.base.rstrip("/")

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, *parts: str) -> str:
        """Filesystem path of a location in the lake (what fsspec and engines accept)."""
        return posixpath.join(self.base, *parts)

    def url(self, *parts: str) -> str:
        """Path as an engine reads it: plain for local lakes, with the protocol otherwise."""
        p = self.path(*parts)
        if self.is_local:
            return p
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return f"{protocol}://{p}"

    # Zone helpers keep the naming rules in one place.
    def raw_table(self, source: str, table: str) -> str:
        return self.path("raw", source, table)

    def rejects_table(self, source: str, table: str) -> str:
        return self.path("raw", "_rejects", source, table)

    def work_table(self, *name: str) -> str:
        return self.path("work", *name)

    def entity(self, name: str) -> str:
        """A finished output entity (Customer, AlternateKey, ...) before it is published."""
        return self.path("work", "entities", name)

    def export_manifest(self) -> str:
        """The published manifest: the one file whose atomic replacement publishes a snapshot."""
        return self.path("export", EXPORT_MANIFEST)

    def snapshot(self, run_id: str = "") -> str:
        """A run's export snapshot folder (or, without a run id, the folder holding them all)."""
        return self.path("export", "snapshots", run_id) if run_id else self.path("export", "snapshots")

    def catalog(self) -> str:
        """The logical data warehouse's catalog file (views over the published snapshot)."""
        return self.path("_ldw", "catalog.duckdb")

    def state(self, stage: str) -> str:
        """The commit record of a stage's outputs in work/ (which run produced them, from which inputs)."""
        return self.path("work", "_state", f"{stage}.json")

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def has_table(self, path: str) -> bool:
        return self.exists(path) and any(p.endswith(".parquet") for p in self.fs.ls(path, detail=False))

    def parquet_files(self, path: str) -> list[str]:
        """The data files of a table folder, skipping engine side files (_SUCCESS, .crc)."""
        files = [p for p in self.fs.ls(path, detail=False) if p.endswith(".parquet")]
        return sorted(f for f in files if not posixpath.basename(f).startswith((".", "_")))

    def makedirs(self, path: str) -> None:
        self.fs.makedirs(path, exist_ok=True)

    def remove(self, path: str) -> None:
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def write_json(self, path: str, data: Any) -> None:
        """Write JSON so that readers see the old or the new file, never half of one."""
        text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
        self.write_text_atomic(path, text)

    def write_text_atomic(self, path: str, text: str) -> None:
        self.makedirs(posixpath.dirname(path))
        if self.is_local:
            # A rename within one folder is atomic on POSIX; object stores replace a blob in one PUT.
            tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
            with self.fs.open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
            self.fs.mv(tmp, path)
        else:
            with self.fs.open(path, "w", encoding="utf-8") as fh:
                fh.write(text)

    def read_json(self, path: str) -> Any:
        with self.fs.open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
