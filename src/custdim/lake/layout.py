"""Lake zones and table paths, all through fsspec: ``az://``, ``abfs://`` and ``s3://`` lakes need no stage change.

Zones:
    raw/      landed source tables (one Parquet folder per table) + raw.manifest.cdm.json, and raw/_rejects/
    work/     intermediate tables of a run (internal; overwritten by the next run)
    export/   published CDM folder: snapshots/<run_id>/... plus export.manifest.cdm.json pointing at one of them
    _runs/    one JSON report per run
    _ldw/     the logical data warehouse catalog (views over export/)
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from custdim.contracts import EXPORT_MANIFEST

ZONES = ("raw", "work", "export", "_runs", "_ldw")
CACHE_ENV = "CUSTDIM_CACHE_DIR"


def cache_dir() -> Path:
    """custdim's local cache folder: $CUSTDIM_CACHE_DIR, else $XDG_CACHE_HOME/custdim, else ~/.cache/custdim."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "custdim"


@dataclass
class Lake:
    """A lake root (local folder or fsspec URL) and the one place that knows its layout."""

    root: str
    fs: fsspec.AbstractFileSystem = field(init=False)
    base: str = field(init=False)

    def __post_init__(self) -> None:
        options: dict[str, Any] = {}
        if "://" in self.root and not self.root.startswith(("file://", "local://")):
            # Other processes (a second run, a reader) change the lake: a cached folder listing would hide their
            # files from the lock, recovery and pruning.
            options["use_listings_cache"] = False
        self.fs, self.base = fsspec.core.url_to_fs(self.root, **options)
        self.base = self.base.rstrip("/")

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, *parts: str) -> str:
        """Filesystem path of a location in the lake (what fsspec and engines accept).

        A first part that already is a lake path is kept as it is (as an absolute path is on a local lake): object
        store paths have no leading slash, so joining would repeat the bucket and prefix.
        """
        if parts and (parts[0] == self.base or parts[0].startswith(self.base + "/")):
            return posixpath.join(*parts)
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
        """The logical data warehouse's catalog file (views over the published snapshot), always a local file.

        A DuckDB database file cannot be opened on an object store, so a cloud lake's catalog lives in a local cache
        folder keyed by the lake's URL. It is derived from the published manifest and rebuilt whenever it does not
        match it, so every machine reading the lake keeps its own copy and none can go stale.
        """
        if self.is_local:
            return self.path("_ldw", "catalog.duckdb")
        lake_url = self.url()
        slug = re.sub(r"[^A-Za-z0-9]+", "-", lake_url).strip("-")[:60]
        key = hashlib.sha256(lake_url.encode()).hexdigest()[:16]
        return str(cache_dir() / "catalogs" / f"{slug}-{key}" / "catalog.duckdb")

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
        # One request: a file object on an object store asks for the blob's size, then downloads it, so a blob
        # replaced or deleted in between came back cut short or as the SDK's own error.
        return json.loads(self.fs.cat_file(path).decode("utf-8"))
