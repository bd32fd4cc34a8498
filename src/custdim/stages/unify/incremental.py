"""Incremental matching: compare only the records that are new or changed since the last run with all others.

A nightly run sees a small share of its records change. The match stage keeps what it compared, found and counted
(``work/unify/match_base``); the next run tells, per record identity (source, table, key), which records are new,
changed (any comparison column or the table rank differs, nulls compared as values) or gone, and then:

- forms and scores only the pairs that hold a new or changed record (the focus of :func:`pairs.run_step`),
  against every record, with block sizes and value frequencies counted over all records as in a full run;
- keeps the last run's pairs and near misses between two unchanged records, renumbered to this run's ``_rid``;
- in ordered match mode (a later rule sees only the records no earlier rule matched) also recomputes every left
  record that a changed record is a candidate for, or whose earlier pair or near miss lost its partner: its first
  accepting rule may have changed.

- forms afresh, too, the pairs of unchanged records in a block that crossed its size limit since the last run, or
  holding a value that became or stopped being too common (``max_frequency``): pairs formed there changed even
  between unchanged records.

The result is the full run's, row for row (tested). Every step runs in full when the last run's base is missing or
was made under other settings (unify section, alias and bypass files, match model, engine, custdim version).
``custdim run --full`` always matches everything.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

import custdim
from custdim.contracts import MATCH_BASE
from custdim.engines.base import Engine
from custdim.lake import Lake
from custdim.stages.context import RunContext
from custdim.stages.unify.pairs import Counted, Focus, StepResult

BASE_VERSION = 1
IDENTITY = ("_source", "_table", "_key")
SIZES = pa.schema(
    [("level", pa.int8()), ("pass_", pa.int32()), ("key", pa.string()), ("n", pa.int64()), ("_step", pa.string())]
)
FREQUENT = pa.schema([("column", pa.string()), ("rank", pa.int32()), ("value", pa.string()), ("_step", pa.string())])
ROW_COLUMNS = ("left_rid", "right_rid", "rule", "rule_index", "stage", "score", "scores", "block", "strength")


def settings_digest(ctx: RunContext) -> str:
    """What decides the pairs besides the records: a base made under another digest is not reused."""
    unify = ctx.config.unify
    files: dict[str, str] = {}
    for rule in unify.all_rules():
        for c in rule.all_conditions():
            for spec in (c.aliases, c.bypass if isinstance(c.bypass, str) else None):
                if spec:
                    path = Path(ctx.config.resolve(spec))
                    files[spec] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
    model = None
    if any(r.min_match_weight is not None for r in unify.all_rules()):
        from custdim.stages.unify.model import load

        loaded = load(ctx.lake)
        model = loaded.to_json() if loaded is not None else None
    settings = {
        "unify": unify.model_dump(mode="json"),
        "files": files,
        "model": model,
        "engine": ctx.engine.name,
        "custdim": custdim.__version__,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _path(lake: Lake, *name: str) -> str:
    return lake.work_table(*MATCH_BASE, *name)


def _meta_path(lake: Lake) -> str:
    return posixpath.join(lake.work_table(*MATCH_BASE), "base.json")


@dataclass
class Delta:
    """How this run's records differ from the base's, as ``rid`` tables in this run's numbering (``remap``:
    ``_old`` -> ``_rid`` of every unchanged record)."""

    changed: ir.Table
    remap: ir.Table
    base_rows: ir.Table
    base_sizes: ir.Table
    base_frequent: ir.Table
    counts: dict[str, int]

    def focus_of(self, engine: Engine, kind: str, ordered: bool) -> Callable[[Counted], Focus]:
        """The focus of step ``kind``, from what it counted over all records."""

        def focus(counted: Counted) -> Focus:
            moved, details = self._moved(engine, kind, counted)
            if kind != "match" or not ordered:
                return Focus(moved, None, details)
            rows = self.base_rows.filter(self.base_rows.stage == "match")
            right = self.remap.rename(_rold="_old", _rnew="_rid")
            j = rows.left_join(right, rows.right_rid == right._rold)
            # The partner is gone or changed (not renumbered), or unchanged but its pairs are formed afresh.
            lost = j.filter(j._rnew.isnull()).union(j.semi_join(moved, j._rnew == moved.rid))
            left = self.remap.rename(_lold="_old", rid="_rid")
            stale = lost.join(left, lost.left_rid == left._lold)
            return Focus(moved, stale.select("rid"), details)

        return focus

    def _moved(self, engine: Engine, kind: str, counted: Counted) -> tuple[ir.Table, dict[str, int]]:
        """The records whose pairs this step forms afresh: the new and changed ones, and the unchanged ones in a
        block that crossed its size limit or holding a value that became or stopped being too common since the
        last run (the pairs formed there differ from the last run's even between unchanged records)."""
        base = self.base_sizes.filter(self.base_sizes._step == kind)
        old = base.select(o_level=base.level, o_pass=base.pass_, o_key=base.key, o_n=base.n)
        new = counted.sizes
        j = old.outer_join(new, [old.o_level == new.level, old.o_pass == new.pass_, old.o_key == new.key])
        # A block missing on one side held fewer than two records there: under any limit.
        n_old, n_new = j.o_n.fill_null(1), j.n.fill_null(1)
        lim = counted.limit(ibis.coalesce(j.o_pass, j.pass_))
        flipped = j.filter((n_old > lim) != (n_new > lim))
        crossed = engine.materialize(
            f"match/{kind}/crossed",
            flipped.select(level=ibis.coalesce(j.o_level, j.level), pass_=ibis.coalesce(j.o_pass, j.pass_),
                           key=ibis.coalesce(j.o_key, j.key)),
        )  # fmt: skip
        parts = [self.changed.select("rid")]
        for level, rows in ((0, counted.rows), (1, counted.refine_rows)):
            if rows is not None:
                blocks = crossed.filter(crossed.level == level)
                parts.append(rows.semi_join(blocks, ["pass_", "key"]).select("rid"))
        details = {"crossed_blocks": engine.count(crossed)}
        if counted.flags is not None:
            f = counted.flags
            was = self.base_frequent.filter(self.base_frequent._step == kind).select(
                "column", "rank", "value", _was=ibis.literal(True)
            )
            k = f.left_join(was, ["column", "rank", "value"])
            flips = k.filter(k.common != k._was.fill_null(False))
            parts.append(flips.select(rid=flips.rid))
            both = f.select("column", "rank", "value")
            gone = was.anti_join(both, ["column", "rank", "value"]).select("column", "rank", "value")
            # A value that was too common and is now held by no record at all: nobody to recompute.
            details["frequency_flips"] = engine.count(flips.select("column", "rank", "value").distinct())
            details["frequency_flips"] += engine.count(gone)
        moved = engine.materialize(f"match/{kind}/moved", ibis.union(*parts, distinct=True))
        details["moved_records"] = engine.count(moved)
        return moved, details

    def kept(self, kind: str, result: StepResult) -> ir.Table:
        """The base's pairs and near misses of step ``kind`` that this run did not form afresh, in its numbering."""
        assert result.recomputed is not None and result.focus is not None
        recomputed, moved = result.recomputed, result.focus.changed
        rows = self.base_rows.filter(self.base_rows.stage == kind)
        left = self.remap.rename(_lnew="_rid", _lold="_old")
        right = self.remap.rename(_rnew="_rid", _rold="_old")
        j = rows.join(left, rows.left_rid == left._lold).join(right, rows.right_rid == right._rold)
        # Both ends unchanged (the joins), the left end's pairs not recomputed (an ordered match recomputes some
        # unchanged left records) and the right end's not formed afresh.
        j = j.anti_join(recomputed, [j._lnew == recomputed.rid])
        j = j.anti_join(moved, [j._rnew == moved.rid])
        # Renumbering keeps the order of unchanged records (rank, then key), so a dedupe pair stays left > right.
        return j.select(left_rid=j._lnew, right_rid=j._rnew, **{c: j[c] for c in (*ROW_COLUMNS[2:], "_kind")})


def load(ctx: RunContext, norm: ir.Table, records: ir.Table) -> tuple[Delta | None, str]:
    """This run's delta against the base, or None and why every step runs in full."""
    engine, lake = ctx.engine, ctx.lake
    if ctx.full:
        return None, "a full run was asked for (--full)"
    meta_path = _meta_path(lake)
    if not lake.exists(meta_path):
        return None, "no earlier match to build on"
    try:
        meta = lake.read_json(meta_path)
    except (OSError, ValueError):
        return None, "the last match's base is unreadable"
    if meta.get("version") != BASE_VERSION:
        return None, "the last match's base was written by another custdim version"
    if meta.get("digest") != settings_digest(ctx):
        return None, "the matching settings changed since the last run"
    base = engine.read(_path(lake, "records"))
    columns = [c for c in norm.columns if c != "_rid"]
    if set(meta.get("columns", [])) != set(columns):
        return None, "the comparison columns changed since the last run"
    new = norm.join(records.select("_rid", *IDENTITY), "_rid")
    old = base.rename(_old="_rid", **{f"_o{c}": c for c in columns})
    j = new.left_join(old, [new[c] == old[c] for c in IDENTITY])
    same = j._old.notnull()
    for c in columns:
        same = same & j[c].identical_to(j[f"_o{c}"])
    flagged = engine.materialize("match/delta", j.select("_rid", "_old", _same=same))
    changed = engine.materialize("match/changed", flagged.filter(~flagged._same).select(rid=flagged._rid))
    remap = engine.materialize("match/remap", flagged.filter(flagged._same).select("_old", "_rid"))
    n_changed, n_same = engine.count(changed), engine.count(remap)
    n_records, n_base = n_changed + n_same, engine.count(base)  # every record is changed or renumbered
    counts = {
        "records": n_records,
        "unchanged": n_same,
        "new_or_changed": n_changed,
        "gone_or_changed": n_base - n_same,  # the base's records not kept: deleted ones and old versions
    }
    delta = Delta(
        changed,
        remap,
        engine.read(_path(lake, "rows")),
        engine.read(_path(lake, "sizes")),
        engine.read(_path(lake, "frequent")),
        counts,
    )
    return delta, f"{n_changed} of {n_records} records are new or changed"


def save(ctx: RunContext, norm: ir.Table, records: ir.Table, rows: ir.Table, results: dict[str, StepResult]) -> None:
    """Keep what this run compared, found and counted for the next run. The metadata file goes last and first:
    a base whose writing was cut short has none, and is not used."""
    engine, lake = ctx.engine, ctx.lake
    lake.remove(_meta_path(lake))
    base = norm.join(records.select("_rid", *IDENTITY), "_rid")
    engine.write(base, _path(lake, "records"))
    engine.write(rows, _path(lake, "rows"))
    sizes = [r.sizes.mutate(_step=ibis.literal(k)) for k, r in results.items() if r.sizes is not None]
    engine.write(_union(sizes) if sizes else engine.from_arrow(SIZES.empty_table()), _path(lake, "sizes"))
    frequent = [r.frequent.mutate(_step=ibis.literal(k)) for k, r in results.items() if r.frequent is not None]
    engine.write(_union(frequent) if frequent else engine.from_arrow(FREQUENT.empty_table()), _path(lake, "frequent"))
    meta: dict[str, Any] = {
        "version": BASE_VERSION,
        "digest": settings_digest(ctx),
        "run_id": ctx.run_id,
        "columns": [c for c in norm.columns if c != "_rid"],
    }
    lake.write_json(_meta_path(lake), meta)


def _union(parts: list[ir.Table]) -> ir.Table:
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
