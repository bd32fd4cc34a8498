"""Look at segments between runs: preview one from the project file, overlap, differentiators, export members.

Everything here reads the published views through :class:`custdim.ldw.published.PublishedViews` (the guarded,
read-only reader of ``custdim sql``) and writes nothing to the lake. ``preview`` compiles the segment as written in
the current project file, so a marketer can try a condition before the next run; the others read the published
``SegmentMembership``: the members a campaign tool would get.

Differentiators are ranked by one documented score, the total variation distance between the field's distribution
in the segment and in the whole population: ``TVD = 1/2 * sum over values v of |P(v | segment) - P(v | everyone)|``.
It is 0 when the segment looks like everyone and 1 when the two share no value. Missing values count as a value of
their own. Text and yes/no fields with at most 50 distinct values are compared value by value (fields with more, such
as names and emails, say nothing about a group and are left out); numbers and dates are compared over the
population's deciles (values equal to a decile boundary share a bin, so a field that is mostly 0 does not split its
zeros). One scale for every field is what lets a text field and a number be ranked in one list.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from custdim.config.segments import ALL_CUSTOMERS
from custdim.contracts import CUSTOMER, CUSTOMER_MEASURE, SEGMENT_HISTORY, SEGMENT_MEMBERSHIP, UNIFIED_ACTIVITY
from custdim.errors import CustdimError, UsageError
from custdim.ldw.published import PublishedViews
from custdim.stages.insights.asof import AsOf, resolve_as_of
from custdim.stages.insights.segments import PREDICTED_FIELDS, profiles, segment_flags

if TYPE_CHECKING:
    import pyarrow as pa

    from custdim.config import ProjectConfig
    from custdim.lake import Lake

SAMPLE_FIELDS = ("FirstName", "LastName", "FullName", "Email", "City")
MAX_CATEGORIES = 50
DECILES = [i / 10 for i in range(1, 10)]
NOT_COMPARED = ("CustomerId", "PreviousCustomerId")
EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet"}
DIMENSION = "dim_customer"
MISSING = "(missing)"


@dataclass(frozen=True)
class Preview:
    """A segment computed from the current project file over the published profiles."""

    name: str
    as_of: AsOf
    members: int
    profiles: int
    published: int | None  # members in the published export; None when the export does not have this segment
    sample: pa.Table


@dataclass(frozen=True)
class Overlap:
    """Sizes of published segments and of their pairwise (and, for three, common) intersections."""

    names: list[str]
    profiles: int
    sizes: list[int]
    matrix: list[list[int]]  # matrix[i][j]: members of both names[i] and names[j]; the diagonal holds the sizes
    common: int | None = None  # members of all three, when three segments are compared


@dataclass(frozen=True)
class Differentiator:
    """One field's difference between a segment and everyone: the score and a readable summary of each side."""

    field: str
    kind: str  # "numeric" (numbers and dates, over deciles) or "categorical"
    score: float
    segment: str
    population: str


@dataclass(frozen=True)
class Differentiators:
    name: str
    members: int
    profiles: int
    fields: list[Differentiator]
    skipped: list[str] = field(default_factory=list)  # text fields with too many values to compare


@dataclass(frozen=True)
class Exported:
    name: str
    path: Path
    format: str
    rows: int
    fields: list[str]


def preview(config: ProjectConfig, lake: Lake, name: str, limit: int = 10) -> Preview:
    """Size and first ``limit`` members (by CustomerId) of segment ``name`` as the project file defines it now."""
    valid = [s.name for s in config.segments]
    if name not in valid:
        raise CustdimError(
            f"no segment {name!r} in {config.file}; valid names: {', '.join(valid) or '(no segments defined)'}"
        )
    views = PublishedViews(lake)
    t = views.tables((CUSTOMER, CUSTOMER_MEASURE, UNIFIED_ACTIVITY), needed_by="segment preview")
    as_of = resolve_as_of(config.as_of, t[UNIFIED_ACTIVITY], views.run)
    profile = profiles(t[CUSTOMER], t[CUSTOMER_MEASURE], _predictions(views))
    flags, names = segment_flags(config, profile, t[UNIFIED_ACTIVITY], as_of, only=name)
    member = flags[f"_s{names.index(name)}"]
    counts = views.run(flags.aggregate(members=member.cast("int64").sum(), profiles=flags.count())).to_pylist()[0]
    customer = t[CUSTOMER]
    chosen = flags.filter(member).select(_id=flags.CustomerId)
    shown = ["CustomerId", *[c for c in SAMPLE_FIELDS if c in customer.columns]]
    sample = customer.semi_join(chosen, customer.CustomerId == chosen._id).select(*shown).order_by("CustomerId")
    return Preview(
        name=name,
        as_of=as_of,
        members=int(counts["members"] or 0),
        profiles=int(counts["profiles"]),
        published=_published_size(views, name),
        sample=views.run(sample.limit(limit)),
    )


def _predictions(views: PublishedViews) -> dict[str, ir.Table]:
    """The published prediction tables segments can use (an export from before predictions has none)."""
    return {name: views.table(name) for name in PREDICTED_FIELDS if name in views.names}


def _published_size(views: PublishedViews, name: str) -> int | None:
    if SEGMENT_HISTORY not in views.names or name not in _published_segments(views):
        return None
    m = views.table(SEGMENT_MEMBERSHIP)
    hits = m.filter(m.SegmentName == name)
    return int(views.run(hits.aggregate(n=hits.count())).to_pylist()[0]["n"])


def _published_segments(views: PublishedViews) -> list[str]:
    """Segments of the published run, by name (empty segments included)."""
    h = views.table(SEGMENT_HISTORY, needed_by="the segment commands")
    latest = h.filter(h.RunId == h.RunId.max()).select("SegmentName").order_by("SegmentName")
    return [r["SegmentName"] for r in views.run(latest).to_pylist()]


def _check_published(config: ProjectConfig, views: PublishedViews, names: list[str]) -> None:
    published = _published_segments(views)
    for name in names:
        if name in published:
            continue
        if name in {s.name for s in config.segments}:
            raise CustdimError(
                f"segment {name!r} is in {config.file} but not in the published export yet: run `custdim run` "
                f"(or try it now with `custdim segment preview {name}`)"
            )
        raise CustdimError(
            f"no segment {name!r} in the published export; valid names: {', '.join(published) or '(none published)'}"
        )


def overlap(config: ProjectConfig, lake: Lake, names: list[str]) -> Overlap:
    """How many published members two or three segments share."""
    if not 2 <= len(names) <= 3 or len(set(names)) != len(names):
        raise UsageError("name two or three different segments")
    views = PublishedViews(lake)
    _check_published(config, views, names)
    m = views.table(SEGMENT_MEMBERSHIP)
    chosen = m.filter(m.SegmentName.isin(names))
    per = chosen.group_by("CustomerId").agg(**{f"f{i}": (chosen.SegmentName == n).any() for i, n in enumerate(names)})
    k = len(names)

    def both(i: int, j: int) -> ir.IntegerScalar:
        return (per[f"f{i}"] & per[f"f{j}"]).cast("int64").sum()

    aggs = {f"b{i}_{j}": both(i, j) for i in range(k) for j in range(i, k)}
    if k == 3:
        aggs["common"] = (per.f0 & per.f1 & per.f2).cast("int64").sum()
    row = views.run(per.aggregate(**aggs)).to_pylist()[0]
    matrix = [[int(row[f"b{min(i, j)}_{max(i, j)}"] or 0) for j in range(k)] for i in range(k)]
    c = views.table(CUSTOMER)
    total = int(views.run(c.aggregate(n=c.count())).to_pylist()[0]["n"])
    common = int(row["common"] or 0) if k == 3 else None
    return Overlap(list(names), total, [matrix[i][i] for i in range(k)], matrix, common)


def differentiators(config: ProjectConfig, lake: Lake, name: str, top: int = 10) -> Differentiators:
    """The profile and measure fields whose distribution in the published segment differs most from everyone's."""
    views = PublishedViews(lake)
    _check_published(config, views, [name])
    t = views.tables((CUSTOMER, CUSTOMER_MEASURE, SEGMENT_MEMBERSHIP), needed_by="segment differentiators")
    m = t[SEGMENT_MEMBERSHIP]
    members = m.filter(m.SegmentName == name).select(_id=m.CustomerId).distinct()
    profile = profiles(t[CUSTOMER], t[CUSTOMER_MEASURE], _predictions(views))
    j = profile.left_join(members, profile.CustomerId == members._id)
    data = j.select(*profile.columns, _in=j._id.notnull())

    numeric: dict[str, ir.NumericColumn] = {}
    categorical: dict[str, ir.StringColumn] = {}
    for col, dtype in data.schema().items():
        if col.startswith("_") or col in NOT_COMPARED:
            continue
        if dtype.is_temporal():
            # Days since 1970: dates and timestamps binned and averaged like numbers, shown as dates again.
            numeric[col] = data[col].cast("timestamp").epoch_seconds() / 86400
        elif dtype.is_numeric() and not dtype.is_boolean():
            numeric[col] = data[col].cast("float64")
        elif dtype.is_string() or dtype.is_boolean():
            categorical[col] = data[col].cast("string")

    stats: dict[str, Any] = {"_n": data.count(), "_members": data._in.cast("int64").sum()}
    for i, x in enumerate(numeric.values()):
        stats[f"q{i}"] = x.quantile(DECILES)
        stats[f"m{i}"] = x.mean()
        stats[f"s{i}"] = x.mean(where=data._in)
    for i, col in enumerate(categorical):
        stats[f"c{i}"] = categorical[col].nunique()
    row = views.run(data.aggregate(**stats)).to_pylist()[0]
    total, in_segment = int(row["_n"]), int(row["_members"] or 0)
    if in_segment == 0:
        raise CustdimError(f"segment {name!r} has no members in the published export: nothing to compare")

    compared = {c: x for i, (c, x) in enumerate(categorical.items()) if (row[f"c{i}"] or 0) <= MAX_CATEGORIES}
    skipped = [c for c in categorical if c not in compared]
    parts: list[ir.Table] = []
    edges: dict[str, list[float]] = {}
    for i, (col, x) in enumerate(numeric.items()):
        edges[col] = sorted({float(q) for q in row[f"q{i}"] or [] if q is not None})
        bin_ = sum(((x > e).cast("int64") for e in edges[col]), ibis.literal(0, "int64"))
        parts.append(_counts(data, col, ibis.ifelse(x.isnull(), MISSING, bin_.cast("string"))))
    for col, x in compared.items():
        parts.append(_counts(data, col, x.fill_null(MISSING)))
    counted = views.run(ibis.union(*parts) if len(parts) > 1 else parts[0]).to_pylist() if parts else []

    dist: dict[str, dict[str, list[int]]] = {}
    for r in counted:
        dist.setdefault(r["Field"], {}).setdefault(r["Value"], [0, 0])[0 if r["InSegment"] else 1] += r["N"]
    out = []
    kinds = dict.fromkeys(numeric, "numeric") | dict.fromkeys(compared, "categorical")
    temporal = {c for c, d in data.schema().items() if d.is_temporal()}
    for i, col in enumerate(numeric):
        score = _tvd(dist.get(col, {}), in_segment, total)
        seg_mean, all_mean = row[f"s{i}"], row[f"m{i}"]
        show = _date_text if col in temporal else _number_text
        seg_text, all_text = f"mean {show(seg_mean)}", f"mean {show(all_mean)}"
        missing = dist.get(col, {}).get(MISSING, [0, 0])
        if sum(missing):
            # A mean leaves out the missing values; when they differ, that is often the difference.
            seg_text += f", {missing[0] / in_segment:.0%} missing"
            all_text += f", {sum(missing) / total:.0%} missing"
        out.append(Differentiator(col, kinds[col], score, seg_text, all_text))
    for col in compared:
        values = dist.get(col, {})
        score = _tvd(values, in_segment, total)
        top_value = max(values, key=lambda v: values[v][0] / in_segment - sum(values[v]) / total, default=MISSING)
        seg_share = values.get(top_value, [0, 0])[0] / in_segment
        all_share = sum(values.get(top_value, [0, 0])) / total
        out.append(
            Differentiator(col, "categorical", score, f"{top_value}: {seg_share:.0%}", f"{top_value}: {all_share:.0%}")
        )
    out.sort(key=lambda d: (-d.score, d.field))
    return Differentiators(name, in_segment, total, out[:top], skipped)


def _counts(data: ir.Table, col: str, value: ir.StringValue) -> ir.Table:
    """Rows per (value, in segment) of one field, labelled with the field's name."""
    t = data.select(Field=ibis.literal(col, "string"), Value=value, InSegment=data._in)
    return t.group_by("Field", "Value", "InSegment").agg(N=t.count())


def _tvd(values: dict[str, list[int]], members: int, total: int) -> float:
    """Total variation distance between the segment's distribution ([0]) and everyone's ([0] + [1])."""
    return round(0.5 * sum(abs(s / members - (s + o) / total) for s, o in values.values()), 4)


def _number_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _date_text(days: float | None) -> str:
    if days is None:
        return "-"
    return (dt.date(1970, 1, 1) + dt.timedelta(days=round(days))).isoformat()


def export_members(config: ProjectConfig, lake: Lake, name: str, to: Path, fields: list[str] | None = None) -> Exported:
    """Write the published members of segment ``name`` with the chosen ``dim_customer`` fields to a CSV or Parquet
    file (the format follows the suffix). Default fields: the Customer profile's single-valued columns.

    The file appears whole or not at all (written next to it, then renamed). It may not be written into the lake.
    """
    fmt = EXPORT_FORMATS.get(to.suffix.lower())
    if fmt is None:
        raise UsageError(f"--to {to}: the file name must end in {' or '.join(EXPORT_FORMATS)}")
    _outside_lake(lake, to)
    if name == ALL_CUSTOMERS:
        raise CustdimError(f"{ALL_CUSTOMERS} is every profile: export dim_customer with `custdim sql` instead")
    views = PublishedViews(lake)
    _check_published(config, views, [name])
    dim = views.table(DIMENSION, needed_by="segment export")
    if fields:
        unknown = [f for f in fields if f not in dim.columns]
        if unknown:
            raise UsageError(f"unknown field {unknown[0]!r} for --fields; valid names: {', '.join(dim.columns)}")
        chosen = list(dict.fromkeys(fields))
    else:
        customer = views.table(CUSTOMER)
        chosen = [c for c, d in customer.schema().items() if not (d.is_array() or d.is_struct() or d.is_map())]
    m = views.table(SEGMENT_MEMBERSHIP)
    members = m.filter(m.SegmentName == name).select(_id=m.CustomerId)
    picked = dim.semi_join(members, dim.CustomerId == members._id)
    rows = views.run(picked.select(*chosen, _order=picked.CustomerId).order_by("_order")).drop_columns(["_order"])
    _write_atomically(rows, to, fmt)
    return Exported(name, to, fmt, rows.num_rows, chosen)


def _outside_lake(lake: Lake, to: Path) -> None:
    if not lake.is_local:
        return  # a cloud lake: a local file cannot be inside it
    root = Path(lake.base).resolve()
    target = to.resolve()
    if target == root or root in target.parents:
        raise UsageError(f"--to {to} is inside the lake {root}: write the file somewhere else")


def _write_atomically(table: pa.Table, to: Path, fmt: str) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    if not to.parent.is_dir():
        raise CustdimError(f"--to {to}: the folder {to.parent} does not exist")
    tmp = to.with_name(f".{to.name}.{secrets.token_hex(4)}.tmp")
    try:
        if fmt == "parquet":
            pq.write_table(table, tmp)
        else:
            # CSV has no lists: list fields (Segments, Emails ...) become one text value joined by '; '.
            columns = [pc.binary_join(col, "; ") if pa.types.is_list(col.type) else col for col in table.itercolumns()]
            csv.write_csv(pa.table(columns, names=table.column_names), tmp)
        tmp.replace(to)
    finally:
        tmp.unlink(missing_ok=True)
