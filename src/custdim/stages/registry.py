"""The stages in run order."""

from __future__ import annotations

from custdim.stages import STAGE_NAMES
from custdim.stages.activities.stage import STAGE as ACTIVITIES
from custdim.stages.context import StageSpec
from custdim.stages.ingest.stage import STAGE as INGEST
from custdim.stages.insights.measures import STAGE as MEASURES
from custdim.stages.insights.segments import STAGE as SEGMENTS
from custdim.stages.predictions.stage import STAGE as PREDICTIONS
from custdim.stages.publish.stage import STAGE as PUBLISH
from custdim.stages.unify.cluster import STAGE as CLUSTER
from custdim.stages.unify.map import STAGE as MAP
from custdim.stages.unify.match import STAGE as MATCH
from custdim.stages.unify.merge import STAGE as MERGE

STAGES: tuple[StageSpec, ...] = (
    INGEST,
    MAP,
    MATCH,
    CLUSTER,
    MERGE,
    ACTIVITIES,
    MEASURES,
    PREDICTIONS,
    SEGMENTS,
    PUBLISH,
)
assert tuple(s.name for s in STAGES) == STAGE_NAMES, "stages/__init__.py lists the stages in run order"


def stage(name: str) -> StageSpec:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)
