"""``export:`` — how the published CDM folder is kept."""

from __future__ import annotations

from pydantic import Field

from custdim.config.base import Model

KEEP_SNAPSHOTS = 3


class Export(Model):
    keep_snapshots: int = Field(
        default=KEEP_SNAPSHOTS,
        ge=1,
        le=100,
        description="Complete snapshots kept after a publish (the published one always among them); older ones are "
        "deleted. Each kept snapshot is one `custdim export rollback` away.",
    )
