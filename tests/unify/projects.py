"""Tiny projects built from inline CSV text, for unify behaviour tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from custdim.project import Project

HEADER = "id,first,last,email,phone,zip,updated"


def make_project(
    root: Path,
    tables: dict[str, str],
    rules_yaml: str = "",
    order: list[str] | None = None,
    unify_extra: str = "",
    match_extra: str = "",
    extra_fields: str = "",
    engine: str = "duckdb",
) -> Project:
    """A project with one source 's' whose tables (name -> CSV rows after HEADER) all map the same columns.

    Rows may omit the trailing ``updated`` column. ``rules_yaml`` holds match rules (8-space indented items);
    ``unify_extra`` is appended under ``unify:`` (dedupe, merge, limits), ``match_extra`` under ``match:``,
    ``extra_fields`` to every table's field map (e.g. "updated: Person.BirthDate").
    """
    (root / "data").mkdir(parents=True, exist_ok=True)
    table_yaml, unify_yaml = [], []
    for name, rows in tables.items():
        lines = [r if r.count(",") == 6 else r + "," for r in rows.strip().splitlines()]
        (root / "data" / f"{name}.csv").write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        table_yaml.append(f"      - {{name: {name}, path: data/{name}.csv, primary_key: id}}")
        unify_yaml.append(
            f"    - table: s.{name}\n      fields: {{first: Person.FirstName, last: Person.LastName, "
            "email: Identity.Service.Email, phone: Identity.Service.Phone, zip: Location.PostalCode"
            + (f", {extra_fields}" if extra_fields else "")
            + "}"
        )
    text = (
        f"name: t\nengine: {engine}\nsources:\n  - name: s\n    type: files\n    tables:\n"
        + "\n".join(table_yaml)
        + "\n"
        "unify:\n  tables:\n" + "\n".join(unify_yaml) + "\n"
    )
    if rules_yaml or order or match_extra:
        text += "  match:\n"
        text += f"    order: [{', '.join('s.' + t for t in order)}]\n" if order else ""
        text += ("    rules:\n" + rules_yaml) if rules_yaml else ""
        text += match_extra
    text += unify_extra
    (root / "custdim.yaml").write_text(text, encoding="utf-8")
    return Project.load(root)


def entity_rows(project: Project, name: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for f in project.lake.parquet_files(project.lake.entity(name)):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def groups(project: Project) -> set[frozenset[str]]:
    """Profiles as sets of 'table:key'."""
    by_id: dict[object, set[str]] = {}
    for r in entity_rows(project, "AlternateKey"):
        by_id.setdefault(r["CustomerId"], set()).add(f"{r['TableName']}:{r['SourceKey']}")
    return {frozenset(g) for g in by_id.values()}


def ids_by_record(project: Project) -> dict[str, str]:
    """'table:key' -> CustomerId."""
    return {f"{r['TableName']}:{r['SourceKey']}": str(r["CustomerId"]) for r in entity_rows(project, "AlternateKey")}
