"""Value profiles of the mapped records: what each field looks like per table, before anyone trusts match rates.

Per unify table and field: rows, missing values, junk, distinct values, the most common values and value shapes,
and what each normalizer list the rules apply to the field changed or rejected. It costs four engine queries
whatever the number of fields and tables (records per table; per-field counts; top values and shapes; normalizer
counts). The field queries start from the (table, field, value) counts, so junk checks and shapes run once per
distinct value rather than once per record; the normalizer counts read the comparison columns the map stage
computes for the match stage anyway, so no normalizer runs twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from custdim.semantic.junk import is_junk
from custdim.semantic.types import KNOWN_TYPES
from custdim.stages.unify.conditions import compile_all, normalized_table
from custdim.stages.unify.normalize import JUNK, Step, apply_steps, blank_to_null, ordered

if TYPE_CHECKING:
    from custdim.config import ProjectConfig
    from custdim.engines.base import Engine

TOP = 5
# Types whose values have one expected format: several common shapes mean a source writes them differently.
SHAPED_TYPES = frozenset(
    {"Person.BirthDate", "Calendar.Date", "Measurement.Date.Modify", "Identity.Service.Phone", "Location.PostalCode"}
)
MIXED_SHARE = 0.05
REJECT_SHARE = 0.03
CANDIDATE_MIN, CANDIDATE_SHARE = 50, 0.01
SHAPE_LENGTH = 40
VALUE_LENGTH = 40
KEYS = ("_source", "_table", "field")


@dataclass(frozen=True)
class _Normalization:
    field: str
    column: str
    normalize: list[str]
    options: bool  # the condition also has bypass values or aliases

    @property
    def label(self) -> str:
        return "+".join(self.normalize) or "raw"


def shape(v: ir.StringValue) -> ir.StringValue:
    """A value's format: digits -> '9', runs of letters -> one 'a', punctuation and spaces kept ('99/99/9999')."""
    # Two regex passes measured cheaper than translate(); real characters, not \u escapes (RE2 reads none in a class).
    return v.strip().re_replace("[0-9]", "9").re_replace("[A-Za-zÀ-ɏ]+", "a").substr(0, SHAPE_LENGTH)


def _normalizations(config: ProjectConfig, fields: set[str]) -> list[_Normalization]:
    """Each distinct comparison column the dedupe and match rules (and their exceptions) compute, once."""
    unify = config.unify
    out: dict[str, _Normalization] = {}
    for rule in unify.all_rules():
        for c in compile_all(rule, unify.default_country):
            cond = c.condition
            if c.column in out or cond.field not in fields:
                continue
            options = bool(cond.bypass or cond.aliases)
            out[c.column] = _Normalization(cond.field, c.column, ordered(cond.normalize), options)
    return list(out.values())


def _sum(n: ir.IntegerValue, cond: ir.BooleanValue) -> ir.IntegerScalar:
    return ibis.ifelse(cond.fill_null(False), n, 0).cast("int64").sum()


def _share(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


def _values(records: ir.Table, fields: list[str]) -> ir.Table:
    """(table, field, value as written, n): every later check runs once per distinct value, not once per record."""
    parts = [
        records.select("_source", "_table", field=ibis.literal(f), value=records[f].cast("string")) for f in fields
    ]
    stacked = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return stacked.filter(stacked.value.notnull()).group_by([*KEYS, "value"]).aggregate(n=ibis._.count())


def _counts(values: ir.Table) -> ir.Table:
    """Per table and field: present, junk and distinct values."""
    columns: dict[str, tuple[ir.Value, list[Step]]] = {
        "present": (values.value, [blank_to_null]),
        "kept": (values.value, [blank_to_null, JUNK]),
    }
    t = apply_steps(values, columns)
    present = t.present.notnull()
    return t.group_by(KEYS).aggregate(
        present=_sum(t.n, present),
        junk=_sum(t.n, present & t.kept.isnull()),
        distinct=_sum(ibis.literal(1), present),
    )


def _normalizer_counts(records: ir.Table, normalized: ir.Table, norms: list[_Normalization]) -> ir.Table:
    """Per table: for the k-th normalization, present values it changed (``changed{k}``) and rejected (``rejected{k}``).

    Read from the comparison columns the rules compute anyway (the ``normalized`` table), so no normalizer runs twice.
    """
    fields = sorted({n.field for n in norms})
    j = records.select("_rid", "_source", "_table", *fields).join(
        normalized.select("_rid", *sorted({n.column for n in norms})), "_rid"
    )
    metrics: dict[str, ir.Scalar] = {}
    for k, n in enumerate(norms):
        raw = j[n.field].cast("string")
        present = blank_to_null(raw).notnull()
        value = j[n.column]
        one = ibis.literal(1, "int64")
        metrics[f"changed{k}"] = _sum(one, present & value.notnull() & (value != raw))
        metrics[f"rejected{k}"] = _sum(one, present & value.isnull())
    return j.group_by(["_source", "_table"]).aggregate(**metrics)


def _tops(values: ir.Table) -> ir.Table:
    """The TOP most common values and shapes per table and field, with the number of distinct shapes.

    A value held by one record is not common: listing it would only copy one person into the run report.
    """
    present = values.filter(blank_to_null(values.value).notnull())
    shapes = present.mutate(value=shape(present.value)).group_by([*KEYS, "value"]).aggregate(n=ibis._.n.sum())
    both = ibis.union(
        # Values held by one record are never listed, and leaving them out spares ranking most identifiers.
        present.filter(present.n > 1).select(*KEYS, "value", "n", kind=ibis.literal("value")),
        shapes.select(*KEYS, "value", "n", kind=ibis.literal("shape")),
    )
    keys = [both[k] for k in (*KEYS, "kind")]
    ranked = both.mutate(
        pos=ibis.row_number().over(group_by=keys, order_by=[both.n.desc(), both.value]),
        groups=both.count().over(group_by=keys),
    )
    top = ranked.filter(ranked.pos < TOP)
    return top.mutate(junk=(top.kind == "value") & is_junk(top.value))


def profile_records(
    engine: Engine, records: ir.Table, config: ProjectConfig, normalized: ir.Table | None = None
) -> dict[str, Any]:
    """Value profile of the mapped records per unify table and field, plus warnings worth reading before match rates.

    Returns ``{"tables": {"<source>.<table>": {"rows": n, "fields": {field: {...}}}}, "warnings": [...]}``; each
    field holds ``type``, ``nulls`` (missing or blank), ``junk`` (present values the built-in junk check drops),
    ``distinct``, ``top_values`` and ``shapes`` (TOP most common, with counts and shares of present values) and
    ``normalizers`` (per normalizer list the rules apply: present values changed, and rejected, i.e. turned to null).
    ``normalized`` holds the rules' comparison columns (the map stage's output); computed here when not given.
    """
    unify = config.unify
    fields = [f for f in unify.fields() if f in records.columns]
    norms = _normalizations(config, set(fields))
    sizes = engine.to_arrow(records.group_by(["_source", "_table"]).aggregate(rows=ibis._.count())).to_pylist()
    rows_of = {(r["_source"], r["_table"]): int(r["rows"]) for r in sizes}
    stats: dict[tuple[str, str, str], dict[str, Any]] = {}
    changes: dict[tuple[str, str], dict[str, Any]] = {}
    tops: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    distinct_shapes: dict[tuple[str, str, str], int] = {}
    if fields:
        values = _values(records, fields)
        for r in engine.to_arrow(_counts(values)).to_pylist():
            stats[(r["_source"], r["_table"], r["field"])] = r
        if norms:
            if normalized is None:
                normalized = normalized_table(unify.all_rules(), records, str(config.root), unify.default_country)
            for r in engine.to_arrow(_normalizer_counts(records, normalized, norms)).to_pylist():
                changes[(r["_source"], r["_table"])] = r
        for r in sorted(engine.to_arrow(_tops(values)).to_pylist(), key=lambda r: int(r["pos"])):
            tops.setdefault((r["_source"], r["_table"], r["field"], r["kind"]), []).append(r)
            if r["kind"] == "shape":
                distinct_shapes[(r["_source"], r["_table"], r["field"])] = int(r["groups"])
    tables: dict[str, Any] = {}
    warnings: list[str] = []
    for ut in unify.ordered_tables():
        source, _, table = ut.table.partition(".")
        rows = rows_of.get((source, table), 0)
        candidate_min = max(CANDIDATE_MIN, CANDIDATE_SHARE * rows)
        out: dict[str, Any] = {}
        types = ut.field_types()
        for f in (f for f in ut.field_columns() if f in fields):
            row = stats.get((source, table, f), {})
            present = int(row.get("present") or 0)
            key_like = _key_like(types[f])
            top_values = [
                {
                    "value": r["value"],
                    "count": r["n"],
                    "junk": bool(r["junk"]),
                    "junk_candidate": key_like and r["n"] > candidate_min and not r["junk"],
                }
                for r in tops.get((source, table, f, "value"), [])
            ]
            shapes = [
                {"shape": r["value"], "count": r["n"], "share": _share(r["n"], present)}
                for r in tops.get((source, table, f, "shape"), [])
            ]
            normalizers = []
            counted = changes.get((source, table), {})
            for k, n in enumerate(norms):
                if n.field != f:
                    continue
                changed, rejected = int(counted.get(f"changed{k}") or 0), int(counted.get(f"rejected{k}") or 0)
                normalizers.append(
                    {
                        "normalize": n.normalize,
                        "label": n.label + (" (+bypass/aliases)" if n.options else ""),
                        "changed": changed,
                        "rejected": rejected,
                        "changed_share": _share(changed, present),
                        "rejected_share": _share(rejected, present),
                    }
                )
            junk = int(row.get("junk") or 0)
            out[f] = {
                "type": types[f],
                "nulls": rows - present,
                "null_share": _share(rows - present, rows),
                "junk": junk,
                "junk_share": _share(junk, present),
                "distinct": int(row.get("distinct") or 0),
                "top_values": top_values,
                "shapes": shapes,
                "distinct_shapes": distinct_shapes.get((source, table, f), 0),
                "normalizers": normalizers,
            }
            warnings.extend(_warnings(f"{ut.table}.{f}", out[f]))
        tables[ut.table] = {"rows": rows, "fields": out}
    return {"tables": tables, "warnings": warnings}


def _key_like(semantic_type: str) -> bool:
    """Fields whose values should identify one person: a value many records share there is likely a placeholder.

    Names, cities and postcodes are shared by many people, so a common value there says nothing.
    """
    known = semantic_type in KNOWN_TYPES
    return not known or semantic_type.startswith(("Identity.", "Customer.")) or semantic_type == "Person.BirthDate"


def _warnings(name: str, p: dict[str, Any]) -> list[str]:
    out = []
    common = [s for s in p["shapes"] if s["share"] >= MIXED_SHARE]
    if p["type"] in SHAPED_TYPES and len(common) >= 2:
        formats = ", ".join(f"{s['shape']} ({s['share']:.0%})" for s in common)
        out.append(f"{name} mixes formats: {formats}")
    for n in p["normalizers"]:
        if n["rejected_share"] > REJECT_SHARE:
            out.append(
                f"{name}: normalize [{n['label']}] rejects {n['rejected_share']:.1%} of values "
                f"({n['rejected']:,}; {p['junk_share']:.1%} are junk)"
            )
    for v in p["top_values"]:
        if v["junk_candidate"]:
            value = v["value"] if len(v["value"]) <= VALUE_LENGTH else v["value"][: VALUE_LENGTH - 3] + "..."
            out.append(f"{name}: {value!r} is shared by {v['count']:,} records (junk candidate; bypass it?)")
    return out
