"""Deduplication within a table, exceptions, always/never match lists and the cluster size guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from custdim.errors import ConfigError
from tests.unify.projects import entity_rows, groups, make_project

EMAIL = "      - name: email\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"


def dedupe_yaml(table: str, preference: str = "most_filled", by: str = "", rules: str = EMAIL) -> str:
    by_line = f"      by: {by}\n" if by else ""
    indented = "\n".join("  " + line for line in rules.rstrip("\n").splitlines())
    return f"  dedupe:\n    - table: s.{table}\n      preference: {preference}\n{by_line}      rules:\n{indented}\n"


def winners(project) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    return {str(r["SourceKey"]): bool(r["IsDedupeWinner"]) for r in entity_rows(project, "AlternateKey")}


def test_dedupe_is_transitive_across_rules_and_picks_the_most_filled(tmp_path: Path, engine_name: str) -> None:
    rules = EMAIL + "      - name: phone\n        conditions:\n          - {field: Phone, normalize: [phone]}\n"
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,ann@x.com,,\n2,Ann,Lee,ANN@x.com,617-555-0100,01000\n"
            "3,,,,(617) 555-0100,\n4,Bob,Ray,bob@x.com,,"
        },
        unify_extra=dedupe_yaml("a", rules=rules),
        engine=engine_name,
    )
    report = p.run()
    assert groups(p) == {frozenset({"a:1", "a:2", "a:3"}), frozenset({"a:4"})}
    assert winners(p) == {"1": False, "2": True, "3": False, "4": True}
    [ann] = [c for c in entity_rows(p, "Customer") if c["SourceRecordCount"] == 3]
    assert (ann["FirstName"], ann["Phone"], ann["PostalCode"]) == ("Ann", "617-555-0100", "01000")  # the winner first
    match = report.stage("match")
    assert match is not None and match.details["rules"]["dedupe:s.a/email"]["pairs"] == 1


def test_ties_go_to_the_largest_key_and_recency_preferences(tmp_path: Path, engine_name: str) -> None:
    rows = "10,Ann,Lee,ann@x.com,,,2024-01-01\n9,Ann,Lee,ann@x.com,,,2025-06-01\n11,Ann,Lee,ann@x.com,,,"
    p = make_project(tmp_path / "filled", {"a": rows}, unify_extra=dedupe_yaml("a"), engine=engine_name)
    p.run()
    assert winners(p) == {"10": False, "9": True, "11": False}  # equally filled: '9' is the largest key as text
    p = make_project(
        tmp_path / "recent", {"a": rows}, unify_extra=dedupe_yaml("a", "most_recent", "updated"), engine=engine_name
    )
    p.run()
    assert winners(p)["9"] is True
    p = make_project(
        tmp_path / "least", {"a": rows}, unify_extra=dedupe_yaml("a", "least_recent", "updated"), engine=engine_name
    )
    p.run()
    assert winners(p)["10"] is True  # records without a date never win on recency


def test_alternates_still_match_other_tables(tmp_path: Path, engine_name: str) -> None:
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,ann@x.com,,\n2,Ann,Lee,ANN@x.com,617-555-0100,",
            "b": "7,Annie,Lee,,6175550100,",
        },
        EMAIL + "      - name: phone\n        conditions:\n          - {field: Phone, normalize: [phone]}\n",
        order=["a", "b"],
        unify_extra=dedupe_yaml("a"),
        engine=engine_name,
    )
    p.run()
    assert groups(p) == {frozenset({"a:1", "a:2", "b:7"})}


def test_exceptions_veto_a_match(tmp_path: Path, engine_name: str) -> None:
    rule = (
        "      - name: household\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"
        "        exceptions:\n          - [{field: FirstName, negate: true, normalize: [lowercase]}]\n"
    )
    p = make_project(
        tmp_path,
        {"a": "1,Ann,Lee,fam@x.com,,\n2,Ann,Lee,other@x.com,,", "b": "1,Ann,Lee,FAM@x.com,,\n2,Bob,Lee,fam@x.com,,"},
        rule,
        engine=engine_name,
    )
    p.run()
    # Same family email: Ann matches Ann; Bob is vetoed because the first names differ.
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"a:2"}), frozenset({"b:2"})}


def test_always_and_never_match_lists(tmp_path: Path, engine_name: str) -> None:
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "always.csv").write_text("Table1,Table1Key,Table2,Table2Key\ns.a,3,s.b,9\ns.a,404,s.b,9\n")
    (tmp_path / "custom" / "never.csv").write_text("Table1,Table1Key,Table2,Table2Key\ns.a,1,s.a,2\n")
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,fam@x.com,,\n2,Bob,Lee,x@x.com,,\n3,Cy,Ro,,,",
            "b": "1,Ann,Lee,fam@x.com,,\n5,Bob,Lee,x@x.com,,\n6,Z,Z,fam@x.com,,\n9,Cyrus,Rowe,,,",
        },
        EMAIL + "      - name: phone\n        conditions:\n          - {field: LastName, normalize: [lowercase]}\n",
        match_extra="    always_match: custom/always.csv\n    never_match: custom/never.csv\n",
        engine=engine_name,
    )
    report = p.run()
    result = groups(p)
    assert frozenset({"a:3", "b:9"}) in result
    # a:1 and a:2 were joined through b records (email, then last name): never_match splits them apart.
    assert not any({"a:1", "a:2"} <= g for g in result)
    match = report.stage("match")
    assert match is not None and any("always_match: 1 listed pairs" in w for w in match.warnings)
    cluster = report.stage("cluster")
    assert cluster is not None and cluster.details["never_match_conflicts"] >= 1


def test_bad_pair_list_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "never.csv").write_text("a,b\n1,2\n")
    p = make_project(
        tmp_path, {"a": "1,A,B,a@x.com,,", "b": "1,A,B,a@x.com,,"}, EMAIL, match_extra="    never_match: never.csv\n"
    )
    with pytest.raises(ConfigError, match="must start with the header Table1,Table1Key,Table2,Table2Key"):
        p.run()


def test_oversize_profiles_are_split_at_weak_links(tmp_path: Path, engine_name: str) -> None:
    # Two chains of 3: a strong email pair plus a weaker phone link each; the size limit of 2 cuts the phone links.
    rows = "1,A,A,e1@x.com,100,\n2,A,A,e1@x.com,101,\n3,B,B,,101,\n4,B,B,,102,\n5,C,C,e5@x.com,102,\n6,C,C,e5@x.com,,"
    rules = EMAIL + "      - name: phone\n        conditions:\n          - {field: Phone}\n"
    p = make_project(
        tmp_path, {"a": rows}, unify_extra=dedupe_yaml("a", rules=rules) + "  max_cluster_size: 2\n", engine=engine_name
    )
    report = p.run()
    assert groups(p) == {frozenset({"a:1", "a:2"}), frozenset({"a:3"}), frozenset({"a:4"}), frozenset({"a:5", "a:6"})}
    cluster = report.stage("cluster")
    assert cluster is not None and cluster.details["oversize_profiles"] == 2
