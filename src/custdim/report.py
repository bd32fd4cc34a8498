"""Run reports: what each stage read, wrote, rejected and how long it took; one JSON file per run."""

from __future__ import annotations

import resource
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

REPORT_VERSION = 1


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(usage / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class StageReport:
    name: str
    started_at: str = field(default_factory=now_iso)
    seconds: float = 0.0
    status: str = "running"
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


@dataclass
class RunReport:
    run_id: str
    project: str
    engine: str
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    status: str = "running"
    error: str | None = None
    stages: list[StageReport] = field(default_factory=list)
    # What the run did besides its stages: a stale lock taken over, leftovers of killed runs cleaned up.
    notes: list[str] = field(default_factory=list)
    # The stages the run set out to run, in order (a run that stops early lists more than it ran).
    planned: list[str] = field(default_factory=list)
    # `custdim run --resume`: the failed or killed run whose remaining stages this run ran.
    resumes: str | None = None
    # SHA-256 of the project file the run read: a resumed run must read the same one.
    project_sha256: str | None = None
    version: int = REPORT_VERSION

    def stage(self, name: str) -> StageReport | None:
        return next((s for s in self.stages if s.name == name), None)

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds for s in self.stages), 3)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = self.seconds
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunReport:
        stages = [StageReport(**s) for s in data.get("stages", [])]
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "stages"}
        return cls(**fields, stages=stages)
