"""The name of every table a stage hands to the next stage or to the export, and of the manifests listing them.

Why one module: the stage that writes a table and the stages that read it must agree on its name, and the export's
entity list is a promise to everything downstream (the SQL views, ``custdim unify explain``, the next run's stable
CustomerIds, which are read back from the previous export). Naming each table once, here, turns a rename into one
edit and makes every hand-over easy to find. Stages import these names; none defines its own.

This module imports nothing from custdim, so every module (the lake layout included) can import it without a cycle.
Only names live here: the schema of a hand-over table stays with the code that builds it.

Work tables are path parts under ``work/`` (``Lake.work_table(*name)``): internal, overwritten by the next run.
Entities are the finished outputs: unify and activities write them to ``work/entities/<Name>`` (``Lake.entity``),
and publish copies them, under the same names, into the CDM folder that ``export.manifest.cdm.json`` describes.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------------------------
# Work tables handed from one stage to another.

RECORDS = ("unify", "records")
"""map -> match, cluster, merge: one row per source record, its semantic fields and ``_rid`` in importance order."""

NORMALIZED = ("unify", "normalized")
"""map -> match: ``_rid``, ``_rank`` and every comparison column the rules compute (``n__<field>__<normalizers>``),
computed once for the value profile and the matching alike."""

PAIRS = ("unify", "pairs")
"""match -> cluster, merge: the matched record pairs (``left_rid``, ``right_rid``, rule, scores, stage)."""

NEAR_MISSES = ("unify", "near_misses")
"""match -> the user: pairs some rule nearly accepted (pairs contract), to see what a looser rule would add."""

MATCH_BASE = ("unify", "match_base")
"""match -> the next run's match: what this run compared (every record's identity and comparison columns), found
(pairs and near misses) and counted (block sizes, too-common values), so the next run compares only what changed."""

CLUSTERS = ("unify", "clusters")
"""cluster -> merge: every record's profile (``_cluster``), dedupe group and winner flag, and ``_priority``."""

ACTIVITY_REJECTS = ("activities", "rejects")
"""activities -> the user: activity rows that could not be linked, with ``_reason`` and the original ``_record``."""

# ---------------------------------------------------------------------------------------------------------------
# Scratch tables: written and read back within one stage. Named here as well so that no two stages ever write the
# same folder of work/.

INGEST_STAGING = ("ingest",)
"""ingest: a landed source table before its checks, under ``<source>/<table>``."""

MODEL_COLUMNS = ("unify", "model_columns")
"""``custdim unify train``: the comparison columns the match model is fitted on."""

NEVER_PAIRS = ("unify", "never")
"""cluster: the never_match pairs, as record ids."""

DEDUPE_GROUPS = ("unify", "dedupe_groups")
"""cluster: connected components of the dedupe pairs."""

COMPONENTS = ("unify", "components")
"""cluster: connected components of all pairs."""

COMPONENT_ROUNDS = ("unify", "cc")
"""cluster: one edge table per round (``round_<n>``) of the join-only connected components."""

MEMBERS = ("unify", "members")
"""merge: records joined to their profiles."""

IDS = ("unify", "ids")
"""merge: the CustomerId of every profile."""

MERGED = ("unify", "merged")
"""merge: one row per profile with every field chosen by its policy."""

ACTIVITIES_STAGED = ("activities", "staged")
"""activities: every activity row, linked or not, before good rows and rejects are split."""

# ---------------------------------------------------------------------------------------------------------------
# Entities: the finished outputs, and the CDM entity names of the export.

CUSTOMER = "Customer"
ALTERNATE_KEY = "AlternateKey"
MATCH_PAIRS = "MatchPairs"
UNIFIED_ACTIVITY = "UnifiedActivity"
CUSTOMER_PROVENANCE = "CustomerProvenance"
ID_CHANGE_LOG = "IdChangeLog"

CUSTOMER_MEASURE = "CustomerMeasure"
BUSINESS_MEASURE = "BusinessMeasure"
SEGMENT_MEMBERSHIP = "SegmentMembership"
SEGMENT_HISTORY = "SegmentHistory"
CLV_PREDICTION = "ClvPrediction"
CHURN_PREDICTION = "ChurnPrediction"
BRAND_AFFINITY = "BrandAffinity"
INTEREST_AFFINITY = "InterestAffinity"
PRODUCT_RECOMMENDATION = "ProductRecommendation"

UNIFY_ENTITIES = (CUSTOMER, ALTERNATE_KEY, MATCH_PAIRS, CUSTOMER_PROVENANCE, ID_CHANGE_LOG)
"""The entities the unify stages write (the merge stage's outputs)."""

ACTIVITY_ENTITIES = (UNIFIED_ACTIVITY,)
"""The entities the activities stage writes."""

INSIGHT_ENTITIES = (CUSTOMER_MEASURE, BUSINESS_MEASURE, SEGMENT_MEMBERSHIP, SEGMENT_HISTORY)
"""The entities the measures stage (the first two) and the segments stage (the last two) write."""

PREDICTION_ENTITIES = (CLV_PREDICTION, CHURN_PREDICTION, BRAND_AFFINITY, INTEREST_AFFINITY, PRODUCT_RECOMMENDATION)
"""The entities the predictions stage writes (empty tables for models the project does not switch on)."""

EXPORT_ENTITIES = (
    CUSTOMER,
    ALTERNATE_KEY,
    MATCH_PAIRS,
    UNIFIED_ACTIVITY,
    CUSTOMER_PROVENANCE,
    ID_CHANGE_LOG,
    *INSIGHT_ENTITIES,
    *PREDICTION_ENTITIES,
)
"""The entities publish exports, in manifest order: everything unify, activities, measures, segments and predictions
write."""

SEGMENT_HISTORY_ENTITIES = (SEGMENT_MEMBERSHIP, SEGMENT_HISTORY)
"""The published entities the next run's segments stage reads back to count members added and removed."""

EXPLAIN_ENTITIES = (CUSTOMER, ALTERNATE_KEY, MATCH_PAIRS, CUSTOMER_PROVENANCE)
"""The published entities ``custdim unify explain`` reads."""

ID_HISTORY_ENTITIES = (ALTERNATE_KEY, ID_CHANGE_LOG)
"""The published entities the next run's merge reads back to keep CustomerIds stable."""
STATE_ENTITIES = (*ID_HISTORY_ENTITIES, *SEGMENT_HISTORY_ENTITIES)
"""Entities every snapshot keeps as Parquet (in its _state folder unless exported as Parquet) for the next run."""

# ---------------------------------------------------------------------------------------------------------------
# Manifests.

EXPORT_MANIFEST = "export.manifest.cdm.json"
"""The published manifest under ``export/``: its atomic replacement is what publishes a snapshot."""
MODEL_JSON = "model.json"
"""The same export in the legacy model.json format, beside the manifest."""

RAW_MANIFEST = "raw.manifest.cdm.json"
"""The manifest of the landed source tables under ``raw/``, written by ingest."""
