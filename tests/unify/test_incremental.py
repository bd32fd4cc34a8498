"""Incremental matching: a run compares only new and changed records, and gives exactly what ``--full`` gives."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from custdim.demo.changes import apply_change_set
from custdim.demo.generate import generate
from custdim.demo.project_file import write_project_file
from custdim.project import Project
from custdim.report import RunReport

CUSTOMERS = 900
WORK = ("pairs", "near_misses", "clusters", "records")


def match_details(report: RunReport) -> dict[str, Any]:
    stage = next(s for s in report.stages if s.name == "match")
    assert stage.status == "succeeded"
    return stage.details


def unify_outputs(root: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the unify work tables and of the published keys, sorted: equal runs give equal lists."""
    out = {}
    for name in WORK:
        table = pq.read_table(root / "lake" / "work" / "unify" / name)
        out[name] = sorted(tuple(r.values()) for r in table.to_pylist())
    keys = Project.load(root).sql(
        "SELECT SourceName, TableName, SourceKey, CustomerId, IsDedupeWinner FROM AlternateKey"
    )
    out["AlternateKey"] = sorted(tuple(r.values()) for r in keys.to_pylist())
    return out


def customer_ids(root: Path) -> dict[tuple[str, str, str], str]:
    keys = Project.load(root).sql("SELECT SourceName, TableName, SourceKey, CustomerId FROM AlternateKey")
    return {(r["SourceName"], r["TableName"], r["SourceKey"]): r["CustomerId"] for r in keys.to_pylist()}


def set_in_project(root: Path, pattern: str, replacement: str) -> None:
    path = root / "custdim.yaml"
    text, n = re.subn(pattern, replacement, path.read_text(encoding="utf-8"), flags=re.M)
    assert n >= 1, pattern
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def changed_retailer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo retailer run once, then a 5% change set run incrementally; the outputs and reports of both."""
    root = tmp_path_factory.mktemp("incremental")
    generate(root, customers=CUSTOMERS, seed=11)
    write_project_file(root, "duckdb")
    project = Project.load(root)
    first = project.run()
    before = customer_ids(root)
    changes = apply_change_set(root, 0.05, seed=5)
    second = project.run()
    return {
        "root": root,
        "first": first,
        "second": second,
        "before": before,
        "after": customer_ids(root),
        "incremental": unify_outputs(root),
        "changes": changes,
    }


def test_a_run_after_a_change_set_compares_only_the_changed_records(changed_retailer: dict[str, Any]) -> None:
    first, second = match_details(changed_retailer["first"]), match_details(changed_retailer["second"])
    assert first["incremental"] == {"mode": "full", "why": "no earlier match to build on"}
    inc = second["incremental"]
    assert inc["mode"] == "incremental", inc
    counts = inc["records"]
    changes = changed_retailer["changes"]
    new = sum(n for k, n in changes.items() if k.endswith("new"))
    assert counts["records"] == counts["unchanged"] + counts["new_or_changed"]
    # Every new record is new; an updated one counts only when a compared value changed (a typo in a first name
    # the name normalizer folds away does not); the messy generator's malformed rows never reach the match.
    assert new <= counts["new_or_changed"] <= new + sum(n for k, n in changes.items() if k.endswith("updated"))
    assert 0 < inc["match"]["recomputed_records"] < counts["records"] / 4
    # The rule counts (the CLI's match rates) are the whole step's, kept pairs included.
    rules = second["rules"]
    assert sum(r["pairs"] for r in rules.values()) == inc["dedupe"]["new_pairs"] + inc["dedupe"]["kept_pairs"] + (
        inc["match"]["new_pairs"] + inc["match"]["kept_pairs"]
    )


def test_the_incremental_run_equals_a_full_run_row_for_row(changed_retailer: dict[str, Any]) -> None:
    root = changed_retailer["root"]
    full = Project.load(root).run(full=True)
    assert match_details(full)["incremental"] == {"mode": "full", "why": "a full run was asked for (--full)"}
    assert unify_outputs(root) == changed_retailer["incremental"]


def test_untouched_profiles_keep_their_ids(changed_retailer: dict[str, Any]) -> None:
    before, after = changed_retailer["before"], changed_retailer["after"]
    members: dict[str, set[tuple[str, str, str]]] = {}
    for key, cid in after.items():
        members.setdefault(cid, set()).add(key)
    old_members: dict[str, set[tuple[str, str, str]]] = {}
    for key, cid in before.items():
        old_members.setdefault(cid, set()).add(key)
    untouched = [cid for cid, keys in old_members.items() if members.get(cid) == keys]
    assert len(untouched) > 0.9 * len(old_members)
    moved = [k for k, cid in before.items() if k in after and after[k] != cid]
    # A record changes profile only when its profile gained or lost records.
    for key in moved:
        assert old_members[before[key]] != members.get(before[key])


def test_nothing_changed_means_nothing_compared(tmp_path: Path) -> None:
    generate(tmp_path, customers=300, seed=2)
    write_project_file(tmp_path, "duckdb")
    project = Project.load(tmp_path)
    project.run()
    once = unify_outputs(tmp_path)
    inc = match_details(project.run())["incremental"]
    assert inc["records"]["new_or_changed"] == 0 and inc["records"]["gone_or_changed"] == 0
    assert inc["match"]["new_pairs"] == 0 and inc["dedupe"]["new_pairs"] == 0
    assert unify_outputs(tmp_path) == once


def test_changed_settings_or_a_lost_base_match_everything_again(tmp_path: Path) -> None:
    generate(tmp_path, customers=300, seed=2)
    write_project_file(tmp_path, "duckdb")
    Project.load(tmp_path).run()
    set_in_project(tmp_path, r"^  match:$", "  max_block_size: 500\n  match:")
    inc = match_details(Project.load(tmp_path).run())["incremental"]
    assert inc == {"mode": "full", "why": "the matching settings changed since the last run"}
    shutil.rmtree(tmp_path / "lake" / "work" / "unify" / "match_base")
    inc = match_details(Project.load(tmp_path).run())["incremental"]
    assert inc == {"mode": "full", "why": "no earlier match to build on"}


def test_records_in_a_block_that_crossed_its_size_limit_are_matched_afresh(tmp_path: Path) -> None:
    """New records push a blocking key over max_block_size: pairs of unchanged records in that block are no
    longer formed, so keeping them would be wrong; those records are matched afresh and the run equals --full."""
    generate(tmp_path, customers=300, seed=2)
    write_project_file(tmp_path, "duckdb")
    set_in_project(tmp_path, r"^  match:$", "  max_block_size: 8\n  match:")
    project = Project.load(tmp_path)
    project.run()
    # Ten new CRM contacts share the last name and postal code of a known one: its blocks grow past 8.
    contacts = tmp_path / "data" / "crm" / "contacts.csv"
    lines = [line.split(",") for line in contacts.read_text(encoding="utf-8").splitlines()[1:]]
    known = next(f for f in lines if len(f) == 10 and f[2].isalpha() and f[7].isdigit())
    last, zip_code = known[2], known[7]
    rows = [f"CX{i:03d},Ann{i},{last},,,1 Main St,Springfield,{zip_code},,2026-01-01 00:00:00" for i in range(10)]
    contacts.write_text(contacts.read_text(encoding="utf-8") + "\n".join(rows) + "\n", encoding="utf-8")
    inc = match_details(project.run())["incremental"]
    assert inc["mode"] == "incremental"
    assert inc["dedupe"]["crossed_blocks"] + inc["match"]["crossed_blocks"] > 0, inc
    assert inc["match"]["moved_records"] > inc["records"]["new_or_changed"], inc
    incremental = unify_outputs(tmp_path)
    project.run(full=True)
    assert unify_outputs(tmp_path) == incremental


def changed_and_compared(
    root: Path, customers: int, seed: int, engine: str, edit: tuple[str, str] | None = None
) -> None:
    """Generate, run, apply a 5% change set, run incrementally, then --full: both runs' outputs must be equal."""
    generate(root, customers=customers, seed=seed)
    write_project_file(root, engine)
    if edit is not None:
        set_in_project(root, *edit)
    project = Project.load(root)
    project.run()
    apply_change_set(root, 0.05, seed=seed + 5)
    assert match_details(project.run())["incremental"]["mode"] == "incremental"
    incremental = unify_outputs(root)
    project.run(full=True)
    assert unify_outputs(root) == incremental


def test_all_rules_mode_is_incremental_too(tmp_path: Path) -> None:
    changed_and_compared(tmp_path, 400, 4, "duckdb", (r"^    order: ", "    mode: all_rules\n    order: "))


@pytest.mark.spark
def test_the_incremental_run_equals_a_full_run_on_spark(tmp_path: Path, spark_session: object) -> None:
    changed_and_compared(tmp_path, 200, 6, "spark")
