"""The whole project file, and the checks that span its sections."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator

from custdim.config.activities import Activity
from custdim.config.base import Model, check_identifier
from custdim.config.export import Export
from custdim.config.measures import Measure
from custdim.config.predictions import Predictions
from custdim.config.segments import ALL_CUSTOMERS, Segment
from custdim.config.sources import Source, SourceTable
from custdim.config.unify import Unify
from custdim.contracts import CUSTOMER, EXPORT_ENTITIES

ENGINES = ("duckdb", "spark")


class SparkOptions(Model):
    """Settings for ``engine: spark``; the defaults start a small local session."""

    master: str = "local[2]"
    conf: dict[str, str] = Field(default_factory=dict)


class ProjectConfig(Model):
    name: str
    lake: str = "lake"
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkOptions = Field(default_factory=SparkOptions)
    sources: list[Source] = Field(min_length=1)
    unify: Unify
    activities: list[Activity] = Field(default_factory=list)
    as_of: dt.date | None = Field(
        default=None,
        description="The 'today' of the run: measure windows and segments count back from it; later activities are "
        "left out of them. Default: the date of the latest activity.",
    )
    measures: list[Measure] = Field(default_factory=list)
    predictions: Predictions = Field(default_factory=Predictions)
    segments: list[Segment] = Field(default_factory=list)
    export: Export = Field(default_factory=Export)

    _root: Path = PrivateAttr(default=Path())
    _file: str = PrivateAttr(default="custdim.yaml")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_identifier(v.replace("-", "_"), "project name") and v

    def cross_check(self) -> None:
        """Checks that span sections; raises CrossCheckError carrying the offending key path."""
        tables = self.table_names()
        names = [s.name for s in self.sources]
        for i, n in enumerate(names):
            if names.index(n) != i:
                raise CrossCheckError(f"sources[{i}].name", f"source {n!r} is defined twice")
        unify_tables = [t.table for t in self.unify.tables]
        for i, t in enumerate(self.unify.tables):
            if t.table not in tables:
                raise CrossCheckError(f"unify.tables[{i}].table", _unknown("table", t.table, tables))
            if unify_tables.index(t.table) != i:
                raise CrossCheckError(f"unify.tables[{i}].table", f"{t.table!r} is listed twice")
        match = self.unify.match
        if match is not None and match.order is not None:
            for i, name in enumerate(match.order):
                if name not in unify_tables:
                    raise CrossCheckError(f"unify.match.order[{i}]", _unknown("unify table", name, unify_tables))
            missing = [name for name in unify_tables if name not in match.order]
            if missing or len(set(match.order)) != len(match.order):
                raise CrossCheckError(
                    "unify.match.order",
                    f"must list every table of unify.tables exactly once; missing: {', '.join(missing) or '-'}",
                )
        fields = self.unify.fields()
        rule_sets = [(f"unify.dedupe[{i}].rules", d.rules) for i, d in enumerate(self.unify.dedupe)]
        rule_sets += [("unify.match.rules", match.rules)] if match else []
        for prefix, rules in rule_sets:
            for r, rule in enumerate(rules):
                conds = [(f"conditions[{c}]", cond) for c, cond in enumerate(rule.conditions)]
                conds += [
                    (f"exceptions[{e}][{c}]", cond) for e, ex in enumerate(rule.exceptions) for c, cond in enumerate(ex)
                ]
                for where, cond in conds:
                    if cond.field not in fields:
                        raise CrossCheckError(
                            f"{prefix}[{r}].{where}.field", _unknown("unified field", cond.field, fields)
                        )
                for k, name in enumerate(rule.tables or []):
                    if name not in unify_tables:
                        raise CrossCheckError(f"{prefix}[{r}].tables[{k}]", _unknown("unify table", name, unify_tables))
        for k, conflict in enumerate(self.unify.conflicts or []):
            for c, cond in enumerate(conflict.conditions):
                if cond.field not in fields:
                    raise CrossCheckError(
                        f"unify.conflicts[{k}].conditions[{c}].field", _unknown("unified field", cond.field, fields)
                    )
        for i, d in enumerate(self.unify.dedupe):
            if d.table not in unify_tables:
                raise CrossCheckError(f"unify.dedupe[{i}].table", _unknown("unify table", d.table, unify_tables))
        self._check_merge(fields)
        activity_tables = [a.table for a in self.activities]
        for i, a in enumerate(self.activities):
            if a.table not in tables:
                raise CrossCheckError(f"activities[{i}].table", _unknown("table", a.table, tables))
            first = activity_tables.index(a.table)
            if first != i:
                raise CrossCheckError(
                    f"activities[{i}].table",
                    f"{a.table!r} is listed twice (also activities[{first}]); its rows would count twice",
                )
            if a.customer.table not in unify_tables:
                raise CrossCheckError(
                    f"activities[{i}].customer.table", _unknown("unify table", a.customer.table, unify_tables)
                )
            if a.parent is not None and a.parent.table not in tables:
                raise CrossCheckError(f"activities[{i}].parent.table", _unknown("table", a.parent.table, tables))
        self._check_measures_and_segments()
        self._check_export()

    def customer_columns(self) -> list[str]:
        """The Customer entity's profile fields: unified fields (renamed, minus excluded) and collected lists."""
        merge = self.unify.merge
        out = [merge.rename.get(f, f) for f in self.unify.fields() if f not in merge.exclude]
        out += [name for name, p in merge.fields.items() if p.policy == "collect" and name not in out]
        return out

    def pseudonymized_columns(self) -> list[str]:
        """Customer columns hashed in the export: the listed fields and the lists collected from them."""
        merge = self.unify.merge
        listed = set(self.export.pseudonymize)
        collected = [
            name
            for name, p in merge.fields.items()
            if p.policy == "collect" and merge.rename.get(p.from_field or name, p.from_field or name) in listed
        ]
        return [c for c in self.customer_columns() if c in listed or c in collected]

    def _check_export(self) -> None:
        export = self.export
        if export.entities is not None:
            for i, name in enumerate(export.entities):
                if name not in EXPORT_ENTITIES:
                    raise CrossCheckError(f"export.entities[{i}]", _unknown("entity", name, list(EXPORT_ENTITIES)))
                if export.entities.index(name) != i:
                    raise CrossCheckError(f"export.entities[{i}]", f"{name!r} is listed twice")
            if CUSTOMER not in export.entities:
                raise CrossCheckError("export.entities", f"must include {CUSTOMER}: every other entity relates to it")
        columns = self.customer_columns()
        for i, name in enumerate(export.pseudonymize):
            if name not in columns:
                raise CrossCheckError(f"export.pseudonymize[{i}]", _unknown("Customer field", name, columns))

    def exported_entities(self) -> list[str]:
        """The entities a publish writes, in contract order."""
        wanted = self.export.entities
        return [e for e in EXPORT_ENTITIES if wanted is None or e in wanted]

    def _check_measures_and_segments(self) -> None:
        seen: dict[str, int] = {}
        for i, m in enumerate(self.measures):
            if m.column in seen:
                raise CrossCheckError(
                    f"measures[{i}].name", f"measure {m.column!r} is defined twice (also measures[{seen[m.column]}])"
                )
            seen[m.column] = i
        names = [s.name for s in self.segments]
        for i, s in enumerate(self.segments):
            if names.index(s.name) != i:
                raise CrossCheckError(f"segments[{i}].name", f"segment {s.name!r} is defined twice")
            for ref in s.references():
                if ref not in names and ref != ALL_CUSTOMERS:
                    valid = [ALL_CUSTOMERS, *names]
                    raise CrossCheckError(f"segments[{i}]", _unknown("segment", f"segment:{ref}", valid))
        self.segment_order()

    def segment_order(self) -> list[Segment]:
        """Segments in an order where each comes after the ones it references; a cycle is a CrossCheckError."""
        by_name = {s.name: s for s in self.segments}
        done: list[Segment] = []
        state: dict[str, str] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == "done" or name not in by_name:
                return
            if state.get(name) == "open":
                cycle = " -> ".join([*path[path.index(name) :], name])
                raise CrossCheckError(
                    f"segments[{self.segments.index(by_name[name])}]", f"segments refer in a cycle: {cycle}"
                )
            state[name] = "open"
            for ref in by_name[name].references():
                visit(ref, [*path, name])
            state[name] = "done"
            done.append(by_name[name])

        for s in self.segments:
            visit(s.name, [])
        return done

    def _check_merge(self, fields: list[str]) -> None:
        merge = self.unify.merge
        for name, policy in merge.fields.items():
            if policy.policy == "collect":
                source = policy.from_field or name
                if source not in fields:
                    raise CrossCheckError(f"unify.merge.fields.{name}.from", _unknown("unified field", source, fields))
            elif name not in fields:
                raise CrossCheckError(f"unify.merge.fields.{name}", _unknown("unified field", name, fields))
        for g, group in enumerate(merge.groups):
            for f, name in enumerate(group.fields):
                if name not in fields:
                    raise CrossCheckError(
                        f"unify.merge.groups[{g}].fields[{f}]", _unknown("unified field", name, fields)
                    )
        for name in list(merge.rename) + merge.exclude:
            if name not in fields and name not in merge.fields:
                key = "rename" if name in merge.rename else "exclude"
                raise CrossCheckError(f"unify.merge.{key}.{name}", _unknown("unified field", name, fields))

    def iter_tables(self) -> Iterator[tuple[str, Source, SourceTable]]:
        """(key path ``sources[i].tables[j]``, source, table) for every source table, in file order."""
        for si, source in enumerate(self.sources):
            tables: list[SourceTable] = list(source.tables)
            for ti, table in enumerate(tables):
                yield f"sources[{si}].tables[{ti}]", source, table

    def table_names(self) -> list[str]:
        """Every source table as '<source>.<table>'."""
        return [f"{s.name}.{t.name}" for s in self.sources for t in s.tables]

    def source_table(self, qualified: str) -> SourceTable:
        source, _, table = qualified.partition(".")
        for s in self.sources:
            if s.name == source:
                for t in s.tables:
                    if t.name == table:
                        return t
        raise KeyError(qualified)

    @property
    def root(self) -> Path:
        """The folder holding the project file; relative paths resolve against it."""
        return self._root

    @property
    def file(self) -> str:
        return self._file

    def resolve(self, path: str) -> str:
        """Resolve a path from the project file: URLs stay as they are, relative paths join the project folder."""
        if "://" in path or Path(path).is_absolute():
            return path
        return str((self._root / path).resolve())


class CrossCheckError(ValueError):
    """A check spanning sections failed; carries the key path of the offending value."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _unknown(what: str, value: str, valid: list[str]) -> str:
    return f"unknown {what} {value!r}; valid values: {', '.join(valid) or '(none)'}"
