"""Pipeline stages, in run order. Each stage builds Ibis expressions and lets the engine materialize them."""

# Kept here, free of heavy imports, so the CLI can list stages without loading any engine.
STAGE_NAMES = (
    "ingest",
    "map",
    "match",
    "cluster",
    "merge",
    "activities",
    "measures",
    "predictions",
    "segments",
    "publish",
)
