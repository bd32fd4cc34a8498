"""``export:`` — what the published CDM folder holds, in which file format, and how it is kept."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from custdim.config.base import Model

KEEP_SNAPSHOTS = 3
SECRET_ENV = "CUSTDIM_PSEUDONYM_KEY"  # noqa: S105 - the name of a variable, not a key
"""The environment variable that holds the pseudonymization key unless ``export.secret_env`` names another."""

ExportFormat = Literal["parquet", "csv", "delta"]


class Export(Model):
    format: ExportFormat = Field(
        default="parquet",
        description="File format of the exported entities: parquet (CDM folder), csv (CDM folder, header row, "
        "RFC 4180 quoting, lists as JSON text) or delta (one Delta table per entity, reader version 1; its data "
        "files are also the CDM folder's partitions).",
    )
    entities: list[str] | None = Field(
        default=None,
        description="The entities to export (default: all). Customer is always among them: every other entity "
        "relates to it. The SQL views cover the exported entities only.",
    )
    pseudonymize: list[str] = Field(
        default_factory=list,
        description="Customer fields replaced by a keyed hash (HMAC-SHA256, hex) in the export only; lists collected "
        "from a listed field are hashed element by element, and MatchPairs.BlockingKey is hashed as well.",
    )
    secret_env: str = Field(
        default=SECRET_ENV,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the pseudonymization key (at least 16 characters).",
    )
    secret_file: str | None = Field(
        default=None,
        description="A file holding the pseudonymization key (relative to the project file); used when the "
        "environment variable is not set. Never put the key itself in the project file.",
    )
    keep_snapshots: int = Field(
        default=KEEP_SNAPSHOTS,
        ge=1,
        le=100,
        description="Complete snapshots kept after a publish (the published one always among them); older ones are "
        "deleted. Each kept snapshot is one `custdim export rollback` away.",
    )
