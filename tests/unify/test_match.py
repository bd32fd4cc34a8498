"""Match semantics of Customer Insights: table order, rule order, exact and fuzzy conditions (on every engine)."""

from __future__ import annotations

from pathlib import Path

from custdim.project import Project
from tests.unify.projects import entity_rows, groups, make_project

EMAIL_RULE = """\
      - name: email
        conditions:
          - {field: Email, normalize: [lowercase, whitespace]}
"""
NAME_ZIP_RULE = """\
      - name: name-zip
        conditions:
          - {field: LastName, normalize: [lowercase]}
          - {field: FirstName, precision: high, normalize: [lowercase]}
          - {field: PostalCode}
"""


def test_a_table_matches_only_tables_ranked_above(tmp_path: Path, engine_name: str) -> None:
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,ann@x.com,,01000\n2,Ann,Lee,ANN@x.com ,,01000",
            "b": "1,Ann,Lee,ann@x.com,,01000",
        },
        EMAIL_RULE,
        order=["a", "b"],
        engine=engine_name,
    )
    p.run()
    # Both a-records match b:1, so all three end up in one profile through b; a:1 and a:2 never pair directly.
    assert groups(p) == {frozenset({"a:1", "a:2", "b:1"})}
    pairs = {
        (r["LeftTableName"], r["LeftSourceKey"], r["RightTableName"], r["RightSourceKey"])
        for r in entity_rows(p, "MatchPairs")
    }
    assert pairs == {("b", "1", "a", "1"), ("b", "1", "a", "2")}


def test_no_dedupe_within_the_first_table(tmp_path: Path, engine_name: str) -> None:
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,ann@x.com,,01000\n2,Ann,Lee,ann@x.com,,01000",
            "b": "7,Bob,Ray,bob@x.com,,02000",
        },
        EMAIL_RULE,
        engine=engine_name,
    )
    p.run()
    assert groups(p) == {frozenset({"a:1"}), frozenset({"a:2"}), frozenset({"b:7"})}


def _two_rules(tmp_path: Path, engine: str, match_extra: str = "") -> Project:
    """b:1 shares a:1's email; a:2 shares only name and postcode with both; b:2 (Anne) has no email."""
    return make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,ann@x.com,,01000\n2,Ann,Lee,other@x.com,,01000",
            "b": "1,Ann,Lee,ann@x.com,,01000\n2,Anne,Lee,,,01000",
        },
        EMAIL_RULE + NAME_ZIP_RULE,
        order=["a", "b"],
        match_extra=match_extra,
        engine=engine,
    )


def test_later_rules_only_see_records_no_earlier_rule_matched(tmp_path: Path, engine_name: str) -> None:
    p = _two_rules(tmp_path, engine_name)
    p.run()
    rows = entity_rows(p, "MatchPairs")
    by_rule = {(r["RuleName"], r["LeftSourceKey"], r["RightSourceKey"]) for r in rows}
    # b:1 matched by email, so name-zip is not tried for it (it would have joined a:2 as well).
    assert ("email", "1", "1") in by_rule
    assert not any(rule == "name-zip" and left == "1" for rule, left, _ in by_rule)
    # b:2 has no email, and Anne~Ann scores 75, below high (80): it stays on its own.
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"a:2"}), frozenset({"b:2"})}


def test_fuzzy_condition_uses_the_longer_string(tmp_path: Path, engine_name: str) -> None:
    rule = NAME_ZIP_RULE.replace("precision: high", "precision: 75")
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,,,01000\n2,Jonathan,Lee,,,01000",
            "b": "1,Anne,Lee,,,01000\n2,Jon,Lee,,,01000",
        },
        rule,
        engine=engine_name,
    )
    p.run()
    # ann/anne: 1 - 1/4 = 75% -> match; jon/jonathan: 1 - 5/8 = 37.5% -> no match.
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"a:2"}), frozenset({"b:2"})}
    pair = entity_rows(p, "MatchPairs")[0]
    assert pair["Score"] == 75.0
    assert pair["ConditionScores"] == '{"LastName": 100.0, "FirstName": 75.0, "PostalCode": 100.0}'


def test_missing_values_never_match(tmp_path: Path, engine_name: str) -> None:
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,,,01000\n2,Bo,Ek,  ,,",
            "b": "1,Cy,Ro,,,\n2,Di,Ny, ,,",
        },
        EMAIL_RULE,
        engine=engine_name,
    )
    p.run()
    assert len(groups(p)) == 4
    assert entity_rows(p, "MatchPairs") == []


def test_transitive_profiles_across_three_tables(tmp_path: Path, engine_name: str) -> None:
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,ann@x.com,,01000",
            "b": "1,Ann,Lee,ann@x.com,6175551234,01000",
            "c": "1,Ann,Lee,,617-555-1234,",
        },
        EMAIL_RULE + "      - name: phone\n        conditions:\n          - {field: Phone, normalize: [phone]}\n",
        order=["a", "b", "c"],
        engine=engine_name,
    )
    report = p.run()
    assert groups(p) == {frozenset({"a:1", "b:1", "c:1"})}
    match = report.stage("match")
    assert match is not None
    rules = match.details["rules"]
    assert {k: (v["pairs"], v["records"]) for k, v in rules.items()} == {"match:email": (1, 1), "match:phone": (1, 1)}


def test_all_rules_mode_keeps_every_rules_pairs(tmp_path: Path, engine_name: str) -> None:
    # The data of the ordered-rules test above: there name-zip never sees b:1, which email matched first.
    p = _two_rules(tmp_path, engine_name, match_extra="    mode: all_rules\n")
    report = p.run()
    by_rule = {(r["RuleName"], r["LeftSourceKey"], r["RightSourceKey"]) for r in entity_rows(p, "MatchPairs")}
    assert by_rule == {("email", "1", "1"), ("name-zip", "1", "1"), ("name-zip", "1", "2")}
    assert groups(p) == {frozenset({"a:1", "a:2", "b:1"}), frozenset({"b:2"})}
    match = report.stage("match")
    assert match is not None and match.details["match_mode"] == "all_rules"
    assert match.details["matched_records_by_table_and_rule"] == {"s.b <- email": 1, "s.b <- name-zip": 1}
